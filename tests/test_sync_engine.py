"""The background sync thread: quick upload after notify(), backoff offline, clock offset."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from syncsupport import Central, enrolled_kiosk
from waitfor import wait_for

from kiosk.config import load_config, save_config
from kiosk.engine.service import KioskService
from kiosk.paths import KioskPaths
from kiosk.syncer import SyncEngine, SyncStatus
from sync.server.embedded import free_port
from sync.server.models import Redemption

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]


def count(central: Central) -> int:
    with central.session() as s:
        return int(s.scalar(select(func.count()).select_from(Redemption)) or 0)


def test_notify_uploads_within_seconds_and_scans_never_wait(
    central: Central, tmp_path: Path
) -> None:
    tokens = central.issue(3)
    home = enrolled_kiosk(central, tmp_path / "k")
    with KioskService.open(home) as svc:
        engine = SyncEngine(svc, interval=60.0)  # the timer alone would take a minute
        cycles: list[SyncStatus] = []
        engine.add_listener(cycles.append)
        engine.start()
        try:
            wait_for(lambda: cycles)  # first cycle done, now sleeping
            first = len(cycles)
            for t in tokens:
                t0 = time.monotonic()
                assert svc.redeem(t, fmt="2D").accepted
                assert time.monotonic() - t0 < 0.5  # the scan path does not wait on sync
                engine.notify()
            wait_for(lambda: count(central) >= 3)
            assert count(central) == 3
            # the listener is told, without polling, once the upload is acknowledged
            st = wait_for(lambda: next((c for c in cycles[first:] if c["pending"] == 0), None))
            assert st is not None and st["online"] and st["pending"] == 0 and st["last_sync"]
            assert engine.status()["pending"] == 0
        finally:
            engine.stop()


def test_offline_backs_off_and_recovers(central: Central, tmp_path: Path) -> None:
    home = enrolled_kiosk(central, tmp_path / "k")
    paths = KioskPaths(home)
    cfg = load_config(paths.config)
    good = cfg.server_url
    cfg.server_url = f"http://127.0.0.1:{free_port()}"  # nobody listens here
    save_config(paths.config, cfg)
    engine = SyncEngine(home, interval=0.05)
    told: list[tuple[float, SyncStatus]] = []
    engine.add_listener(lambda st: told.append((time.monotonic(), st)))
    engine.start()
    try:
        wait_for(lambda: len(told) >= 4, timeout=10)
    finally:
        engine.stop()
    st = told[-1][1]
    assert st["online"] is False and st["failures"] == len(told)
    assert st["last_error"] is not None and "cannot reach" in st["last_error"]
    # 0.05 s doubling with jitter (x0.5-1.5): after failure k the wait is at least
    # 0.025 * 2**k s, so a second holds a handful of attempts, never twenty
    for k in range(1, len(told)):
        assert told[k][0] - told[k - 1][0] >= 0.025 * 2**k * 0.95
    cfg.server_url = good
    save_config(paths.config, cfg)
    e2 = SyncEngine(home)
    try:
        assert e2.sync_now().ok and e2.status()["online"] is True
    finally:
        e2.stop()


def test_clock_offset_is_estimated(central: Central, tmp_path: Path) -> None:
    home = enrolled_kiosk(central, tmp_path / "k")
    ahead_ms = 3_600_000

    class Skewed(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(
                {
                    "device_id": "d",
                    "cinema": "CIN-A",
                    "status": "active",
                    "time_ms": int(time.time() * 1000) + ahead_ms,
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Skewed)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    paths = KioskPaths(home)
    cfg = load_config(paths.config)
    cfg.server_url = f"http://127.0.0.1:{srv.server_address[1]}"
    save_config(paths.config, cfg)
    engine = SyncEngine(home)
    try:
        r = engine.sync_now()
    finally:
        engine.stop()
        srv.shutdown()
    assert r.clock_offset_ms is not None and abs(r.clock_offset_ms - ahead_ms) < 1000
    with KioskService.open(home) as svc:
        assert abs(int(svc.store.get_meta("clock_offset_ms") or 0) - ahead_ms) < 1000


def test_listeners_are_told_after_every_cycle(central: Central, tmp_path: Path) -> None:
    [token] = central.issue(1)
    home = enrolled_kiosk(central, tmp_path / "k")
    engine = SyncEngine(home)
    told: list[SyncStatus] = []

    def broken(_st: SyncStatus) -> None:
        raise RuntimeError("a listener's bug")

    engine.add_listener(broken)  # logged with its traceback; the others are still told
    engine.add_listener(told.append)
    try:
        assert engine.sync_now().ok
        assert told == [engine.status()] and told[0]["online"] is True
        assert engine.service.redeem(token, fmt="2D").accepted
        assert engine.sync_now().uploaded == 1
        assert len(told) == 2 and told[1]["pending"] == 0 and told[1]["failures"] == 0
    finally:
        engine.stop()
    # a failed cycle is told too, with what went wrong
    paths = KioskPaths(home)
    cfg = load_config(paths.config)
    cfg.server_url = f"http://127.0.0.1:{free_port()}"  # nobody listens here
    save_config(paths.config, cfg)
    offline = SyncEngine(home)
    offline.add_listener(told.append)
    try:
        assert not offline.sync_now().ok
    finally:
        offline.stop()
    assert told[2]["online"] is False and told[2]["failures"] == 1
    assert told[2]["last_error"] is not None and "cannot reach" in told[2]["last_error"]


def test_a_cycle_writes_its_sync_state_in_one_commit(central: Central, tmp_path: Path) -> None:
    home = enrolled_kiosk(central, tmp_path / "k")
    engine = SyncEngine(home)
    try:
        assert engine.sync_now().ok  # the first cycle pulls snapshots; the next is quiet
        commits: list[set[str]] = []
        written: set[str] = set()

        def on_execute(_conn: Any, _cur: Any, statement: str, *_a: Any) -> None:
            m = re.match(r"(?:INSERT(?: OR \w+)? INTO|UPDATE|DELETE FROM)\s+(\w+)", statement)
            if m:
                written.add(m.group(1))

        def on_commit(_conn: Any) -> None:
            commits.append(set(written))
            written.clear()

        event.listen(engine.store.engine, "before_cursor_execute", on_execute)
        event.listen(engine.store.engine, "commit", on_commit)
        assert engine.sync_now().ok
        # feeds move their cursors with their rows; meta (offset, online, last sync...) once
        assert sum("meta" in c for c in commits) == 1, commits
        assert commits[-1] == {"meta"}
        assert engine.store.get_meta("online") == "1" and engine.store.meta_int("last_sync")
    finally:
        engine.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_crashed_tells_the_watchdog_the_thread_died(central: Central, tmp_path: Path) -> None:
    engine = SyncEngine(enrolled_kiosk(central, tmp_path / "k"), interval=60.0)
    assert not engine.crashed  # never started: nothing to restart

    def fatal(_st: SyncStatus) -> None:
        raise SystemExit  # what a fatal error in the loop amounts to: the thread ends

    engine.add_listener(fatal)
    engine.start()
    try:
        wait_for(lambda: engine.crashed)
    finally:
        engine.stop()
    assert not engine.crashed  # stopped on purpose
