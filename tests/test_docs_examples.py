"""What the README and docs/ tell a new user works as written (issue 11, item 10).

* ``docs/members-example.csv`` is accepted by the real ``cinepass-admin issue``
  (a subprocess of the installed command on a real SQLite database), as UTF-8,
  UTF-8 with a BOM, GB18030 (``--encoding gb18030``) and with semicolons, as
  ``docs/members-csv.md`` says; the masked names it documents are the ones printed.
* every header spelling ``docs/members-csv.md`` lists is accepted;
* the OpenAPI page the README names is where the real ``cinepass-server`` serves it.
"""

from __future__ import annotations

import csv
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sync.members import read_members

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLE = ROOT / "docs" / "members-example.csv"
DOC = ROOT / "docs" / "members-csv.md"


def admin(url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "cinepass-admin"), "--db", url, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture()
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    r = admin(url, "init", "--issuer", "ACFTU-SH", "--name", "上海市总工会")
    assert r.returncode == 0, r.stderr
    return url


def documented_masks() -> dict[str, str]:
    """name -> masked name, from the "张三明 → 张\\*明" examples of members-csv.md."""
    pairs = re.findall(r"([^\s(,]+(?: [A-Z][a-z]+)?) → ([^\s,)]+(?: [A-Z]\.)?)", DOC.read_text())
    return {a: b.replace("\\*", "*") for a, b in pairs}


def issued(folder: Path) -> dict[str, str]:
    with open(folder / "vouchers.csv", encoding="utf-8-sig", newline="") as fh:
        return {row["member_ref"]: row["holder"] for row in csv.DictReader(fh)}


def test_the_example_members_file_is_accepted_by_issue(db: str, tmp_path: Path) -> None:
    out = tmp_path / "batch"
    r = admin(db, "issue", "--members", str(EXAMPLE), "--out", str(out))
    assert r.returncode == 0, r.stderr
    names = dict(csv.reader(EXAMPLE.read_text(encoding="utf-8").splitlines()[1:]))
    holders = issued(out)
    assert set(holders) == set(names) and len(holders) == 5
    masks = documented_masks()
    assert set(masks) == set(names.values()), masks  # the doc shows every example name
    assert {ref: masks[name] for ref, name in names.items()} == holders
    cards_text = subprocess.run(
        ["pdftotext", str(out / "cards.pdf"), "-"], capture_output=True, check=True, text=True
    ).stdout
    flat = cards_text.replace("\n", "").replace(" ", "")
    rights = ("周末及法定节假日通用", "出示本券二维码扫码", "告知券码", "不可转售", "不可兑现")
    for right in (*rights, "挂失冻结", "补发新券", "所有合作影院", *holders.values()):
        assert right.replace(" ", "") in flat, right  # the card states the member's rights


@pytest.mark.parametrize(
    ("variant", "extra"),
    [
        ("bom", []),
        ("gb18030", ["--encoding", "gb18030"]),
        ("semicolons", []),
    ],
)
def test_the_documented_encodings_and_separators(
    db: str, tmp_path: Path, variant: str, extra: list[str]
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    path = tmp_path / f"members-{variant}.csv"
    if variant == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    elif variant == "gb18030":
        path.write_bytes(text.encode("gb18030"))
    else:
        path.write_text(text.replace(",", ";"), encoding="utf-8")
    out = tmp_path / f"batch-{variant}"
    r = admin(db, "issue", "--members", str(path), "--out", str(out), *extra)
    assert r.returncode == 0, r.stderr
    assert len(issued(out)) == 5
    if variant == "gb18030":  # and without the option it is refused, with the hint
        r = admin(db, "issue", "--members", str(path), "--out", str(tmp_path / "no"))
        assert r.returncode == 2 and "--encoding gb18030" in r.stderr
        assert not (tmp_path / "no").exists()


def test_every_documented_header_is_accepted(tmp_path: Path) -> None:
    table = [
        ln for ln in DOC.read_text().splitlines() if ln.startswith("| member") or "· 姓名" in ln
    ]
    ref_row, name_row = (re.findall(r"`([^`]+)`", ln.rsplit("|", 2)[1]) for ln in table[:2])
    assert len(ref_row) >= 10 and len(name_row) >= 5
    for ref_h in ref_row:
        for name_h in name_row:
            for text in (f"{ref_h},{name_h}\nM1,张三\n", f"{name_h},{ref_h}\n张三,M1\n"):
                p = tmp_path / "m.csv"  # either order
                p.write_text(text, encoding="utf-8")
                got = [(m.ref, m.name) for m in read_members(p)]
                assert got == [("M1", "张三")], (ref_h, name_h)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_readme_openapi_path_is_served(db: str) -> None:
    found = re.search(r"OpenAPI at (/\S+?)\)", (ROOT / "README.md").read_text())
    assert found, "the README names the OpenAPI page"
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "cinepass-server"), "--db", db, "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}{found.group(1)}"
        deadline = time.monotonic() + 30
        while True:  # wait for the server to listen (a condition, not a fixed sleep)
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    status, body = resp.status, resp.read().decode()
                break
            except urllib.error.HTTPError as exc:
                status, body = exc.code, ""
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "cinepass-server did not start"
                time.sleep(0.05)
        assert status == 200 and "swagger" in body.lower(), (url, status)
    finally:
        server.terminate()
        server.wait(timeout=20)
