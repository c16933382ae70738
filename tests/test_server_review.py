"""Issue 10: the union decides review lines (audited), and the office sees each counter's trouble."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rawdevice import RawDevice, stored
from syncsupport import Central

from sync.admin import main as admin_main
from sync.office.audit import os_user
from sync.server.models import now_ms

pytestmark = pytest.mark.timeout(180)
HOUR = 3600 * 1000


def run(central: Central, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = admin_main(["--db", central.url_db, *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def dispute(central: Central) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two counters claim one voucher, the later-arriving one an hour earlier."""
    a, b = RawDevice(central, "CIN-A"), RawDevice(central, "CIN-B")
    b.enrolled_before(2 * HOUR)
    [token] = central.issue(1, now=(now_ms() - 3 * HOUR) // 1000)
    first = a.record(token)
    a.upload([first])
    rival = b.record(token, at=now_ms() - HOUR)
    b.upload([rival])
    rows = stored(central)
    assert rows[first["uuid"]].status == rows[rival["uuid"]].status == "review"
    return first, rival


def audit_log(central: Central, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    rc, out, _ = run(central, capsys, "audit", "--json")
    assert rc == 0
    return list(json.loads(out))


def test_accepting_one_side_of_a_dispute(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    first, rival = dispute(central)
    rc, out, _ = run(central, capsys, "review", first["uuid"], "--accept", "--note", "票根核对无误")
    assert rc == 0 and "accepted" in out
    rows = stored(central)
    assert rows[first["uuid"]].status == "valid" and rows[first["uuid"]].decision == "accepted"
    assert rows[rival["uuid"]].status == "duplicate"
    assert rows[rival["uuid"]].duplicate_of == first["uuid"]
    # decided: deciding again is refused (1), as is a line that is not under review
    rc, _, err = run(central, capsys, "review", first["uuid"], "--reject", "--note", "x")
    assert rc == 1 and "not under review" in err
    [entry] = [e for e in audit_log(central, capsys) if e["action"] == "review.accept"]
    assert entry["subject"] == first["uuid"] and entry["actor"] == os_user()
    assert entry["address"] == "cli" and entry["after"]["note"] == "票根核对无误"
    assert entry["before"] == {"status": "review", "flags": ["disputed"]}
    assert entry["after"]["status"] == "valid" and entry["after"]["decision"] == "accepted"


def test_rejecting_one_side_gives_the_voucher_back(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    first, rival = dispute(central)
    rc, out, _ = run(
        central, capsys, "review", rival["uuid"], "--reject", "--note", "backdated", "--json"
    )
    assert rc == 0 and json.loads(out)["status"] == "rejected"
    rows = stored(central)
    assert rows[rival["uuid"]].status == "rejected"
    assert rows[rival["uuid"]].problem == "rejected_in_review"
    assert rows[first["uuid"]].status == "valid" and rows[first["uuid"]].flags == []


def test_review_refusals_and_bad_input(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = RawDevice(central, "CIN-A"), RawDevice(central, "CIN-B")
    [token] = central.issue(1)
    paid = a.record(token)
    a.upload([paid])
    odd = b.record(token, fmt="4D")  # flagged on its own: review, takes nothing
    b.upload([odd])
    assert stored(central)[odd["uuid"]].flags == ["wrong_format"]
    rc, _, err = run(central, capsys, "review", odd["uuid"], "--accept", "--note", "ok")
    assert rc == 1 and paid["uuid"] in err  # the voucher is paid to another line
    rc, _, err = run(central, capsys, "review", paid["uuid"], "--accept", "--note", "ok")
    assert rc == 1 and "not under review" in err
    assert run(central, capsys, "review", "no-such-record", "--accept", "--note", "x")[0] == 2
    assert run(central, capsys, "review", odd["uuid"], "--accept", "--note", "  ")[0] == 2
    assert (
        run(central, capsys, "review", odd["uuid"], "--accept", "--reject", "--note", "x")[0] == 2
    )
    assert run(central, capsys, "review", odd["uuid"], "--note", "x")[0] == 2
    assert run(central, capsys, "review", odd["uuid"], "--accept")[0] == 2
    assert run(central, capsys, "review", odd["uuid"], "--reject", "--note", "4D?")[0] == 0
    assert [e["action"] for e in audit_log(central, capsys)] == ["review.reject"]


def test_every_change_of_the_office_is_audited(
    central_db: Central, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    [token] = central_db.issue(1)
    assert run(central_db, capsys, "cinema", "add", "--code", "SH-9", "--name", "九号")[0] == 0
    rc, out, _ = run(central_db, capsys, "device", "code", "--cinema", "SH-9")
    code = out.strip().splitlines()[-1]
    assert run(central_db, capsys, "freeze", token, "--reason", "lost")[0] == 0
    assert run(central_db, capsys, "unfreeze", token)[0] == 0
    assert run(central_db, capsys, "reissue", token)[0] == 0
    assert run(central_db, capsys, "cinema", "add", "--code", "SH-9", "--name", "x")[0] == 2
    assert run(central_db, capsys, "init", "--issuer", "NEW-ISS", "--name", "新工会")[0] == 0
    out_dir = str(tmp_path / "batch")
    rc, _, err = run(
        central_db, capsys, "issue", "--count", "1", "--issuer", "NEW-ISS", "--out", out_dir
    )
    assert rc == 0, err
    log = audit_log(central_db, capsys)
    assert [e["action"] for e in log] == [
        "cinema.add",
        "device.code",
        "voucher.freeze",
        "voucher.unfreeze",
        "voucher.reissue",
        "issuer.init",
        "batch.issue",
    ]
    assert log[-2]["subject"] == "NEW-ISS" and log[-2]["after"]["name"] == "新工会"
    assert log[-1]["subject"] == out_dir and log[-1]["after"]["count"] == 1
    assert all(e["actor"] == os_user() and e["address"] == "cli" for e in log)
    assert code not in json.dumps(log)  # the one-time code is a secret
    assert log[2]["before"] == {"status": "active", "reason": None}
    assert log[2]["after"] == {"status": "frozen", "reason": "lost"}
    rc, out, _ = run(central_db, capsys, "audit")
    assert rc == 0 and "voucher.freeze" in out and out.startswith("at\tactor")
    rc, out, _ = run(central_db, capsys, "audit", "--json", "--since", "2999-01-01")
    assert rc == 0 and json.loads(out) == []
    assert run(central_db, capsys, "audit", "--since", "yesterday")[0] == 2


def test_devices_show_quarantine_chain_trouble_and_survive_bad_text(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = RawDevice(central)
    tokens = central.issue(3)
    recs = [dev.record(t) for t in tokens]
    recs[1]["sig"] = "00" * 64  # a tampered row
    dev.upload(recs, health={"clock_offset_ms": 1234, "version": "t"})
    bad = dev.hello(os="x\ud800", last_error="\udfff")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_text"
    rc, out, _ = run(central, capsys, "devices", "--json")
    assert rc == 0
    [row] = json.loads(out)
    assert row["quarantined"] == 1 and row["chain_gaps"] == 1 and row["chain_forks"] == 0
    assert row["review"] == 1 and row["clock_offset_ms"] == 1234
    assert row["last_error"].startswith("bad_device_signature")
    rc, out, _ = run(central, capsys, "devices")
    assert rc == 0 and "quarantined" in out.splitlines()[0]


def test_monthly_report_pays_only_valid_lines(
    central: Central, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from openpyxl import load_workbook
    from syncsupport import ISSUER

    from sync.office.reports import local_day
    from sync.voucher import PrivateKey, encode_voucher, make_voucher

    a, b = RawDevice(central, "CIN-A"), RawDevice(central, "CIN-B")
    tokens = central.issue(4, formats=("2D",))
    forged = encode_voucher(make_voucher(ISSUER), PrivateKey.generate())
    paid, held, voided = a.record(tokens[0]), a.record(tokens[1], fmt="3D"), a.record(tokens[2])
    void = a.record(tokens[2], kind="void", voids=voided["uuid"])
    fake = a.record(forged)
    a.upload([paid, held, voided, void, fake])
    dup = b.record(tokens[0])
    b.upload([dup])
    month = local_day(now_ms())[:7]
    rc, out, _ = run(central, capsys, "report", "--month", month, "--format", "json")
    rep = {c["cinema"]: c for c in json.loads(out)["cinemas"]}
    ca = rep["CIN-A"]
    assert ca["valid_total"] == 1 and [x["record"] for x in ca["valid"]] == [paid["uuid"]]
    assert [(x["record"], x["flags"]) for x in ca["review"]] == [(held["uuid"], ["wrong_format"])]
    assert [x["record"] for x in ca["rejected"]] == [fake["uuid"]]
    assert {x["record"] for x in ca["voids"]} == {voided["uuid"], void["uuid"]}
    assert ca["counts"] == {"valid": 1, "duplicates": 0, "voids": 2, "rejected": 1, "review": 1}
    assert rep["CIN-B"]["valid_total"] == 0 and rep["CIN-B"]["counts"]["duplicates"] == 1
    rc, out, _ = run(central, capsys, "report", "--month", month, "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0].endswith(",problem,flags")
    [review_line] = [x for x in lines if x.startswith("review,")]
    assert held["uuid"] in review_line and review_line.endswith(",wrong_format")
    xlsx = tmp_path / "m.xlsx"
    assert (
        run(central, capsys, "report", "--month", month, "--format", "xlsx", "--out", str(xlsx))[0]
        == 0
    )
    rows = list(load_workbook(xlsx)["Review"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[-1]) for r in rows] == [(held["uuid"], "wrong_format")]


def test_devices_read_back_text_stored_before_the_check(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    """Health stored by an older server with a lone surrogate: shown, never a traceback."""
    from sync.server.models import Device

    dev = RawDevice(central)
    with central.session() as s:
        s.get(Device, dev.id).health = {"os": "x\ud800", "last_error": "\udfff"}  # type: ignore[union-attr]
    rc, out, _ = run(central, capsys, "devices", "--json")
    [row] = json.loads(out)
    assert rc == 0 and row["health"]["os"] == "x\ufffd" and row["last_error"] == "\ufffd"
    assert run(central, capsys, "devices")[0] == 0
