"""``cinepass-admin init | export-key | issue`` on a real SQLite database.

Most tests call :func:`sync.admin.main` in-process (fast); one runs the
installed console script. Every refusal must exit 2 with one line on stderr
and leave no batch folder, no staging folder and no database rows.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import zxingcpp
from sqlalchemy import func, select

from sync.admin import main
from sync.server.db import make_engine, session_scope
from sync.server.models import FeedEvent, IssuerKey, Voucher
from sync.voucher import PublicKey, decode_and_verify, keyring, load_private_key

BIN = Path(sys.executable).parent


class Admin:
    """Runs cinepass-admin against one database and captures its output."""

    def __init__(self, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp = tmp
        self.url = f"sqlite:///{tmp / 'central.sqlite3'}"
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        rc = main(["--db", self.url, *argv])
        out, err = self.capsys.readouterr()
        return rc, out, err

    def count(self, model: type) -> int:
        with session_scope(make_engine(self.url)) as s:
            return int(s.execute(select(func.count()).select_from(model)).scalar_one())

    def roster_events(self) -> int:
        with session_scope(make_engine(self.url)) as s:
            q = select(func.count()).select_from(FeedEvent).where(FeedEvent.feed == "roster")
            return int(s.execute(q).scalar_one())


@pytest.fixture
def admin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Admin:
    return Admin(tmp_path, capsys)


@pytest.fixture
def ready(admin: Admin) -> Admin:
    rc, _, err = admin("init", "--issuer", "ACFTU-SH", "--name", "上海市总工会")
    assert rc == 0, err
    return admin


def members_csv(tmp: Path, rows: list[tuple[str, str]], header: str = "会员编号,姓名") -> Path:
    p = tmp / "members.csv"
    p.write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows), encoding="utf-8")
    return p


def read_qr(path: Path) -> list[str]:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return [
        b.text
        for b in zxingcpp.read_barcodes(
            img, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain
        )
    ]


# -- init / export-key --------------------------------------------------------


def test_init_creates_a_0600_key_and_prints_its_path(admin: Admin) -> None:
    rc, out, err = admin("init", "--issuer", "ACFTU-SH")
    assert rc == 0 and err == ""
    keys = list((admin.tmp / "keys").glob("ACFTU-SH-*.pem"))
    assert len(keys) == 1
    assert str(keys[0]) in out
    assert stat.S_IMODE(keys[0].stat().st_mode) == 0o600
    pem = keys[0].read_text()
    assert "PRIVATE KEY" in pem and pem.splitlines()[1] not in out  # never printed
    key = load_private_key(keys[0])
    with session_scope(make_engine(admin.url)) as s:
        row = s.execute(select(IssuerKey)).scalar_one()
        assert row.kid == key.public.kid.hex() and row.public_raw == key.public.raw
        assert row.active and row.private_key_path == str(keys[0])
        keys_feed = s.execute(select(FeedEvent).where(FeedEvent.feed == "keys")).scalars().all()
        assert [e.key for e in keys_feed] == [row.kid]  # kiosks learn the new key


def test_second_init_refuses_unless_rotate(ready: Admin) -> None:
    rc, out, err = ready("init", "--issuer", "ACFTU-SH")
    assert rc == 2 and out == ""
    assert "--rotate" in err and len(err.strip().splitlines()) == 1
    assert len(list((ready.tmp / "keys").iterdir())) == 1
    rc, out, err = ready("init", "--issuer", "ACFTU-SH", "--rotate")
    assert rc == 0, err
    assert "still trusted" in out
    assert ready.count(IssuerKey) == 2
    # both keys exported, the new signing key first
    rc, out, _ = ready("export-key", "--out", str(ready.tmp / "pub.pem"))
    assert rc == 0
    pem = (ready.tmp / "pub.pem").read_bytes()
    assert pem.count(b"BEGIN PUBLIC KEY") == 2
    newest = sorted((ready.tmp / "keys").glob("*.pem"), key=lambda p: p.stat().st_mtime)[-1]
    assert PublicKey.from_pem(pem) == load_private_key(newest).public
    # and issue signs with the new key
    rc, _, err = ready("issue", "--count", "2", "--out", str(ready.tmp / "b"))
    assert rc == 0, err
    with (ready.tmp / "b" / "vouchers.csv").open(encoding="utf-8-sig") as fh:
        token = next(csv.DictReader(fh))["qr_text"]
    new_pub = load_private_key(newest).public
    assert decode_and_verify(token, keyring(new_pub)).iss == "ACFTU-SH"


@pytest.mark.parametrize("code", ["acftu", "A B", "", "X" * 40, "../etc"])
def test_init_refuses_bad_issuer_codes(admin: Admin, code: str) -> None:
    rc, _, err = admin("init", "--issuer", code)
    assert rc == 2 and "--issuer" in err
    assert not (admin.tmp / "keys").exists()


def test_export_key_writes_spki_pem(ready: Admin) -> None:
    out_file = ready.tmp / "issuer.pem"
    rc, out, _ = ready("export-key", "--out", str(out_file))
    assert rc == 0 and "ACFTU-SH" in out
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(out_file.read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    private = load_private_key(next((ready.tmp / "keys").glob("*.pem")))
    assert PublicKey.from_pem(out_file.read_bytes()).raw == private.public.raw


def test_export_key_before_init_and_to_a_folder(admin: Admin) -> None:
    rc, _, err = admin("export-key", "--out", str(admin.tmp / "k.pem"))
    assert rc == 2 and "init" in err
    assert not (admin.tmp / "k.pem").exists()
    admin("init", "--issuer", "X1")
    rc, _, err = admin("export-key", "--out", str(admin.tmp))
    assert rc == 2 and "folder" in err


# -- issue --------------------------------------------------------------------


def test_issue_members_batch(ready: Admin) -> None:
    members = [("M001", "张三明"), ("M002", "李四"), ("M003", "John Smith")]
    for code in ("SH-001", "SH-002"):
        assert ready("cinema", "add", "--code", code, "--name", f"影院 {code}")[0] == 0
    out = ready.tmp / "batch"
    rc, stdout, err = ready(
        "issue",
        "--members",
        str(members_csv(ready.tmp, members)),
        "--out",
        str(out),
        "--cinemas",
        "SH-001,SH-002",
        "--campaign",
        "2027春节",
    )
    assert rc == 0, err
    assert err == ""  # no progress bar without a terminal
    assert "issued 3 voucher(s)" in stdout
    assert sorted(p.suffix for p in out.iterdir()) == [".csv", ".pdf", ".png", ".png", ".png"]
    assert not list(ready.tmp.glob(".batch.partial-*"))
    with (out / "vouchers.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["member_ref"], r["holder"]) for r in rows] == [
        ("M001", "张*明"),
        ("M002", "李*"),
        ("M003", "John S."),
    ]
    pub = PublicKey.from_pem(
        (ready.tmp / "k.pem").read_bytes()
        if ready("export-key", "--out", str(ready.tmp / "k.pem"))[0] == 0
        else b""
    )
    for r in rows:
        v = decode_and_verify(r["qr_text"], keyring(pub))
        assert v.short_code == r["short_code"] and v.sub == r["member_ref"]
        assert v.cinemas == ("SH-001", "SH-002") and v.campaign == "2027春节"
        assert v.formats == ("2D", "3D")
        assert r["valid_until"] > r["valid_from"]
        png = out / f"{r['short_code']}.png"
        assert read_qr(png) == [r["qr_text"]]
    with session_scope(make_engine(ready.url)) as s:
        db = {v.cti: v for v in s.execute(select(Voucher)).scalars()}
        assert len(db) == 3
        for r in rows:
            v = decode_and_verify(r["qr_text"], keyring(pub))
            row = db[v.cti.hex()]
            assert row.token == r["qr_text"] and row.short_code == r["short_code"]
            assert row.member_ref == r["member_ref"] and row.holder == r["holder"]
            assert row.exp == v.exp and row.batch and row.status == "active"
    assert ready.roster_events() == 3
    pages = subprocess.run(["pdfinfo", str(out / "cards.pdf")], capture_output=True, text=True)
    assert re.search(r"^Pages:\s+1$", pages.stdout, re.M)


def test_issue_count_with_options(ready: Admin) -> None:
    out = ready.tmp / "anon"
    rc, _, err = ready(
        "issue", "--count", "9", "--out", str(out), "--formats", "2D", "--valid-days", "400"
    )
    assert rc == 0, err
    assert len(list(out.glob("*.png"))) == 9
    with (out / "vouchers.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["member_ref"] == "" and r["holder"] == "" for r in rows)
    from sync.voucher import decode_voucher

    v = decode_voucher(rows[0]["qr_text"]).voucher
    assert v.formats == ("2D",) and v.exp - v.nbf >= 400 * 86400
    info = subprocess.run(["pdfinfo", str(out / "cards.pdf")], capture_output=True, text=True)
    assert re.search(r"^Pages:\s+2$", info.stdout, re.M)
    assert ready.count(Voucher) == 9


def test_issue_into_an_existing_empty_folder(ready: Admin) -> None:
    out = ready.tmp / "empty"
    out.mkdir()
    rc, _, err = ready("issue", "--count", "1", "--out", str(out))
    assert rc == 0, err
    assert (out / "vouchers.csv").exists()


def assert_nothing_written(admin: Admin, out: Path) -> None:
    assert not out.exists() or not any(out.iterdir())
    assert not list(out.parent.glob(f".{out.name}.partial-*"))
    if (admin.tmp / "central.sqlite3").exists():
        assert admin.count(Voucher) == 0
        assert admin.roster_events() == 0


def test_issue_before_init(admin: Admin) -> None:
    out = admin.tmp / "b"
    rc, stdout, err = admin("issue", "--count", "3", "--out", str(out))
    assert rc == 2 and stdout == ""
    assert "init" in err and len(err.strip().splitlines()) == 1
    assert_nothing_written(admin, out)


BAD_CSV = {
    "unknown_column": ("会员编号,姓名,电话\nM1,张三,123\n", "unknown"),
    "duplicate_member": ("会员编号,姓名\nM1,张三\nM1,李四\n", "already on line 2"),
    "empty_csv": ("", "empty"),
    "header_only": ("会员编号,姓名\n", "no members"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_issue_refuses_bad_member_files(ready: Admin, case: str) -> None:
    text, needle = BAD_CSV[case]
    p = ready.tmp / "m.csv"
    p.write_text(text, encoding="utf-8")
    out = ready.tmp / "b"
    rc, stdout, err = ready("issue", "--members", str(p), "--out", str(out))
    assert rc == 2 and stdout == ""
    assert needle in err and len(err.strip().splitlines()) == 1
    assert_nothing_written(ready, out)


def test_issue_refuses_a_bad_encoding(ready: Admin) -> None:
    p = ready.tmp / "m.csv"
    p.write_bytes("会员编号,姓名\nM1,张三明\n".encode("gb18030"))
    out = ready.tmp / "b"
    rc, _, err = ready("issue", "--members", str(p), "--out", str(out))
    assert rc == 2 and "UTF-8" in err
    assert_nothing_written(ready, out)
    rc, _, err = ready("issue", "--members", str(p), "--out", str(out), "--encoding", "gb18030")
    assert rc == 0, err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--count", "2", "--valid-days", "364"], "12 months"),
        (["--count", "0"], "at least 1"),
        (["--count", "1000001"], "at most 1000000"),
        (["--count", "2", "--formats", "IMAX"], "IMAX"),
        (["--count", "2", "--cinemas", "a b"], "cinema"),
        (["--count", "2", "--cinemas", "SH-404"], "cinema add"),
    ],
)
def test_issue_refuses_bad_options(ready: Admin, args: list[str], needle: str) -> None:
    out = ready.tmp / "b"
    rc, _, err = ready("issue", *args, "--out", str(out))
    assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert_nothing_written(ready, out)


def test_issue_refuses_count_and_members_together(ready: Admin) -> None:
    with pytest.raises(SystemExit) as e:
        ready("issue", "--count", "2", "--members", "x.csv", "--out", str(ready.tmp / "b"))
    assert e.value.code == 2


def test_issue_refuses_unwritable_or_used_folders(ready: Admin) -> None:
    (ready.tmp / "afile").write_text("x")
    used = ready.tmp / "used"
    used.mkdir()
    (used / "old.csv").write_text("keep me")
    for out, needle in (
        (ready.tmp / "afile" / "b", "does not exist"),
        (ready.tmp / "no" / "such" / "b", "does not exist"),
        (used, "not empty"),
        (ready.tmp / "afile", "is a file"),
        (Path("/proc/cinepass-batch"), "cannot"),
    ):
        rc, _, err = ready("issue", "--count", "2", "--out", str(out))
        assert rc == 2 and needle in err, (out, err)
    assert (used / "old.csv").read_text() == "keep me"
    assert ready.count(Voucher) == 0 and ready.roster_events() == 0
    assert not list(ready.tmp.glob(".*partial*"))


def test_issue_database_failure_leaves_no_files(ready: Admin) -> None:
    """The database refuses the batch after the files are written: nothing is published."""
    con = sqlite3.connect(ready.tmp / "central.sqlite3")
    con.execute(
        "CREATE TRIGGER no_vouchers BEFORE INSERT ON voucher "
        "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"
    )
    con.commit()
    con.close()
    out = ready.tmp / "b"
    rc, stdout, err = ready("issue", "--count", "5", "--out", str(out))
    assert rc == 3 and "database" in err and "quota" in err
    assert "issued" not in stdout
    assert_nothing_written(ready, out)


def test_issue_with_an_unreadable_key_file(ready: Admin) -> None:
    key = next((ready.tmp / "keys").glob("*.pem"))
    key.write_text("not a key")
    out = ready.tmp / "b"
    rc, _, err = ready("issue", "--count", "1", "--out", str(out))
    assert rc == 2 and "key" in err
    assert_nothing_written(ready, out)


def test_console_script_end_to_end(tmp_path: Path) -> None:
    """The installed ``cinepass-admin`` entry point (and ``python -m sync.admin``)."""
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    env = {**os.environ, "LANG": "C.UTF-8"}

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=60)

    admin = str(BIN / "cinepass-admin")
    r = run(admin, "--db", url, "init", "--issuer", "T1")
    assert r.returncode == 0, r.stderr
    batch = str(tmp_path / "b")
    r = run(
        sys.executable, "-m", "sync.admin", "issue", "--db", url, "--count", "1", "--out", batch
    )
    assert r.returncode == 0, r.stderr
    r = run(admin, "--db", url, "init", "--issuer", "T1")
    assert (
        r.returncode == 2
        and r.stderr.startswith("cinepass-admin: ")
        and "Traceback" not in r.stderr
    )


def test_progress_bar_only_on_a_terminal() -> None:
    import io

    from sync.admin_issue import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress("writing", 4, stream)
        for _ in range(4):
            bar(1)
    assert pipe.getvalue() == ""
    assert tty.getvalue().endswith("] 4/4\n") and "writing" in tty.getvalue()


def test_init_issue_export_on_each_database(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same commands on SQLite and on PostgreSQL (the server's production database)."""

    def run(*argv: str) -> int:
        rc = main(["--db", db_url, *argv])
        capsys.readouterr()
        return rc

    keys = tmp_path / "keys"
    assert run("init", "--issuer", "ACFTU-SH", "--key-dir", str(keys)) == 0
    assert stat.S_IMODE(next(keys.glob("*.pem")).stat().st_mode) == 0o600
    assert run("init", "--issuer", "ACFTU-SH", "--key-dir", str(keys)) == 2
    assert run("cinema", "add", "--code", "SH-001", "--name", "一号影院") == 0
    out = tmp_path / "b"
    assert (
        run(
            "issue",
            "--members",
            str(members_csv(tmp_path, [("M1", "张三明")])),
            "--out",
            str(out),
            "--cinemas",
            "SH-001",
        )
        == 0
    )
    assert run("export-key", "--out", str(tmp_path / "k.pem")) == 0
    pub = PublicKey.from_pem((tmp_path / "k.pem").read_bytes())
    with (out / "vouchers.csv").open(encoding="utf-8-sig") as fh:
        row = next(csv.DictReader(fh))
    v = decode_and_verify(row["qr_text"], keyring(pub))
    assert (v.holder, v.sub, v.cinemas) == ("张*明", "M1", ("SH-001",))
    with session_scope(make_engine(db_url)) as s:
        db = s.execute(select(Voucher)).scalar_one()
        assert (
            db.cinemas == ["SH-001"] and db.formats == ["2D", "3D"] and db.token == row["qr_text"]
        )


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("not a url", 2),
        ("sqlite:////no/such/folder/c.db", 2),
        ("postgresql+psycopg://u@127.0.0.1:1/x", 3),
    ],
)
def test_bad_or_unreachable_database(
    url: str, code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["--db", url, "issue", "--count", "1", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert rc == code and err.startswith("cinepass-admin: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()
