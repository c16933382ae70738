"""Issue 14: exactly one use under races, decided by the database.

20 partners' holds on one voucher at once give one ``held`` and 19
``held_by_other`` (SQLite here, PostgreSQL with the ``postgres`` mark); the
20 confirms of that one hold give one ledger line.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from syncsupport import Central
from test_online_api import add_partner, short
from waitfor import wait_for

from sync.partner_client import PREFIX, PartnerApiError, PartnerClient
from sync.server.embedded import free_port
from sync.server.models import OnlineHold, Redemption

pytestmark = pytest.mark.timeout(180)


def together(n: int, work: Any) -> list[str]:
    """Run ``work(i)`` in ``n`` threads released at once; each result or error code."""
    gate = threading.Barrier(n)
    out: list[str] = [""] * n

    def run(i: int) -> None:
        gate.wait()
        try:
            out[i] = str(work(i)["status"])
        except PartnerApiError as exc:
            out[i] = exc.error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_twenty_concurrent_holds_on_one_voucher_give_exactly_one(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    code = short(central.issue(1)[0])
    partners: list[PartnerClient] = [add_partner(central, capsys, name=f"P{i}") for i in range(4)]
    results = together(
        20, lambda i: partners[i % 4].hold(code, "CIN-A", "2D", f"order-{i}", key=f"k-{i}")
    )
    assert Counter(results) == {"held": 1, "held_by_other": 19}
    with central.session() as s:
        holds = s.scalars(select(OnlineHold)).all()
        assert len(holds) == 1 and holds[0].active is not None
        winner = next(p for p in partners if p.partner_id == holds[0].partner)
        hold_id = holds[0].id
    path = f"{PREFIX}/holds/{hold_id}/confirm"  # 20 bodies: 20 signatures in one second
    confirms = together(20, lambda i: winner.request("POST", path, {"attempt": i}))
    assert confirms == ["confirmed"] * 20
    with central.session() as s:
        n = s.execute(select(func.count()).select_from(Redemption)).scalar_one()
        assert n == 1


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_twenty_holds_over_four_server_processes_on_postgresql_give_exactly_one(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four real ``cinepass-server`` processes on one PostgreSQL: the database decides."""
    code = short(central.issue(1)[0])
    creds = [add_partner(central, capsys, name=f"P{i}") for i in range(4)]
    ports = [free_port() for _ in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "sync.server.main", "--db", central.url_db, "--port", str(p)],
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:

        def up(port: int) -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                    return True
            except OSError:
                return False

        for port in ports:
            wait_for(lambda port=port: up(port), timeout=60, step=0.2)  # type: ignore[misc]
        clients = [
            PartnerClient(f"http://127.0.0.1:{ports[i]}", c.partner_id, c.secret)
            for i, c in enumerate(creds)
        ]
        results = together(
            20, lambda i: clients[i % 4].hold(code, "CIN-A", "2D", f"o-{i}", key=f"k-{i}")
        )
        assert Counter(results) == {"held": 1, "held_by_other": 19}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)


def test_counters_uploading_while_partners_hold_and_confirm_leave_one_paid_line(
    central: Central, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Three offline counters admitted the voucher; they upload while partners race for it."""
    from syncsupport import enrolled_kiosk

    from kiosk.engine.service import KioskService
    from kiosk.syncer import SyncEngine

    token = central.issue(1)[0]
    homes = [enrolled_kiosk(central, tmp_path / f"k{i}") for i in range(3)]
    for home in homes:
        with KioskService.open(home) as svc:
            assert svc.redeem(token, fmt="2D").accepted
    partners = [add_partner(central, capsys, name=f"P{i}") for i in range(3)]

    def attempt(i: int) -> dict[str, Any]:
        if i < 3:
            engine = SyncEngine(homes[i])
            try:
                return {"status": "synced" if engine.sync_now().ok else "sync_failed"}
            finally:
                engine.stop()
        p = partners[i % 3]
        h = p.hold(short(token), "CIN-A", "2D", f"o-{i}", key=f"k-{i}")
        return p.confirm(h["hold_id"])

    results = together(9, attempt)
    assert results.count("synced") == 3
    with central.session() as s:
        lines = s.scalars(select(Redemption).where(Redemption.kind == "redeem")).all()
    assert sum(r.status == "valid" for r in lines) == 1  # one paid line, whoever won
    assert len(lines) == 3 + results.count("confirmed")
    assert results.count("confirmed") <= 1


def test_concurrent_retries_with_one_idempotency_key_get_one_answer(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key is claimed before the feed-head lock: its retries wait on the key's row.

    Ten sends of one hold (the same body and key, each signed at its own second, so ten
    signatures) at once: one hold, ten times its answer; the same for its confirm.
    """
    import json
    import time

    from test_online_api import raw

    code = short(central.issue(1)[0])
    p = add_partner(central, capsys)
    now = int(time.time())

    def send(path: str, data: bytes, key: str) -> Any:
        def one(i: int) -> dict[str, Any]:
            headers = {
                **p.headers("POST", path, data, timestamp=str(now - i)),
                "Idempotency-Key": key,
            }
            status, answer = raw(p, path, data, headers)
            return {"status": json.dumps(answer, sort_keys=True) if status == 200 else answer}

        return together(10, one)

    body = json.dumps({"code": code, "cinema": "CIN-A", "format": "2D", "order_ref": "o"}).encode()
    held = send(f"{PREFIX}/holds", body, "same-hold")
    assert len(set(held)) == 1 and json.loads(held[0])["status"] == "held"
    hold_id = json.loads(held[0])["hold_id"]
    done = send(f"{PREFIX}/holds/{hold_id}/confirm", b"", "same-confirm")
    assert len(set(done)) == 1 and json.loads(done[0])["status"] == "confirmed"
    with central.session() as s:
        assert len(s.scalars(select(OnlineHold)).all()) == 1
        assert s.execute(select(func.count()).select_from(Redemption)).scalar_one() == 1
