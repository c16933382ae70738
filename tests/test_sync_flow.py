"""Kiosks and the server end to end: duplicates, freezes, revocation, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from syncsupport import Central, enrolled_kiosk

from kiosk.cli import main as kiosk_main
from kiosk.engine.clock import Clock, system_ms
from kiosk.engine.service import KioskService
from kiosk.syncer import SyncEngine
from sync.admin import main as admin_main
from sync.server.models import Redemption
from sync.voucher import decode_voucher

pytestmark = pytest.mark.timeout(120)


def redeem(home: Path, token: str, fmt: str = "2D", *, at_ms: int | None = None) -> str:
    """Redeem at ``home``, at ``at_ms`` when given (an injected clock: the order is exact)."""
    with KioskService.open(home, clock=None if at_ms is None else Clock.fixed(at_ms)) as svc:
        v = svc.redeem(token, fmt=fmt, staff="clerk")
        assert v.accepted, v.reason
        assert v.record_uuid is not None
        return v.record_uuid


def sync(home: Path) -> dict:
    e = SyncEngine(home)
    try:
        return e.sync_now().to_json()
    finally:
        e.stop()


def one_voucher_two_cinemas(central: Central, tmp_path: Path) -> tuple[str, Path, Path]:
    """One issued voucher, then a counter at CIN-A and one at CIN-B (offline between syncs)."""
    [token] = central.issue(1)
    return (
        token,
        enrolled_kiosk(central, tmp_path / "a", "CIN-A"),
        enrolled_kiosk(central, tmp_path / "b", "CIN-B"),
    )


def one_use_at_a(central: Central, tmp_path: Path) -> Path:
    """One voucher issued and redeemed at a counter of CIN-A, not synced yet: that counter."""
    [token] = central.issue(1)
    a = enrolled_kiosk(central, tmp_path / "a")
    redeem(a, token)
    return a


def test_two_offline_kiosks_same_voucher_one_valid_one_duplicate(
    central: Central, tmp_path: Path
) -> None:
    token, a, b = one_voucher_two_cinemas(central, tmp_path)
    now = system_ms()
    first = redeem(a, token, at_ms=now)  # both offline: neither knows of the other
    second = redeem(b, token, "3D", at_ms=now + 10)
    ra = sync(a)
    rb = sync(b)
    assert ra["ok"], ra["message"]
    assert ra["uploaded"] == 1 and ra["duplicates"] == 0
    assert rb["ok"] and rb["uploaded"] == 1 and rb["duplicates"] == 1
    with KioskService.open(b) as svc:  # b was told, with where the first use was
        conflicts = svc.conflicts()
        assert [c["record_uuid"] for c in conflicts] == [second]
        assert conflicts[0]["first_record_uuid"] == first
        assert conflicts[0]["other"]["cinema"] == "CIN-A"
        assert svc.status()["conflicts"] == 1 and svc.status()["pending"] == 0
    # a hears of the duplicate of its valid redemption on its next sync
    ra2 = sync(a)
    assert ra2["ok"] and ra2["status_updates"] == 1
    with KioskService.open(a) as svc:
        rec = svc.store.read(
            "SELECT server_status, server_detail FROM records WHERE uuid=?", (first,)
        )
        assert rec[0][0] == "valid" and json.loads(rec[0][1])["conflict_with"] == second
    with central.session() as s:
        rows = {r.uuid: r for r in s.scalars(select(Redemption))}
        assert rows[first].status == "valid" and rows[second].status == "duplicate"
        assert rows[second].duplicate_of == first
    # a third kiosk that comes online learns the voucher was used elsewhere
    c = enrolled_kiosk(central, tmp_path / "c", "CIN-B")
    with KioskService.open(c) as svc:
        v = svc.redeem(token, fmt="2D")
        assert not v.accepted and v.reason == "already_redeemed"


def test_a_void_at_one_counter_frees_the_voucher_at_another(
    central: Central, tmp_path: Path
) -> None:
    token, a, b = one_voucher_two_cinemas(central, tmp_path)
    redeem(a, token)
    assert sync(a)["ok"] and sync(b)["ok"]
    with KioskService.open(b) as svc:
        assert svc.check(token, fmt="2D").reason == "already_redeemed"
    with KioskService.open(a) as svc:  # the clerk at a undoes it (wrong customer)
        assert svc.void_last(staff="clerk").ok
    assert sync(a)["ok"] and sync(b)["ok"]
    with KioskService.open(b) as svc:
        assert svc.check(token, fmt="2D").reason == "accepted"


def test_freeze_reaches_kiosk_and_unfreeze_lifts_it(central: Central, tmp_path: Path) -> None:
    [token] = central.issue(1)
    a = enrolled_kiosk(central, tmp_path / "a")
    short = decode_voucher(token).voucher.short_code
    assert admin_main(["--db", central.url_db, "freeze", short, "--reason", "lost"]) == 0
    assert sync(a)["ok"]
    with KioskService.open(a) as svc:
        v = svc.check(token, fmt="2D")
        assert not v.accepted and v.reason == "revoked"
    assert admin_main(["--db", central.url_db, "unfreeze", token]) == 0
    assert sync(a)["ok"]
    redeem(a, token)


def test_revoked_device_is_told_and_keeps_its_records(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = central.issue(2)
    a = enrolled_kiosk(central, tmp_path / "a")
    redeem(a, tokens[0])
    with KioskService.open(a) as svc:
        device_id = svc.device_id
    capsys.readouterr()
    assert admin_main(["--db", central.url_db, "device", "revoke", device_id]) == 0
    redeem(a, tokens[1])
    rc = kiosk_main(["--home", str(a), "sync"])
    err = capsys.readouterr().err
    assert rc == 3 and "revoked" in err and "2 unsynced records are kept" in err
    with KioskService.open(a) as svc:
        st = svc.status()
        assert st["device_revoked"] is True and st["pending"] == 2 and st["online"] is False
    with central.session() as s:
        assert s.scalars(select(Redemption)).all() == []


def test_cli_sync_exit_codes(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = one_use_at_a(central, tmp_path)
    assert kiosk_main(["--home", str(a), "sync", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["ok"] and out["uploaded"] == 1 and out["pending"] == 0
    # server gone: exit 3, the pending record is untouched
    [token2] = central.issue(1)
    redeem(a, token2)
    assert central.server is not None
    central.server.stop()
    assert kiosk_main(["--home", str(a), "sync"]) == 3
    assert "cannot reach the server" in capsys.readouterr().err
    with KioskService.open(a) as svc:
        assert svc.status()["pending"] == 1


def test_devices_shows_health(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = one_use_at_a(central, tmp_path)
    sync(a)
    capsys.readouterr()
    assert admin_main(["--db", central.url_db, "devices", "--json"]) == 0
    [dev] = json.loads(capsys.readouterr().out)
    assert dev["status"] == "active" and dev["last_contact"] and dev["version"]
    assert dev["pending"] == 0 and isinstance(dev["clock_offset_ms"], int)
