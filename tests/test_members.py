"""The members file lists every problem with its line number (issue 12), in the reader
and in ``cinepass-admin issue`` (one stderr line each, exit 2, nothing issued)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.admin import main
from sync.members import MembersError, parse_members, read_members
from sync.server.db import make_engine, session_scope
from sync.server.models import Voucher

BAD = (
    "会员编号,姓名\n"
    "M1,张三\n"
    "M1,李四\n"  # line 3: duplicate
    ",王五\n"  # line 4: no reference
    "M4,\n"  # line 5: no name
    "M5,赵六,多余\n"  # line 6: more cells
    "M6,钱七\n"
    "M7,孙\x07八\n"  # line 8: control character
)


def test_every_problem_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(MembersError) as e:
        parse_members(BAD.encode(), "m.csv")
    assert [(p.line, p.reason) for p in e.value.problems] == [
        (3, "duplicate_member"),
        (4, "bad_row"),
        (5, "bad_row"),
        (6, "bad_row"),
        (8, "bad_row"),
    ]
    assert "already on line 2" in e.value.problems[0].message
    assert e.value.reason == "duplicate_member" and "\n" not in e.value.message
    assert e.value.message.startswith("m.csv line 3: member 'M1'")
    assert "lines 4, 5, 6, 8" in e.value.message


def test_every_undecodable_line_and_every_bad_column(tmp_path: Path) -> None:
    data = "会员编号,姓名\nM1,张三\nM2,李四\nM3,王五\n".encode("gb18030")
    with pytest.raises(MembersError) as e:
        parse_members(data, "gbk.csv")  # read as UTF-8
    assert [p.line for p in e.value.problems] == [1, 2, 3, 4]
    assert all(p.reason == "bad_encoding" for p in e.value.problems)
    with pytest.raises(MembersError) as e:
        parse_members("会员编号,姓名,电话,部门\nM1,张三,1,2\n".encode(), "cols.csv")
    assert [p.message.split("'")[1] for p in e.value.problems] == ["电话", "部门"]
    p = tmp_path / "ok.csv"
    p.write_text("会员编号,姓名\nM1,张三\n", encoding="utf-8")
    assert [m.ref for m in read_members(p)] == ["M1"]


def test_the_cli_lists_every_problem_and_issues_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    assert main(["--db", url, "init", "--issuer", "ACFTU-SH", "--name", "上海"]) == 0
    capsys.readouterr()
    members = tmp_path / "m.csv"
    members.write_text(BAD, encoding="utf-8")
    out = tmp_path / "batch"
    rc = main(["--db", url, "issue", "--members", str(members), "--out", str(out)])
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2
    for n in (3, 4, 5, 6, 8):
        assert any(line.startswith(f"cinepass-admin: m.csv line {n}: ") for line in lines)
    assert len(lines) == 6  # one per problem, then the one-line summary
    assert not out.exists() and not list(tmp_path.glob(".batch*"))
    with session_scope(make_engine(url)) as s:
        assert s.query(Voucher).count() == 0
