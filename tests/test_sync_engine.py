"""The background sync thread: quick upload after notify(), backoff offline, clock offset."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from syncsupport import Central, enrolled_kiosk

from kiosk.config import load_config, save_config
from kiosk.engine.service import KioskService
from kiosk.paths import KioskPaths
from kiosk.syncer import SyncEngine
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
        engine.start()
        try:
            time.sleep(0.3)  # first cycle done, now sleeping
            for t in tokens:
                t0 = time.monotonic()
                assert svc.redeem(t, fmt="2D").accepted
                assert time.monotonic() - t0 < 0.5  # the scan path does not wait on sync
                engine.notify()
            deadline = time.monotonic() + 5
            while count(central) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert count(central) == 3
            st = engine.status()
            deadline = time.monotonic() + 5
            while st["pending"] and time.monotonic() < deadline:
                time.sleep(0.05)
                st = engine.status()
            assert st["online"] and st["pending"] == 0 and st["last_sync"]
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
    engine.start()
    try:
        time.sleep(1.0)
        st = engine.status()
        # 0.05 s doubling with jitter: a handful of attempts in a second, not twenty
        assert st["online"] is False and 2 <= st["failures"] <= 8
        assert "cannot reach" in st["last_error"]
    finally:
        engine.stop()
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
