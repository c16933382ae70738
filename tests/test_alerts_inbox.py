"""The alert inbox: an upload leaves one row, exactly one process evaluates it.

Two workers on one SQLite file, each with its own engine (two server processes),
real rows; no thread is started: the test calls what the threads call.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select
from waitfor import wait_for

from sync.office.alerts_batch import load_batch
from sync.office.alerts_config import load_rules
from sync.office.alerts_models import Alert, AlertInbox
from sync.server.alerts_worker import AlertSettings, AlertsWorker, InboxTaken, after_upload
from sync.server.db import make_engine, migrate, session_scope
from sync.server.models import Redemption, now_ms


def use(device: str, cti: str, status: str, flags: list[str]) -> Redemption:
    t = now_ms()
    return Redemption(
        uuid=str(uuid.uuid4()), v=1, device=device, seq=1, kind="redeem", voucher=cti,
        token="CP1:x", cinema="CIN-A", format="2D", staff="", at=t, voids="", prev="0" * 64,
        hash="0" * 64, sig="0" * 128, status=status, flags=flags, received_at=t,
    )  # fmt: skip


def two_uses(
    engine: object, status: str = "review", flags: tuple[str, ...] = ("disputed",)
) -> None:
    """Two counters' lines of one voucher, held as a dispute (issue 10), and their upload's row."""
    rows = [use(d, "ab" * 10, status, list(flags)) for d in ("dev-1", "dev-2")]
    with session_scope(engine) as s:  # type: ignore[arg-type]
        s.add_all(rows)
        for r in rows:
            after_upload(s, records=[r.uuid], device=r.device)


def all_day(tmp_path: Path) -> AlertSettings:
    """The default rules, but the cinemas open all day: the lines here are "now", and
    between 02:00 and 09:00 in Asia/Shanghai the default hours made them off_hours too."""
    path = tmp_path / "alert-rules.toml"
    path.write_text('[opening_hours]\nopens = "00:00"\ncloses = "00:00"\n', "utf-8")
    return AlertSettings(rules=load_rules(path))


def counts(engine: object) -> tuple[int, int]:
    with session_scope(engine) as s:  # type: ignore[arg-type]
        inbox = s.scalar(select(func.count()).select_from(AlertInbox))
        alerts = s.scalar(select(func.count()).select_from(Alert))
    return int(inbox or 0), int(alerts or 0)


def test_two_processes_evaluate_each_upload_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    migrate(url).dispose()
    a = AlertsWorker(make_engine(url), all_day(tmp_path))
    b = AlertsWorker(make_engine(url), all_day(tmp_path))
    two_uses(a.engine)
    assert counts(a.engine) == (2, 0)
    found: list[list[Alert]] = []
    threads = [threading.Thread(target=lambda w=w: found.append(w.drain())) for w in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert counts(a.engine) == (0, 1)  # the inbox is consumed, one alert
    assert sorted(len(x) for x in found) == [0, 1]  # raised by one process only
    with session_scope(a.engine) as s:
        [alert] = s.scalars(select(Alert)).all()
        assert alert.rule == "duplicate_use" and alert.detail["disputed"] is True
        assert len(alert.evidence) == 2


def test_rows_another_process_took_roll_our_alerts_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    engine = migrate(url)
    w = AlertsWorker(engine, all_day(tmp_path))
    two_uses(engine, status="duplicate", flags=())
    with session_scope(engine) as s:
        rows = s.execute(select(AlertInbox.id, AlertInbox.device, AlertInbox.records)).all()
        batch = load_batch(s, [(d, u) for _i, d, us in rows for u in us], [], now_ms())
        findings = w.findings(s, batch)
    assert [f.rule for f in findings] == ["duplicate_use"]
    with session_scope(engine) as s:  # meanwhile another process evaluated and deleted them
        s.query(AlertInbox).delete()
    try:
        w.store(findings, taken=[r[0] for r in rows])
        raise AssertionError("InboxTaken expected")
    except InboxTaken:
        pass
    assert counts(engine) == (0, 0)  # our findings were not stored twice


def test_a_steady_stream_of_uploads_is_evaluated_once_per_gather(tmp_path: Path) -> None:
    """The online API's confirms are one-record uploads, 70 a second: the worker evaluates
    what gathered, then waits for the next ``gather_s`` instead of going straight on with
    the few records that committed during its evaluation (one evaluation each, before)."""
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    engine = migrate(url)
    settings = dataclasses.replace(all_day(tmp_path), gather_s=0.25, poll_s=0.25)
    w = AlertsWorker(engine, settings)
    w.start()
    try:
        t0 = time.monotonic()
        sent = 0
        while time.monotonic() - t0 < 2.5:
            with session_scope(engine) as s:
                r = use(f"dev-{sent % 3}", f"{sent:020x}", "valid", [])
                s.add(r)
                after_upload(s, records=[r.uuid], device=r.device)
            w.wake()
            sent += 1
            time.sleep(0.005)
        wait_for(w.idle, timeout=20)
        elapsed = time.monotonic() - t0
    finally:
        w.stop()
    assert sent > 100
    # one evaluation per gather (and per poll while idle), with room for a slow machine
    assert w.evaluations <= elapsed / 0.25 + 4, (w.evaluations, sent, elapsed)
