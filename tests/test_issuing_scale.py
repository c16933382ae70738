"""Issuing at scale: a batch in parts on worker processes, and resuming an interrupted one.

The part size is made tiny so a few dozen vouchers exercise what 100,000 do:
several PDF parts, the process pool, the join in member order, a run
interrupted after some parts and continued by the same command, and a run
that died between recording the batch and publishing the folder.
"""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from test_admin_issue import Admin, members_csv, read_qr
from test_issuing import pdf_text

from sync import batchparts
from sync.server.db import make_engine, session_scope
from sync.server.models import Voucher


@pytest.fixture
def ready(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Admin:
    admin = Admin(tmp_path, capsys)
    rc, _, err = admin("init", "--issuer", "ACFTU-SH", "--name", "上海市总工会")
    assert rc == 0, err
    return admin


def rows_of(out: Path) -> list[dict[str, str]]:
    with (out / "vouchers.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    found = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M)
    assert found is not None
    return int(found.group(1))


def db_vouchers(admin: Admin) -> dict[str, Voucher]:
    with session_scope(make_engine(admin.url)) as s:
        return {v.short_code: v for v in s.execute(select(Voucher)).scalars()}


def test_a_batch_in_parts_on_worker_processes_keeps_member_order(
    ready: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batchparts, "PART_CARDS", 8)
    monkeypatch.setattr(batchparts, "POOL_THRESHOLD", 1)
    members = [(f"M{i:03d}", f"会员{i:03d}") for i in range(21)]
    out = ready.tmp / "batch"
    rc, stdout, err = ready(
        "issue", "--members", str(members_csv(ready.tmp, members)), "--out", str(out),
        "--workers", "2",
    )  # fmt: skip
    assert rc == 0, err
    assert "issued 21 voucher(s)" in stdout and "3 PDF parts" in stdout
    names = sorted(p.name for p in out.iterdir() if p.suffix != ".png")
    assert names == ["cards-0001.pdf", "cards-0002.pdf", "cards-0003.pdf", "vouchers.csv"]
    assert [pages(out / n) for n in names[:3]] == [1, 1, 1]
    rows = rows_of(out)
    assert [r["member_ref"] for r in rows] == [m for m, _ in members]
    assert len(list(out.glob("*.png"))) == 21
    stored = db_vouchers(ready)
    assert set(stored) == {r["short_code"] for r in rows}
    for r in rows[::5]:
        assert read_qr(out / f"{r['short_code']}.png") == [r["qr_text"]]
        assert stored[r["short_code"]].token == r["qr_text"]
    text = pdf_text(out / "cards-0002.pdf", "-raw")
    assert [r["short_code"] in text for r in rows[8:16]] == [True] * 8
    assert ready.roster_events() == 21
    assert not list(ready.tmp.glob(".batch.partial-*"))


def test_an_interrupted_batch_continues_without_re_signing(
    ready: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batchparts, "PART_CARDS", 4)
    real = batchparts.make_part
    made: list[int] = []

    def dies_at_part_3(job: batchparts.PartJob) -> tuple[int, int]:
        if job.part == 2 and not made.count(-1):
            made.append(-1)
            real(job)  # the part is even written completely: interrupted before the next
            raise KeyboardInterrupt
        made.append(job.part)
        return real(job)

    monkeypatch.setattr(batchparts, "make_part", dies_at_part_3)
    out = ready.tmp / "b"
    args = ("issue", "--count", "14", "--out", str(out), "--campaign", "2027春节")
    rc, _, err = ready(*args)
    assert rc == 130  # what Ctrl-C exits with
    assert "interrupted" in err and "已中断" in err
    stage = ready.tmp / ".b.partial-issue"
    assert stage.is_dir() and not out.exists()
    assert ready.count(Voucher) == 0 and ready.roster_events() == 0  # nothing issued yet
    kept = {p.name: p.read_bytes() for p in (stage / ".work").glob("*.rows")}
    assert sorted(kept) == ["part-00001.rows", "part-00002.rows", "part-00003.rows"]
    (stage / ".work" / "part-00004.codes").write_text("ZZZZ-ZZZZ-ZZZZ-ZZZZ")  # a part cut short
    (stage / "ZZZZ-ZZZZ-ZZZZ-ZZZZ.png").write_bytes(b"half")
    made.clear()
    rc, stdout, err = ready(*args)
    assert rc == 0, err
    assert "resuming batch" in err
    assert made == [3]  # only the part that was not done
    rows = rows_of(out)
    assert len(rows) == 14 and len({r["short_code"] for r in rows}) == 14
    assert sorted(p.stem for p in out.glob("*.png")) == sorted(r["short_code"] for r in rows)
    kept_tokens = {
        line.split("\t")[3] for data in kept.values() for line in data.decode().splitlines()
    }
    assert kept_tokens <= {r["qr_text"] for r in rows}  # the first 12 were not re-signed
    assert set(db_vouchers(ready)) == {r["short_code"] for r in rows}
    assert ready.roster_events() == 14
    assert not stage.exists() and not batchparts.plan_path(stage).exists()


def test_other_arguments_do_not_mix_into_an_interrupted_batch(
    ready: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batchparts, "PART_CARDS", 2)

    def interrupted(job: batchparts.PartJob) -> tuple[int, int]:
        raise KeyboardInterrupt

    monkeypatch.setattr(batchparts, "make_part", interrupted)
    out = ready.tmp / "b"
    assert ready("issue", "--count", "5", "--out", str(out))[0] == 130
    monkeypatch.undo()
    rc, _, err = ready("issue", "--count", "6", "--out", str(out))
    assert rc == 2 and "other arguments" in err and len(err.strip().splitlines()) == 1
    assert batchparts.plan_path(ready.tmp / ".b.partial-issue").is_file()  # left for its owner
    rc, _, err = ready("issue", "--count", "5", "--out", str(out))
    assert rc == 0, err
    assert len(rows_of(out)) == 5 and ready.count(Voucher) == 5


def test_a_batch_recorded_but_not_published_is_only_published_again(
    ready: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync import batchdir

    def cannot_rename(tmp: Path, out: Path) -> None:
        raise KeyboardInterrupt  # the power went out right after the commit

    monkeypatch.setattr(batchdir, "publish_dir", cannot_rename)
    out = ready.tmp / "b"
    assert ready("issue", "--count", "3", "--out", str(out))[0] == 130
    monkeypatch.undo()
    assert ready.count(Voucher) == 3
    before = set(db_vouchers(ready))
    rc, stdout, err = ready("issue", "--count", "3", "--out", str(out))
    assert rc == 0, err
    assert "issued 3 voucher(s)" in stdout
    assert ready.count(Voucher) == 3 and ready.roster_events() == 3  # not issued twice
    assert {r["short_code"] for r in rows_of(out)} == before
    assert pages(out / "cards.pdf") == 1
