"""Counters of one cinema as separate processes on loopback (test_peers*.py).

A real central server (SQLite) enrols the counters, each syncs twice (its
listen address, if any, goes up in the health report; then everyone learns
the ``peers`` feed), and the server is stopped: from then on the counters
have only each other. Each counter runs ``cinepass-kiosk serve`` as its own
process; scans come from other processes (``cinepass-kiosk redeem``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from syncsupport import Central, setup_central

from kiosk.config import load_config, save_config
from kiosk.engine.peerstore import LISTEN_META
from kiosk.engine.service import KioskService
from kiosk.enrollment import enroll
from kiosk.syncer import SyncEngine
from sync.server.db import migrate
from sync.server.embedded import EmbeddedServer
from sync.voucher import PrivateKey

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kiosk_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "kiosk.cli", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}


def sync_once(home: Path) -> None:
    eng = SyncEngine(home)
    try:
        assert eng.sync_now().ok
    finally:
        eng.stop()
        eng.service.close()


@dataclass
class Cinema:
    homes: dict[str, Path]
    tokens: list[str]
    ids: dict[str, str]
    addr: dict[str, str]
    central: Central
    procs: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    def serve(self, name: str, *peers: str, discovery: bool = True) -> None:
        """Start ``serve`` for counter ``name`` on its port, asking the given counters too.

        ``discovery=False`` (``--no-discovery``): where the test cuts the LAN
        with a fault proxy, mDNS must not show the counters each other's real
        addresses past the cut.
        """
        self.addr.setdefault(name, f"127.0.0.1:{free_port()}")
        args = ["serve", "--home", str(self.homes[name]), "--listen", self.addr[name]]
        args += [] if discovery else ["--no-discovery"]
        for p in peers:
            args += ["--peer", self.addr.get(p) or p]
        proc = subprocess.Popen(
            kiosk_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env()
        )
        self.procs[name] = proc
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on"), line + (proc.stderr.read() if proc.stderr else "")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.terminate()
        proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def redeem(self, name: str, token: str, *peers: str) -> dict[str, object]:
        args = ["redeem", "--json", "--home", str(self.homes[name])]
        for p in peers:
            args += ["--peer", self.addr.get(p) or p]
        r = subprocess.run(
            kiosk_cmd(*args, token), capture_output=True, text=True, env=env(), timeout=60
        )
        assert r.returncode in (0, 1), r.stdout + r.stderr
        out: dict[str, object] = json.loads(r.stdout)
        return out

    def restart_server(self) -> EmbeddedServer:
        """The central server back (a new port): every counter's config points at it."""
        srv = EmbeddedServer(self.central.engine).start()
        for home in self.homes.values():
            cfg = load_config(home / "config.json")
            cfg.server_url = srv.url
            save_config(home / "config.json", cfg)
        return srv


def build_cinema(
    tmp: Path,
    counters: Mapping[str, tuple[str, str]],
    *,
    listen: str = "",
    vouchers: int = 12,
) -> Cinema:
    """Enrol ``counters`` (name -> (cinema code, counter name)), sync twice, stop the server.

    The counters named in ``listen`` report a loopback listen address first,
    so the ``peers`` feed carries it; the others are listed without one.
    """
    issuer = PrivateKey.generate()
    engine = migrate(f"sqlite:///{tmp / 'central.db'}")
    setup_central(engine, issuer, tmp / "keys")
    srv = EmbeddedServer(engine).start()
    central = Central(engine, srv, issuer, srv.url, tmp / "keys")
    for code in sorted({c for c, _ in counters.values()} - {"CIN-A", "CIN-B"}):
        central.add_cinema(code, f"Cinema {code}")
    tokens = central.issue(vouchers)
    homes: dict[str, Path] = {}
    ids: dict[str, str] = {}
    addr: dict[str, str] = {}
    for name, (where, counter) in counters.items():
        home = tmp / name
        info = enroll(home, srv.url, central.code(where), name=counter)
        ids[name] = str(info["device_id"])
        cfg = load_config(home / "config.json")
        cfg.counter = counter
        save_config(home / "config.json", cfg)
        homes[name] = home
        if name in listen:  # their serve will listen here: the health report says so
            addr[name] = f"127.0.0.1:{free_port()}"
            with KioskService.open(home) as svc:
                svc.store.set_meta(LISTEN_META, addr[name])
    for home in homes.values():  # report the listen addresses...
        sync_once(home)
    for home in homes.values():  # ...and learn everyone's from the peers feed
        sync_once(home)
    srv.stop()  # from here on the central server is down
    return Cinema(homes, tokens, ids, addr, central)
