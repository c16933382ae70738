"""A bad network and a bad server: every redemption still arrives exactly once.

The kiosk talks to the real server through :mod:`faultproxy` (delays, cut
requests, cut answers, resets), to a server process that is SIGKILLed in the
middle of an upload, and to a server that answers garbage. In every case a
failed attempt keeps every record pending, and the eventual result on the
server is each record exactly once.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from faultproxy import FaultProxy, Faults
from sqlalchemy import func, select
from syncsupport import ROOT, Central, enrolled_kiosk
from waitfor import wait_for

from kiosk.config import load_config, save_config
from kiosk.engine.service import KioskService
from kiosk.paths import KioskPaths
from kiosk.syncer import SyncEngine
from sync.server.embedded import free_port
from sync.server.models import Redemption

pytestmark = pytest.mark.timeout(240)


def point_at(home: Path, url: str) -> None:
    paths = KioskPaths(home)
    cfg = load_config(paths.config)
    cfg.server_url = url
    save_config(paths.config, cfg)


def redeem_all(home: Path, tokens: list[str]) -> list[str]:
    with KioskService.open(home) as svc:
        out = []
        for t in tokens:
            v = svc.redeem(t, fmt="2D")
            assert v.accepted and v.record_uuid
            out.append(v.record_uuid)
        return out


def server_uuids(central: Central) -> list[str]:
    with central.session() as s:
        return list(s.scalars(select(Redemption.uuid)))


def pending(home: Path) -> int:
    with KioskService.open(home) as svc:
        return int(svc.status()["pending"])


def test_fault_proxy_every_redemption_arrives_exactly_once(
    central: Central, tmp_path: Path
) -> None:
    tokens = central.issue(60)
    home = enrolled_kiosk(central, tmp_path / "k")
    uuids = redeem_all(home, tokens)
    assert central.server is not None
    proxy = FaultProxy(
        central.server.port, Faults(delay=0.002, drop_request=0.08, drop_response=0.15), seed=7
    ).start()
    point_at(home, proxy.url)
    engine = SyncEngine(home, batch_size=7, timeout=(2.0, 5.0))
    try:
        failures = 0
        for _ in range(200):
            r = engine.sync_now()
            if r.ok and r.pending == 0:
                break
            failures += not r.ok
        else:
            pytest.fail("never finished syncing through the proxy")
    finally:
        engine.stop()
        proxy.stop()
    assert failures > 0 and proxy.cuts > 0  # the faults really happened
    got = server_uuids(central)
    assert sorted(got) == sorted(uuids)  # all of them, each exactly once
    with central.session() as s:
        statuses = set(s.scalars(select(Redemption.status)))
    assert statuses == {"valid"}
    assert pending(home) == 0


def test_delayed_network_times_out_and_keeps_records(central: Central, tmp_path: Path) -> None:
    tokens = central.issue(3)
    home = enrolled_kiosk(central, tmp_path / "k")
    redeem_all(home, tokens)
    assert central.server is not None
    proxy = FaultProxy(central.server.port, Faults(delay=1.5)).start()
    point_at(home, proxy.url)
    engine = SyncEngine(home, timeout=(1.0, 1.0))
    try:
        r = engine.sync_now()
    finally:
        engine.stop()
        proxy.stop()
    assert not r.ok and r.error == "timeout" and r.pending == 3


def _start_server_process(db: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync.server.main",
            "--db",
            db,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server did not start")


@pytest.mark.slow
def test_server_killed_mid_upload(central_db: Central, tmp_path: Path) -> None:
    port = free_port()
    proc = _start_server_process(central_db.url_db, port)
    try:
        url = f"http://127.0.0.1:{port}"
        home = enrolled_kiosk(central_db, tmp_path / "k", url=url)
        tokens = central_db.issue(300)
        uuids = redeem_all(home, tokens)
        engine = SyncEngine(home, batch_size=10, timeout=(2.0, 5.0))
        result: dict[str, Any] = {}
        t = threading.Thread(target=lambda: result.setdefault("r", engine.sync_now()))
        t.start()
        wait_for(lambda: len(server_uuids(central_db)) >= 30, timeout=60)
        os.kill(proc.pid, signal.SIGKILL)  # mid-upload, no goodbye
        proc.wait(10)
        t.join(60)
        first = result["r"]
        assert not first.ok and first.error in ("unreachable", "network_failed", "timeout")
        arrived = len(server_uuids(central_db))
        assert 0 < arrived < 300
        assert pending(home) >= 300 - arrived  # nothing marked that was not acknowledged
        proc = _start_server_process(central_db.url_db, port)
        for _ in range(5):
            r = engine.sync_now()
            if r.ok and r.pending == 0:
                break
        engine.stop()
        assert r.ok and r.pending == 0
        assert sorted(server_uuids(central_db)) == sorted(uuids)
    finally:
        proc.kill()
        proc.wait(10)


class _Garbage(http.server.BaseHTTPRequestHandler):
    answer: Callable[[dict[str, Any] | None], tuple[int, bytes]] = staticmethod(
        lambda b: (200, b"")
    )

    def _reply(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        status, data = type(self).answer(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _reply

    def log_message(self, *args: Any) -> None:
        pass


def _hello_ok(body: dict[str, Any] | None) -> tuple[int, bytes] | None:
    if body is not None and "health" in body and "records" not in body:
        return 200, json.dumps(
            {
                "device_id": "d",
                "cinema": "CIN-A",
                "status": "active",
                "time_ms": int(time.time() * 1000),
            }
        ).encode()
    return None


def _drop_half(body: dict[str, Any] | None) -> tuple[int, bytes]:
    recs = (body or {}).get("records", [])
    res = [{"uuid": r["uuid"], "status": "valid"} for r in recs[: len(recs) // 2]]
    return 200, json.dumps({"results": res, "time_ms": 1}).encode()


GARBAGE: dict[str, Callable[[dict[str, Any] | None], tuple[int, bytes]]] = {
    "not_json": lambda b: (200, b"<html>hello</html>"),
    "wrong_types": lambda b: (200, b'{"results": "all good", "time_ms": "now"}'),
    "drops_records": _drop_half,
    "unknown_status": lambda b: (
        200,
        json.dumps(
            {
                "results": [
                    {"uuid": r["uuid"], "status": "great"} for r in (b or {}).get("records", [])
                ],
                "time_ms": 1,
            }
        ).encode(),
    ),
    "error_page": lambda b: (502, b"Bad Gateway"),
}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_answers_are_failed_attempts(central: Central, tmp_path: Path, kind: str) -> None:
    tokens = central.issue(4)
    home = enrolled_kiosk(central, tmp_path / "k")
    redeem_all(home, tokens)

    def answer(body: dict[str, Any] | None) -> tuple[int, bytes]:
        return _hello_ok(body) or GARBAGE[kind](body)

    handler = type("H", (_Garbage,), {"answer": staticmethod(answer)})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    point_at(home, f"http://127.0.0.1:{srv.server_address[1]}")
    engine = SyncEngine(home, timeout=(2.0, 2.0))
    try:
        r = engine.sync_now()
        st = engine.status()
    finally:
        engine.stop()
        srv.shutdown()
    assert not r.ok and r.pending == 4, r.to_json()
    assert r.error in ("bad_answer", "http_error")
    assert st["online"] is False and st["last_error"]
    with KioskService.open(home) as svc:  # nothing was marked synced
        rows = svc.store.read("SELECT count(*) FROM records WHERE synced_at IS NOT NULL")
        assert rows[0][0] == 0
    # and the real server still takes them all afterwards
    point_at(home, central.url)
    e2 = SyncEngine(home)
    try:
        assert e2.sync_now().ok
    finally:
        e2.stop()
    with central.session() as s:
        assert s.scalar(select(func.count()).select_from(Redemption)) == 4
