"""What the alert tests share: the server's worker, rules from TOML, kiosks that redeem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from syncsupport import ISSUER, Central
from waitfor import wait_for

from kiosk.cli import main as kiosk_main
from kiosk.engine.clock import Clock
from kiosk.engine.service import KioskService
from kiosk.engine.verdict import Verdict
from sync.issuing import DISPLAY_TZ, IssuedVoucher
from sync.office.alerts import alert_json, list_alerts
from sync.office.alerts_config import load_rules
from sync.office.batches import record_batch
from sync.server.alerts_worker import AlertSettings, AlertsWorker, worker_for
from sync.voucher import encode_voucher, make_voucher


def hours_around_now(before_h: int = 2, after_h: int = 3) -> str:
    """An [opening_hours] table that holds the present moment in Asia/Shanghai."""
    now = datetime.now(DISPLAY_TZ)
    opens = (now - timedelta(hours=before_h)).strftime("%H:%M")
    closes = (now + timedelta(hours=after_h)).strftime("%H:%M")
    return f'[opening_hours]\nopens = "{opens}"\ncloses = "{closes}"\n'


@dataclass
class Monitor:
    """The server's alert worker, with rules set from TOML text for one test."""

    central: Central
    worker: AlertsWorker
    tmp: Path

    def rules(self, toml: str = "", *, hours: str | None = None) -> None:
        path = self.tmp / "alert-rules.toml"
        path.write_text((hours if hours is not None else hours_around_now()) + toml, "utf-8")
        self.worker.settings = AlertSettings(
            rules=load_rules(path), webhook=self.worker.settings.webhook
        )

    def alerts(self, rule: str | None = None) -> list[dict[str, Any]]:
        with self.central.session() as s:
            rows = [alert_json(a, full=True) for a in list_alerts(s)]
        return [r for r in rows if rule is None or r["rule"] == rule]

    def wait(self, rule: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The alerts of ``rule``, once there is one (the 5 s of the issue)."""
        return wait_for(lambda: self.alerts(rule), timeout=timeout)

    def settle(self) -> None:
        """Wait until the worker has evaluated everything queued (for 'stays quiet' checks)."""
        self.worker.submit([], [])
        wait_for(self.worker.idle)


def monitor_for(central: Central, tmp: Path) -> Monitor:
    worker = worker_for(central.engine)
    assert worker is not None, "the server installs a worker for its engine"
    m = Monitor(central, worker, tmp)
    m.rules()
    return m


def issue_to(central: Central, member: str, n: int = 1, **kw: Any) -> list[str]:
    """Vouchers of one member (``member_ref``), signed and on the roster feed."""
    items = []
    for _ in range(n):
        v = make_voucher(ISSUER, sub=member, **kw)
        items.append(IssuedVoucher(v, encode_voucher(v, central.issuer_key), member))
    with central.session() as s:
        record_batch(s, items, central.issuer_key.public.kid.hex(), "test")
    return [i.token for i in items]


def redeem(
    home: Path, text: str, *, clock: Clock | None = None, staff: str = "", source: str = "camera"
) -> Verdict:
    with KioskService.open(home, clock=clock) as svc:
        return svc.redeem(text, fmt="2D", staff=staff, source=source)


def sync(home: Path) -> int:
    return kiosk_main(["--home", str(home), "sync"])
