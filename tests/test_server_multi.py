"""Several server processes on one database stay correct: no state lives in memory.

Two servers (separate engines and connection pools, as two processes behind a
load balancer would have) share one database; kiosks upload the same vouchers
through different servers at the same time. Each voucher must end with
exactly one valid redemption, every record stored once, and the feed cursor
dense.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from syncsupport import Central, ThreadServer, enrolled_kiosk

from kiosk.engine.clock import Clock, system_ms
from kiosk.engine.service import KioskService
from kiosk.syncer import SyncEngine
from sync.server.db import make_engine
from sync.server.models import FeedEvent, Redemption

pytestmark = pytest.mark.timeout(180)


def test_two_servers_one_database_concurrent_uploads(central: Central, tmp_path: Path) -> None:
    second_engine = make_engine(central.url_db)
    second = ThreadServer(second_engine).start()
    try:
        tokens = central.issue(40)
        homes = [
            enrolled_kiosk(central, tmp_path / "a", "CIN-A"),
            enrolled_kiosk(central, tmp_path / "b", "CIN-B", url=second.url),
            enrolled_kiosk(central, tmp_path / "c", "CIN-A", url=second.url),
        ]
        # all offline: each kiosk redeems every voucher, all at the same instant (issue 10:
        # an earlier claim arriving later would be disputed, which is not what this tests)
        now = system_ms()
        for home in homes:
            with KioskService.open(home, clock=Clock.fixed(now)) as svc:
                for t in tokens:
                    assert svc.redeem(t, fmt="2D").accepted
        results = []

        def run(home: Path) -> None:
            e = SyncEngine(home, batch_size=5)
            try:
                results.append(e.sync_now())
            finally:
                e.stop()

        threads = [threading.Thread(target=run, args=(h,)) for h in homes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.ok for r in results), [r.to_json() for r in results]
        # first to arrive is valid and stays valid (issue 10): the answers at upload time
        # already say every duplicate
        assert sum(r.duplicates for r in results) == 80
        with central.session() as s:
            rows = s.scalars(select(Redemption)).all()
            seqs = s.scalars(select(FeedEvent.seq).order_by(FeedEvent.seq)).all()
        assert len(rows) == 120 and len({r.uuid for r in rows}) == 120
        valid = Counter(r.voucher for r in rows if r.status == "valid")
        assert len(valid) == 40 and set(valid.values()) == {1}
        by_uuid = {r.uuid: r for r in rows}
        for r in rows:
            if r.status == "duplicate":
                assert r.duplicate_of is not None
                assert by_uuid[r.duplicate_of].status == "valid"
                assert by_uuid[r.duplicate_of].voucher == r.voucher
        assert seqs == list(range(1, len(seqs) + 1))  # dense cursor across both servers
        # after one more round every kiosk knows the final word: each voucher's two
        # later arrivals are conflicts at their kiosks, and no kiosk lost a valid line
        results.clear()
        for h in homes:
            run(h)
        conflicts = []
        for h in homes:
            with KioskService.open(h) as svc:
                conflicts.append(svc.status()["conflicts"])
        assert sum(conflicts) == 80
        losers = Counter(r.device for r in rows if r.status == "duplicate")
        with KioskService.open(homes[0]) as svc:
            assert svc.status()["conflicts"] == losers.get(svc.device_id, 0)
    finally:
        second.stop()
        second_engine.dispose()


@pytest.mark.slow
def test_servers_starting_together_migrate_once(db_url: str) -> None:
    """Several server processes run migrate() as they start; none may trip over another."""
    import subprocess
    import sys

    from sync.server.db import make_engine, schema_matches, session_scope
    from sync.server.feeds import head

    code = "import sys; from sync.server.db import migrate; migrate(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    errs = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errs
    engine = make_engine(db_url)
    assert schema_matches(engine)
    with session_scope(engine) as s:
        assert head(s) == 0
    engine.dispose()
