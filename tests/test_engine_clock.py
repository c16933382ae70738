"""The one clock: injectable, and a guard against a clock that runs behind."""

from __future__ import annotations

from pathlib import Path

from helpers_qr import NOW_S, make_kiosk, voucher_token

from kiosk.engine.clock import Clock
from kiosk.engine.service import KioskService
from sync.voucher import PrivateKey

DAY_MS = 86_400_000
NOW_MS = NOW_S * 1000 + 60_000


def test_fixed_offset_and_advance() -> None:
    c = Clock.fixed(1000)
    assert c.now_ms() == 1000
    c.advance(500)
    assert c.now_ms() == 1500
    live = Clock(offset_ms=-DAY_MS)
    assert abs(Clock().now_ms() - DAY_MS - live.now_ms()) < 1000


def test_observe_and_behind() -> None:
    marks: list[int] = []
    c = Clock(fixed_ms=10 * DAY_MS, persist=marks.append)
    assert not c.behind
    assert c.observe(10 * DAY_MS + 60_000)  # server slightly ahead: within tolerance
    assert not c.behind
    assert not c.observe(5)  # an older reading never moves the mark back
    assert c.observe(11 * DAY_MS)
    assert c.behind and c.behind_by_ms() == DAY_MS
    assert marks == [10 * DAY_MS + 60_000, 11 * DAY_MS]
    assert c.observe(12 * DAY_MS, persist=False) and marks[-1] == 11 * DAY_MS


def test_clock_behind_is_flagged_in_verdicts_and_status(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    home = make_kiosk(tmp_path / "h", issuer_key)
    with KioskService.open(home, clock=Clock.fixed(NOW_MS)) as svc:
        v = svc.redeem(voucher_token(issuer_key), fmt="2D")
        assert v.accepted and not v.clock_warning and svc.status()["clock_ok"]
    # the battery died: the PC boots two days in the past
    with KioskService.open(home, clock=Clock.fixed(NOW_MS - 2 * DAY_MS)) as svc:
        st = svc.status()
        assert st["clock_ok"] is False and st["clock_behind_ms"] == 2 * DAY_MS
        v = svc.check(voucher_token(issuer_key, now=NOW_S - 3 * 86400), fmt="2D")
        assert v.clock_warning and v.to_json()["clock_warning"] is True


def test_server_time_mark_survives_a_restart(tmp_path: Path, issuer_key: PrivateKey) -> None:
    home = make_kiosk(tmp_path / "h", issuer_key)
    with KioskService.open(home, clock=Clock.fixed(NOW_MS)) as svc:
        svc.clock.observe(NOW_MS + DAY_MS)  # the sync client saw the server's time
        assert svc.store.get_meta("newest_seen_ms") == str(NOW_MS + DAY_MS)
    with KioskService.open(home, clock=Clock.fixed(NOW_MS)) as svc:
        assert svc.clock.behind and svc.status()["clock_ok"] is False


def test_server_clock_offset_flags_a_clock_behind(tmp_path: Path, issuer_key: PrivateKey) -> None:
    home = make_kiosk(tmp_path / "h", issuer_key)
    with KioskService.open(home, clock=Clock.fixed(NOW_MS)) as svc:
        svc.store.set_meta("clock_offset_ms", "-30000")  # we run 30 s ahead: fine
        assert svc.status()["clock_ok"] is True
        svc.store.set_meta("clock_offset_ms", str(3 * 3600 * 1000))  # 3 h behind the server
        assert svc.status()["clock_ok"] is False
        assert svc.redeem(voucher_token(issuer_key), fmt="2D").clock_warning
