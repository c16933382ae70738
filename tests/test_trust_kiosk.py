"""Issue 10 (kiosk side) and issue 11 item 8, through the real CLI against a real server.

* a revoked counter refuses every scan (``device_revoked``) until enrolled again;
* a clock known to run behind refuses (``clock_behind``); a mark left by a clock
  that ran ahead is cleared once a sync agrees with the server;
* a record the server answers ``rejected`` is kept, counted as quarantined and
  reported in the health, and the others are uploaded; ``review`` lines and
  their flags come from the status feed;
* the refusal log reaches the office (``POST /api/v1/refusals``), idempotently,
  with a hash instead of the text of a forged code, and the settlement's XLSX
  "Rejected" sheet lists it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from helpers_qr import tamper_signature, voucher_token
from sqlalchemy import select
from syncsupport import Central, enrolled_kiosk

from kiosk.cli import main as kiosk_main
from kiosk.engine.clock import Clock, system_ms
from kiosk.engine.facts import TrustedKey
from kiosk.engine.service import KioskService
from kiosk.http import HttpClient
from sync import protocol as P
from sync.admin import main as admin_main
from sync.issuing import DISPLAY_TZ
from sync.server import feeds
from sync.server.models import Device, Redemption, Refusal
from sync.voucher import PrivateKey

pytestmark = pytest.mark.timeout(180)
DAY_MS = 86_400_000


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """Run ``cinepass-kiosk ARGV --json``; (exit code, the one JSON object)."""
    capsys.readouterr()
    rc = kiosk_main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return rc, json.loads(out[-1])


def cli_text(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = kiosk_main(list(argv))
    return rc, capsys.readouterr().out


@pytest.fixture
def a(central: Central, tmp_path: Path) -> Path:
    """A counter of CIN-A, enrolled with the real server."""
    return enrolled_kiosk(central, tmp_path / "a")


@pytest.fixture
def home(a: Path) -> list[str]:
    """The CLI's ``--home`` of that counter."""
    return ["--home", str(a)]


def test_a_revoked_counter_refuses_every_scan_until_enrolled_again(
    central: Central, capsys: pytest.CaptureFixture[str], a: Path, home: list[str]
) -> None:
    tokens = central.issue(3)
    assert cli(capsys, *home, "redeem", tokens[0])[0] == 0
    assert cli(capsys, *home, "sync")[0] == 0
    with KioskService.open(a) as svc:
        device_id = svc.device_id
    assert admin_main(["--db", central.url_db, "device", "revoke", device_id]) == 0
    assert kiosk_main([*home, "sync"]) == 3  # the kiosk learns it (403 device_revoked)
    rc, v = cli(capsys, *home, "redeem", tokens[1])
    assert rc == 1 and v["verdict"] == "rejected" and v["reason"] == "device_revoked"
    assert v["message"] == "本柜台已被停用，请联系 IT"
    assert v["message_en"] == "This counter was disconnected by the union office"
    assert v["record"] is None and v["detail"]["was"] == "accepted"
    # a check, an unreadable code and the text output all say the same
    assert cli(capsys, *home, "verify", tokens[1])[1]["reason"] == "device_revoked"
    assert cli(capsys, *home, "redeem", "hello")[1]["reason"] == "device_revoked"
    rc, text = cli_text(capsys, *home, "redeem", tokens[1])
    assert rc == 1 and "REJECTED [device_revoked] 本柜台已被停用，请联系 IT" in text
    rc, st = cli(capsys, *home, "status")
    assert st["device_revoked"] is True and st["records"] == 1
    # enrolled again (a new code from the office): it admits again
    from kiosk.enrollment import enroll

    enroll(a, central.url, central.code("CIN-A"))
    rc, v = cli(capsys, *home, "redeem", tokens[1])
    assert rc == 0 and v["reason"] == "accepted"


