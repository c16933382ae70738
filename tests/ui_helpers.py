"""A real, set-up kiosk home and real vouchers for the window tests, bench and screenshots."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.engine.service import init_standalone
from kiosk.engine.store import RosterEntry, Store
from kiosk.paths import KioskPaths
from sync.voucher import PrivateKey, encode_voucher, make_voucher
from sync.voucher.codec import Voucher

CINEMA = "SH-001"
COUNTER = "1号窗口"


@dataclass
class KioskHome:
    home: Path
    key: PrivateKey
    vouchers: dict[str, tuple[Voucher, str]] = field(default_factory=dict)

    def add(self, name: str, **kw: object) -> str:
        """Issue a real voucher (signed by the issuer key) and return its QR text."""
        v = make_voucher("ACFTU-SH", **kw)  # type: ignore[arg-type]
        text = encode_voucher(v, self.key)
        self.vouchers[name] = (v, text)
        return text

    def text(self, name: str) -> str:
        return self.vouchers[name][1]

    def code(self, name: str) -> str:
        return self.vouchers[name][0].short_code

    def publish_roster(self) -> None:
        """Put every voucher in the kiosk's roster (as a sync would), for typed codes."""
        store = Store.open(KioskPaths(self.home).store)
        try:
            store.apply_roster(
                [RosterEntry(cti=v.cti, token=t) for v, t in self.vouchers.values()], "1"
            )
        finally:
            store.close()


def make_home(root: Path, key: PrivateKey, *, counter: str = COUNTER) -> KioskHome:
    """A standalone kiosk in ``root/home`` trusting ``key``, with a few kinds of voucher."""
    home = root / "home"
    init_standalone(home, cinema=CINEMA, issuer_keys=[key.public], counter=counter)
    k = KioskHome(home, key)
    now = int(time.time())
    k.add("valid", holder="张*明")
    k.add("valid2", holder="李*华", formats=("3D",))
    k.add("only2d", holder="王*", formats=("2D",))
    k.add("expired", holder="赵*", now=now - 400 * 86400)
    k.add("elsewhere", holder="钱*", cinemas=("BJ-009",))
    k.publish_roster()
    return k


def call(qtbot: object, window: object, job: object, timeout: int = 5000) -> object:
    """Run ``job(service)`` on the window's engine thread and wait for its result."""
    box: list[object] = []
    window.bridge.submit(job, box.append, box.append)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: bool(box), timeout=timeout)  # type: ignore[attr-defined]
    return box[0]
