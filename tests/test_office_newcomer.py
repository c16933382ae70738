"""What a new union office met (issue 11, items 2, 4 and 6), through the real commands.

* The card states where and how: cinema names with address and phone, the
  issuer's hotline and after-sales rule (or a batch's own), found in the
  rendered PDF of a real ``issue``.
* A typo in ``--db`` never creates a database; only ``init`` does. An
  unsupported URL is one line naming SQLite and PostgreSQL, in both commands.
* Issuing again to members who hold vouchers in the campaign is refused
  unless ``--allow-repeat``.
* The schema change upgrades a database of the first released schema.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, text

from sync.admin import main as admin_main
from sync.server.db import alembic_config, make_engine, migrate, session_scope
from sync.server.models import Cinema, Issuer, Voucher

pytestmark = pytest.mark.timeout(300)

BIN = Path(sys.executable).parent
ADDRESS = "上海市黄浦区南京东路100号"
LONG_ADDRESS = "浙江省杭州市西湖区文三路" + "某某大厦" * 12 + "三楼影城"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=120, check=False
    )


def ok(*argv: str) -> str:
    r = run(*argv)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    return r.stdout


def pdf_text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True, text=True)
    return out.stdout.replace("\n", "").replace(" ", "")


def members(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("member_ref,name\n" + "".join(f"{r},{n}\n" for r, n in rows), "utf-8")
    return path


# -- item 2: the data behind the card ---------------------------------------------


def test_the_card_prints_addresses_phones_hotline_and_after_sales(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    admin = ("cinepass-admin", "--db", db)
    ok(
        *admin,
        "init",
        "--issuer",
        "ACFTU-SH",
        "--name",
        "上海市总工会",
        "--hotline",
        "400-820-1234",
    )
    ok(*admin, "cinema", "add", "SH01", "上海一号影院", "--address", ADDRESS, "--phone", "021-5555")
    ok(*admin, "cinema", "add", "--code", "HZ02", "--name", "杭州二号影院" * 4)
    ok(*admin, "cinema", "set", "HZ02", "--address", LONG_ADDRESS, "--phone", "0571-8888")
    for n in range(3, 6):  # more cinemas than a card holds: the card says 见附页
        ok(*admin, "cinema", "add", f"HZ0{n}", f"杭州{n}号影院", "--address", f"{n}{LONG_ADDRESS}")
    listed = ok(*admin, "cinema", "list")
    assert ADDRESS in listed and "0571-8888" in listed

    csv = members(tmp_path / "m.csv", [("M1", "张三明"), ("M2", "欧阳娜娜")])
    rule = "补发需携带工会会员证，原券同时作废。"
    out = tmp_path / "b1"
    ok(*admin, "issue", "--members", str(csv), "--out", str(out), "--cinemas", "SH01")
    ok(*admin, "issuer", "set", "--after-sales", rule)
    out2 = tmp_path / "b2"
    ok(*admin, "issue", "--count", "2", "--out", str(out2), "--cinemas", "SH01,HZ02,HZ03,HZ04,HZ05")
    out3 = tmp_path / "b3"
    ok(*admin, "issue", "--count", "1", "--out", str(out3), "--hotline", "021-99998888")

    first = pdf_text(out / "cards.pdf")
    for needle in ("上海一号影院", ADDRESS, "电话021-5555", "客服热线：400-820-1234", "不可转售"):
        assert needle in first, needle
    assert "补发新券" in first and rule not in first  # the default rule until the issuer set one
    second = pdf_text(out2 / "cards.pdf")
    for needle in (
        "上海一号影院",
        "客服热线：400-820-1234",
        rule,
        "附页",
        LONG_ADDRESS,
        "0571-8888",
    ):
        assert needle in second, needle
    third = pdf_text(out3 / "cards.pdf")  # a batch's own hotline, not the stored one
    assert "021-99998888" in third and "400-820-1234" not in third and "所有合作影院" in third
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(out2 / "cards.pdf"), str(tmp_path / "p")])
    assert len(list(tmp_path.glob("p-*.png"))) == 2  # the cards, then the cinema list page
    with session_scope(make_engine(db)) as s:
        issuer = s.get(Issuer, "ACFTU-SH")
        assert issuer is not None and (issuer.hotline, issuer.after_sales) == ("400-820-1234", rule)
        sh01 = s.get(Cinema, "SH01")
        assert sh01 is not None and (sh01.address, sh01.phone) == (ADDRESS, "021-5555")

    for bad in (
        ["cinema", "add", "X1", "x", "--phone", "1" * 65],
        ["cinema", "add", "X1"],
        ["issuer", "set"],
        ["issue", "--count", "1", "--out", str(tmp_path / "b4"), "--hotline", "9" * 65],
    ):
        r = run(*admin, *bad)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (bad, r.stderr)
    assert not (tmp_path / "b4").exists()


# -- item 4: only init creates a database -----------------------------------------

COMMANDS = (
    ["devices"],
    ["cinema", "add", "SH01", "一号影院"],
    ["cinema", "list"],
    ["device", "code", "--cinema", "SH01"],
    ["export-key", "--out", "k.pem"],
    ["freeze", "0000-0000-0000-0000", "--reason", "lost"],
    ["report", "--month", "2026-12"],
    ["issuer", "set", "--hotline", "1"],
)


def test_a_typo_in_db_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "typo.db"
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a database at all\n" * 50)
    for path in (typo, other, garbage):
        before = path.read_bytes() if path.exists() else None
        for argv in COMMANDS + (["issue", "--count", "1", "--out", str(tmp_path / "b")],):
            capsys.readouterr()
            rc = admin_main(["--db", f"sqlite:///{path}", *argv])
            err = capsys.readouterr().err
            assert rc == 2, (path, argv, err)
            assert err.startswith("cinepass-admin: 此处没有 CinePass 数据库 / there is no CinePass")
            assert len(err.strip().splitlines()) == 1 and "init" in err
        assert (path.read_bytes() if path.exists() else None) == before
    assert not typo.exists() and not (tmp_path / "b").exists()
    assert set(sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall()) == {
        ("notes",)
    }
    # init creates it; then every command works on it
    assert admin_main(["--db", f"sqlite:///{typo}", "init", "--issuer", "ACFTU-SH"]) == 0
    capsys.readouterr()
    assert admin_main(["--db", f"sqlite:///{typo}", "devices"]) == 0
    assert capsys.readouterr().out.strip() == "no devices enrolled"


@pytest.mark.parametrize("url", ["mysql://x", "sqllite:///x.db", "oracle://u@h/db"])
def test_unsupported_urls_are_one_line_in_both_commands(url: str, tmp_path: Path) -> None:
    for argv in (
        ("cinepass-admin", "--db", url, "devices"),
        ("cinepass-admin", "--db", url, "init", "--issuer", "ACFTU-SH", "--key-dir", str(tmp_path)),
        ("cinepass-server", "--db", url),
    ):
        r = run(*argv)
        err = r.stderr.strip()
        assert r.returncode == 2, (argv, r.stderr)
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert err.split(": ", 1)[1].startswith("不支持的数据库地址 / unsupported database URL")
        assert "SQLite" in err and "PostgreSQL" in err and url in err
    assert list(tmp_path.iterdir()) == []


# -- item 6: repeat members ---------------------------------------------------------


def test_issuing_again_to_the_same_members_needs_allow_repeat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"

    def admin(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = admin_main(["--db", url, *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    def count() -> int:
        with session_scope(make_engine(url)) as s:
            return int(s.execute(select(func.count()).select_from(Voucher)).scalar_one())

    assert admin("init", "--issuer", "ACFTU-SH")[0] == 0
    first = members(tmp_path / "a.csv", [("M1", "张三明"), ("M2", "李四")])
    again = members(tmp_path / "b.csv", [("M2", "李四"), ("M3", "王五")])
    spring = ("--campaign", "2027春节")
    assert admin("issue", "--members", str(first), "--out", str(tmp_path / "o1"), *spring)[0] == 0

    rc, _, err = admin("issue", "--members", str(again), "--out", str(tmp_path / "o2"), *spring)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "1 名会员" in err and "M2 1" in err and "M3" not in err and "--allow-repeat" in err
    assert count() == 2 and not (tmp_path / "o2").exists()

    # another campaign is another benefit: no warning
    rc, _, err = admin("issue", "--members", str(again), "--out", str(tmp_path / "o3"))
    assert rc == 0 and err == "" and count() == 4

    rc, _, err = admin(
        "issue", "--members", str(again), "--out", str(tmp_path / "o4"), *spring, "--allow-repeat"
    )
    assert rc == 0 and "warning" in err and "M2 1" in err and count() == 6
    # a reissued card replaces, it does not add: M1 still holds one
    with session_scope(make_engine(url)) as s:
        m1 = s.execute(select(Voucher.short_code).where(Voucher.member_ref == "M1")).scalar_one()
    assert admin("reissue", m1)[0] == 0
    rc, _, err = admin("issue", "--members", str(first), "--out", str(tmp_path / "o5"), *spring)
    assert rc == 2 and "M1 1" in err and "M2 2" in err


# -- the migration ------------------------------------------------------------------


def test_upgrade_from_the_first_released_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO issuer (code, name, created_at) VALUES ('U', 'Union', 1)"))
        conn.execute(text("INSERT INTO cinema (code, name, created_at) VALUES ('SH01', '一号', 1)"))
    migrate(engine)
    with session_scope(engine) as s:
        cinema = s.get(Cinema, "SH01")
        assert cinema is not None and cinema.name == "一号"
        assert (cinema.address, cinema.phone, cinema.timezone, cinema.day_starts) == (
            "",
            "",
            "Asia/Shanghai",
            "06:00",
        )
        issuer = s.get(Issuer, "U")
        assert issuer is not None and (issuer.hotline, issuer.after_sales) == (None, None)
    engine.dispose()
    # and the upgraded database is a CinePass one for every command
    r = run("cinepass-admin", "--db", url, "cinema", "set", "SH01", "--address", ADDRESS)
    assert r.returncode == 0 and ADDRESS in r.stdout
    command.downgrade(alembic_config(make_engine(url)), "0001")  # the way back works too