def test_a_clock_behind_refuses_and_an_agreeing_sync_clears_a_mark_left_ahead(
    central: Central, capsys: pytest.CaptureFixture[str], a: Path, home: list[str]
) -> None:
    tokens = central.issue(3)
    # the PC's clock ran 60 days ahead for a while: one redemption carries that time
    with KioskService.open(a, clock=Clock(offset_ms=60 * DAY_MS)) as svc:
        assert svc.redeem(tokens[0], fmt="2D").accepted
    # corrected now, the kiosk sees its own record 60 days in the future: it refuses
    rc, st = cli(capsys, *home, "status")
    assert st["clock_ok"] is False and st["clock_behind_ms"] > 59 * DAY_MS
    rc, v = cli(capsys, *home, "redeem", tokens[1])
    assert rc == 1 and v["reason"] == "clock_behind" and v["clock_warning"] is True
    assert v["message"] == "电脑时间不正确，请联系 IT"
    assert v["message_en"] == "The computer's clock is wrong, call IT"
    # one sync measures the offset as (about) zero: the false alarm ends
    rc, r = cli(capsys, *home, "sync")
    assert rc == 0 and abs(r["clock_offset_ms"]) < Clock.TOLERANCE_MS
    rc, st = cli(capsys, *home, "status")
    assert st["clock_ok"] is True
    assert cli(capsys, *home, "redeem", tokens[1])[1]["reason"] == "accepted"
    # the server's clock an hour ahead of ours (as a sync measured it): refused again
    with KioskService.open(a) as svc:
        svc.store.set_meta("clock_offset_ms", str(3600 * 1000))
    assert cli(capsys, *home, "redeem", tokens[2])[1]["reason"] == "clock_behind"


def test_a_rejected_record_is_kept_counted_and_the_rest_go_on(
    central: Central, capsys: pytest.CaptureFixture[str], a: Path, home: list[str]
) -> None:
    # this counter also trusts an issuer the union office does not know
    foreign = PrivateKey.generate()
    with KioskService.open(a) as svc:
        svc.store.add_trusted_key(TrustedKey(raw=foreign.public.raw, issuer="X", source="init"))
    good = central.issue(2)
    now_s = system_ms() // 1000 - 60
    assert cli(capsys, *home, "redeem", good[0])[0] == 0
    rc, v = cli(capsys, *home, "redeem", voucher_token(foreign, now=now_s))
    assert rc == 0
    bad_uuid = v["record"]
    assert cli(capsys, *home, "redeem", good[1])[0] == 0
    rc, r = cli(capsys, *home, "sync")
    assert rc == 0 and r["ok"] and r["uploaded"] == 3 and r["quarantined"] == 1
    assert r["pending"] == 0
    rc, st = cli(capsys, *home, "status")
    assert st["quarantined"] == 1 and st["records"] == 3 and st["pending"] == 0
    with KioskService.open(a) as svc:
        [held] = svc.held()
        assert held["record_uuid"] == bad_uuid and held["status"] == "rejected"
        assert held["problem"] == "unknown_key"
        device_id = svc.device_id
    rc, text = cli_text(capsys, *home, "status")
    assert "quarantined: 1" in text
    with central.session() as s:
        statuses = sorted(r.status for r in s.scalars(select(Redemption)))
        assert statuses == ["rejected", "valid", "valid"]
        health = s.get(Device, device_id).health  # type: ignore[union-attr]
        assert health["quarantined"] == 1
    # a next sync has nothing to resend
    assert cli(capsys, *home, "sync")[1]["uploaded"] == 0


def test_review_lines_and_their_flags_come_from_the_status_feed(
    central: Central, capsys: pytest.CaptureFixture[str], a: Path, home: list[str]
) -> None:
    [token] = central.issue(1)
    uuid = cli(capsys, *home, "redeem", token)[1]["record"]
    assert cli(capsys, *home, "sync")[0] == 0
    with KioskService.open(a) as svc:
        device_id = svc.device_id
    with central.session() as s:  # the office holds the line, as a review decision does
        entry = {"uuid": uuid, "status": "review", "flags": ["out_of_scope", "disputed"]}
        feeds.append(s, [feeds.Event("status", "review", uuid, entry, device=device_id)])
    rc, r = cli(capsys, *home, "sync")
    assert rc == 0 and r["status_updates"] == 1
    rc, st = cli(capsys, *home, "status")
    assert st["review"] == 1 and st["quarantined"] == 0
    with KioskService.open(a) as svc:
        [held] = svc.held()
    assert held["status"] == "review" and held["flags"] == ["out_of_scope", "disputed"]


