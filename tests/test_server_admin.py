"""``cinepass-admin`` server commands: cinemas, codes, freeze/reissue, settlement reports."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from syncsupport import Central

from sync.admin import main as admin_main
from sync.records import GENESIS_HASH, Record
from sync.server import ingest
from sync.server.models import Cinema, Device, FeedEvent, Voucher
from sync.voucher import PrivateKey, decode_voucher

pytestmark = pytest.mark.timeout(120)


def run(central: Central, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = admin_main(["--db", central.url_db, *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cinema_add_and_device_code(
    central_db: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(central_db, capsys, "cinema", "add", "--code", "SH-01", "--name", "上海影城")
    assert rc == 0
    rc, _, err = run(central_db, capsys, "cinema", "add", "--code", "SH-01", "--name", "again")
    assert rc == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    rc, _, err = run(central_db, capsys, "cinema", "add", "--code", "bad code!", "--name", "x")
    assert rc == 2
    rc, out, _ = run(central_db, capsys, "device", "code", "--cinema", "SH-01")
    code = out.strip().splitlines()[-1]
    assert rc == 0 and len(code) == 14 and code.count("-") == 2
    rc, _, err = run(central_db, capsys, "device", "code", "--cinema", "NOPE")
    assert rc == 2 and "NOPE" in err
    rc, _, err = run(central_db, capsys, "device", "revoke", "dev-nope")
    assert rc == 2
    with central_db.session() as s:
        assert s.get(Cinema, "SH-01") is not None and s.get(Cinema, "bad code!") is None


def test_freeze_unfreeze_reissue(central_db: Central, capsys: pytest.CaptureFixture[str]) -> None:
    [token] = central_db.issue(1)
    short = decode_voucher(token).voucher.short_code
    rc, _, err = run(central_db, capsys, "freeze", "0000-0000-0000-0000", "--reason", "lost")
    assert rc == 2 and "not issued here" in err
    rc, _, err = run(central_db, capsys, "freeze", "nonsense", "--reason", "lost")
    assert rc == 2
    assert run(central_db, capsys, "freeze", short.lower(), "--reason", "stolen")[0] == 0
    rc, _, err = run(central_db, capsys, "freeze", token, "--reason", "lost")
    assert rc == 2 and "already frozen" in err
    assert run(central_db, capsys, "unfreeze", token)[0] == 0
    rc, out, _ = run(central_db, capsys, "reissue", short)
    assert rc == 0
    new_token = out.strip().splitlines()[-1]
    new = decode_voucher(new_token).voucher
    old = decode_voucher(token).voucher
    assert new.cti != old.cti and new.exp == old.exp and new.formats == old.formats
    with central_db.session() as s:
        o = s.get(Voucher, old.cti.hex())
        assert o is not None and o.status == "frozen" and o.freeze_reason == "replaced"
        assert o.replaced_by == new.cti.hex()
        n = s.get(Voucher, new.cti.hex())
        assert n is not None and n.status == "active" and n.token == new_token
        events = [(e.feed, e.action) for e in s.scalars(select(FeedEvent).order_by(FeedEvent.seq))]
    assert events[-5:] == [
        ("roster", "issued"),
        ("revocation", "freeze"),
        ("revocation", "unfreeze"),
        ("roster", "issued"),
        ("revocation", "freeze"),
    ]
    rc, _, err = run(central_db, capsys, "unfreeze", short)
    assert rc == 2 and "replaced" in err


def _device(central: Central, cinema: str) -> tuple[str, PrivateKey]:
    key = PrivateKey.generate()
    dev_id = "dev-" + uuid.uuid4().hex[:8]
    with central.session() as s:
        s.add(  # enrolled before the records of the tests (the server re-checks record times)
            Device(
                id=dev_id,
                cinema=cinema,
                public_raw=key.public.raw,
                token_hash=uuid.uuid4().hex,
                enrolled_at=1_790_000_000_000,
            )
        )
    return dev_id, key


def _upload(
    central: Central, dev: str, key: PrivateKey, cinema: str, items: list[tuple[str, int, str]]
) -> list[str]:
    """Records (token, at ms, format) through the real ingest path."""
    prev, out, batch = GENESIS_HASH, [], []
    with central.session() as s:
        keys = ingest.trusted_keys(s)
    for i, (token, at, fmt) in enumerate(items, start=1):
        rec = Record(
            uuid=str(uuid.uuid4()),
            device=dev,
            seq=i,
            kind="redeem",
            voucher=decode_voucher(token).voucher.cti,
            token=token,
            cinema=cinema,
            format=fmt,
            staff="s",
            at=at,
            voids="",
            prev=prev,
        )
        prev = rec.hash()
        batch.append(rec.to_json(rec.sign(key)))
        out.append(rec.uuid)
    prepared = ingest.prepare(batch, dev, key.public, keys)
    with central.session() as s:
        ingest.store(s, dev, prepared)
    return out


def test_reports(central_db: Central, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    t = central_db.issue(3, now=1_790_000_000)  # valid since before the records below
    da, ka = _device(central_db, "CIN-A")
    db, kb = _device(central_db, "CIN-B")
    nov1 = 1_793_462_400_000  # 2026-11-01 00:00 CST (UTC+8) = 2026-10-31 16:00 UTC
    # business days that start at midnight here: the 06:00 default is test_business_day.py's
    for cinema in ("CIN-A", "CIN-B"):
        assert run(central_db, capsys, "cinema", "set", cinema, "--day-starts", "00:00")[0] == 0
    [a1, a2] = _upload(
        central_db, da, ka, "CIN-A", [(t[0], nov1 + 1000, "2D"), (t[1], nov1 + 86_400_000, "3D")]
    )
    [b1, b2] = _upload(
        central_db, db, kb, "CIN-B", [(t[0], nov1 + 5000, "2D"), (t[2], nov1 - 1, "2D")]
    )

    rc, out, _ = run(central_db, capsys, "report", "redemptions", "--format", "json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rc == 0 and set(rows) == {a1, a2, b1, b2}
    assert rows[b1]["status"] == "duplicate" and rows[b1]["duplicate_of"] == a1
    assert rows[a1]["status"] == "valid" and rows[a1]["duplicate_of"] is None
    assert rows[a1]["voucher"] == decode_voucher(t[0]).voucher.short_code
    assert rows[a1]["cinema"] == "CIN-A" and rows[a1]["device"] == da and rows[a1]["format"] == "2D"

    rc, out, _ = run(central_db, capsys, "report", "--month", "2026-11", "--format", "json")
    rep = {c["cinema"]: c for c in json.loads(out)["cinemas"]}
    assert rep["CIN-A"]["by_day"] == [
        {"day": "2026-11-01", "format": "2D", "count": 1},
        {"day": "2026-11-02", "format": "3D", "count": 1},
    ]
    assert rep["CIN-B"]["valid_total"] == 0  # b2 was in October (CST), b1 a duplicate
    assert [d["record"] for d in rep["CIN-B"]["duplicates"]] == [b1]
    assert rep["CIN-B"]["duplicates"][0]["duplicate_of"] == a1
    # and CIN-A's manager sees that its valid redemption was tried again elsewhere
    a_line = next(x for x in rep["CIN-A"]["valid"] if x["record"] == a1)
    assert a_line["duplicated_by"] == [b1]

    rc, out, _ = run(
        central_db, capsys, "report", "--month", "2026-11", "--cinema", "CIN-A", "--format", "csv"
    )
    lines = out.strip().splitlines()
    assert rc == 0 and lines[0].startswith("section,cinema,day,format,count,record")
    assert sum(1 for x in lines if x.startswith("valid,CIN-A")) == 2
    assert any(a1 in x for x in lines)

    xlsx = tmp_path / "nov.xlsx"
    rc, _, _ = run(
        central_db, capsys, "report", "--month", "2026-11", "--format", "xlsx", "--out", str(xlsx)
    )
    wb = load_workbook(xlsx)
    assert rc == 0 and wb.sheetnames == [
        "Summary",
        "Valid",
        "Duplicates",
        "Voids",
        "Rejected",
        "Review",  # issue 10, after the sheets of the first release
    ]
    assert [r[1] for r in wb["Duplicates"].iter_rows(min_row=2, values_only=True)] == [b1]

    for bad in (
        ["--month", "2026-13"],
        ["--month", "2026-11", "--cinema", "NOPE"],
        ["--month", "2026-11", "--format", "xlsx"],
        ["redemptions", "--format", "csv"],
    ):
        rc, _, err = run(central_db, capsys, "report", *bad)
        assert rc == 2 and err.strip(), bad


def test_server_command_refuses_bad_databases(capsys: pytest.CaptureFixture[str]) -> None:
    from sync.server.main import main as server_main

    assert server_main(["--db", "notaurl"]) == 2
    assert "not a database URL" in capsys.readouterr().err
    assert server_main(["--db", "sqlite:////nonexistent/dir/x.db"]) == 3
    assert "cannot open the database" in capsys.readouterr().err
