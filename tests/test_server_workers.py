"""``cinepass-server --workers 4`` on PostgreSQL: four real processes behind one port.

Kiosks upload the same vouchers through the one port at once (the kernel
spreads the connections over the workers): each voucher ends with exactly
one valid use and the feed cursor stays dense. A worker killed with SIGKILL
is replaced while the others keep answering; SIGTERM stops them all.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest
import requests
from rawdevice import RawDevice
from serverproc import ServerProcess
from sqlalchemy import select
from syncsupport import Central, fresh_pg_database, setup_central
from waitfor import wait_for

from sync.server.db import migrate
from sync.server.models import FeedEvent, Redemption, now_ms
from sync.voucher import PrivateKey

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]


def test_four_workers_one_postgres(tmp_path: Path, issuer_key: PrivateKey) -> None:
    url = fresh_pg_database()
    engine = migrate(url)
    setup_central(engine, issuer_key, tmp_path / "keys")
    server = ServerProcess(url, "--workers", "4", log=tmp_path / "server.log").start(workers=4)
    try:
        central = Central(engine, None, issuer_key, server.url, tmp_path / "keys", url)
        tokens = central.issue(30)
        devices = [RawDevice(central, c) for c in ("CIN-A", "CIN-B", "CIN-A", "CIN-B")]
        at = now_ms()
        batches = [[d.record(t, at=at) for t in tokens] for d in devices]
        answers: list[dict[str, dict[str, object]]] = []
        errors: list[BaseException] = []

        def upload(d: RawDevice, recs: list[dict[str, object]]) -> None:
            try:
                for i in range(0, len(recs), 5):  # a new connection each: any worker answers
                    answers.append(d.upload(recs[i : i + 5]))
            except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
                errors.append(exc)

        threads = [
            threading.Thread(target=upload, args=(d, b))
            for d, b in zip(devices, batches, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        statuses = Counter(r["status"] for a in answers for r in a.values())
        assert statuses == {"valid": 30, "duplicate": 90}, statuses
        with central.session() as s:
            rows = s.scalars(select(Redemption)).all()
            seqs = s.scalars(select(FeedEvent.seq).order_by(FeedEvent.seq)).all()
        valid = Counter(r.voucher for r in rows if r.status == "valid")
        assert len(rows) == 120 and len(valid) == 30 and set(valid.values()) == {1}
        assert seqs == list(range(1, len(seqs) + 1))  # dense across four processes

        # the figures of all four processes add up, whichever answers the scrape
        text = requests.get(server.url + "/metrics", timeout=10).text
        ingested = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("cinepass_ingest_records_total{")
        )
        assert ingested == 120

        # kill one worker: the others keep answering, the supervisor starts a fourth again
        before = server.workers()
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        for _ in range(40):
            assert requests.get(server.url + "/api/v1/ready", timeout=10).status_code == 200
        wait_for(lambda: len(server.workers()) == 4 and victim not in server.workers(), timeout=60)
        assert devices[0].upload([devices[0].record(tokens[0])])  # still served after it
        workers_now = server.workers()
    finally:
        rc = server.stop()
        engine.dispose()
    assert rc == 0  # SIGTERM: every worker stopped, then the supervisor
    assert not any(Path(f"/proc/{p}").exists() for p in workers_now)
