"""Counters of one cinema built in-process without a server (for test_peers_unit and bench/lan.py).

Each counter is a real standalone home (real store, device key, issuer key)
given a device id and the others' keys in its ``peers`` table: exactly what
an enrolment and one sync of the ``peers`` feed leave behind.
"""

from __future__ import annotations

from pathlib import Path

from kiosk.config import load_config, save_config
from kiosk.engine.peerstore import PeerEntry
from kiosk.engine.service import KioskService, init_standalone
from kiosk.paths import KioskPaths
from sync.voucher import PrivateKey
from sync.voucher.keys import load_private_key

CINEMA = "SH-001"


def make_counters(root: Path, issuer: PrivateKey, names: list[str]) -> list[KioskService]:
    """Open services of counters ``names`` (device ids ``dev-<name>``), listing each other."""
    entries = []
    for name in names:
        home = root / name
        init_standalone(home, cinema=CINEMA, issuer_keys=[issuer.public], counter=f"{name}号窗口")
        cfg = load_config(home / "config.json")
        cfg.device_id = f"dev-{name}"
        save_config(home / "config.json", cfg)
        key = load_private_key(KioskPaths(home).device_key)
        entries.append(PeerEntry(f"dev-{name}", f"{name}号窗口", key.public.raw))
    services = [KioskService.open(root / name) for name in names]
    for svc in services:
        svc.store.set_peers(entries)
    return services