def test_refusals_reach_the_office_once_with_no_forged_text(
    central: Central,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    issuer_key: PrivateKey,
    a: Path,
    home: list[str],
) -> None:
    now_s = system_ms() // 1000
    expired = voucher_token(issuer_key, now=now_s - 400 * 86400)
    forged = tamper_signature(voucher_token(issuer_key, now=now_s - 60))
    assert kiosk_main([*home, "redeem", "--staff", "王芳", expired]) == 1
    assert kiosk_main([*home, "redeem", forged]) == 1
    assert kiosk_main([*home, "redeem", "--format", "3D", "hello"]) == 1
    rc, r = cli(capsys, *home, "sync")
    assert rc == 0 and r["refusals"] == 3
    assert cli(capsys, *home, "status")[1]["refusals_pending"] == 0
    with KioskService.open(a) as svc:
        device_id, counter = svc.device_id, svc.config.counter
    with central.session() as s:
        rows = {r.reason: r for r in s.scalars(select(Refusal))}
        assert set(rows) == {"expired", "bad_signature", "not_a_voucher"}
        exp = rows["expired"]
        assert exp.voucher and exp.text_hash is None and exp.staff == "王芳"
        assert (exp.device, exp.cinema, exp.counter) == (device_id, "CIN-A", counter)
        bad = rows["bad_signature"]
        assert bad.voucher is None
        assert bad.text_hash == hashlib.sha256(forged.encode()).hexdigest()
        assert rows["not_a_voucher"].format == "3D"
        blob = json.dumps(
            [[str(c) for c in (r.voucher, r.text_hash, r.counter)] for r in rows.values()]
        )
        assert forged[:40] not in blob and "hello" not in blob
    # a resend (a cut connection after the server stored them) stores nothing twice
    with KioskService.open(a) as svc:
        token = svc.paths.token.read_text().strip()
        body = {
            "refusals": [
                {"id": i, "at": 1, "reason": "expired"}
                for (i,) in svc.store.read("SELECT uuid FROM attempts WHERE uuid IS NOT NULL")
            ]
        }
    client = HttpClient(central.url, token=token)
    try:
        ack = P.RefusalAck.model_validate(client.post(f"{P.API_PREFIX}/refusals", body))
    finally:
        client.close()
    assert (ack.stored, ack.known) == (0, 3)
    assert cli(capsys, *home, "sync")[1]["refusals"] == 0
    # the settlement's Rejected sheet lists them
    from openpyxl import load_workbook

    month = datetime.now(DISPLAY_TZ).strftime("%Y-%m")
    out = tmp_path / "settle.xlsx"
    argv = ["--db", central.url_db, "report", "--month", month, "--format", "xlsx"]
    assert admin_main([*argv, "--out", str(out)]) == 0
    sheet = load_workbook(out)["Rejected"]
    header, *lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header[:2] == ["cinema", "record"]
    problems = {line[header.index("problem")]: line for line in lines}
    assert set(problems) == {"expired", "bad_signature", "not_a_voucher"}
    assert {line[0] for line in lines} == {"CIN-A"}
    assert problems["expired"][header.index("staff")] == "王芳"
    assert problems["bad_signature"][header.index("voucher")].startswith("sha256:")


def test_a_tampered_row_is_quarantined_alone_and_the_queue_moves_on(
    central: Central, capsys: pytest.CaptureFixture[str], a: Path, home: list[str]
) -> None:
    import sqlite3

    tokens = central.issue(3)
    uuids = [cli(capsys, *home, "redeem", t)[1]["record"] for t in tokens]
    conn = sqlite3.connect(a / "kiosk.sqlite3")  # someone edits a row behind the kiosk's back
    conn.execute("UPDATE records SET staff = 'mallory' WHERE uuid = ?", (uuids[1],))
    conn.commit()
    conn.close()
    rc, r = cli(capsys, *home, "sync")
    assert rc == 0 and r["uploaded"] == 3 and r["quarantined"] == 1 and r["pending"] == 0
    with KioskService.open(a) as svc:
        # the tampered row is quarantined alone; the next one links to it, so the
        # server holds it for review with chain_gap (docs/settlement.md)
        held, gap = svc.held()
        assert (held["record_uuid"], held["status"]) == (uuids[1], "rejected")
        assert held["problem"] == "bad_device_signature"
        assert (gap["record_uuid"], gap["status"], gap["flags"]) == (
            uuids[2],
            "review",
            ["chain_gap"],
        )
        assert svc.status()["records"] == 3
