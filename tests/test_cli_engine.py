"""``cinepass-kiosk`` engine commands: exit codes, JSON contract, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers_qr import qr_png, video_of_texts, voucher_token

from kiosk.cli import main
from sync.businessday import DEFAULT as DEFAULT_DAY
from sync.voucher import PrivateKey, decode_voucher

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    rc, out, _ = run(capsys, *argv)
    lines = out.strip().splitlines()
    assert len(lines) == 1, out  # exactly one JSON object
    return rc, json.loads(lines[0])


@pytest.fixture()
def pem(tmp_path: Path, issuer_key: PrivateKey) -> Path:
    p = tmp_path / "issuer.pub.pem"
    p.write_bytes(issuer_key.public.to_pem())
    return p


@pytest.fixture()
def home(tmp_path: Path, pem: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    h = tmp_path / "home"
    rc, out = run_json(
        capsys, "--home", str(h), "init", "--cinema", "SH01", "--issuer-key", str(pem), "--json"
    )
    assert rc == 0 and out["cinema"] == "SH01"
    return h


def now_token(key: PrivateKey, **kw: object) -> str:
    return voucher_token(key, now=int(time.time()) - 60, **kw)


def test_verify_without_a_home_uses_only_the_given_keys(
    tmp_path: Path, pem: Path, issuer_key: PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "nohome"
    tok = now_token(issuer_key, holder="张*明", formats=("3D",), cinemas=("BJ01",))
    f = tmp_path / "v.txt"
    f.write_text(tok + "\n")
    verify = ("--home", str(empty), "verify", "--issuer-key", str(pem))
    rc, j = run_json(capsys, *verify, "--format", "3D", "--json", f"@{f}")
    assert rc == 0
    assert (j["verdict"], j["reason"], j["message"]) == ("accepted", "accepted", "有效（未核销）")
    v = j["voucher"]
    assert v["id"] == decode_voucher(tok).voucher.short_code
    assert (v["formats"], v["holder"], v["exp"]) == (
        ["3D"],
        "张*明",
        decode_voucher(tok).voucher.exp,
    )
    rc, j = run_json(capsys, *verify, "--cinema", "SH01", "--format", "3D", "--json", tok)
    assert rc == 1 and j["reason"] == "wrong_cinema"
    rc, _, err = run(capsys, "--home", str(empty), "verify", tok)
    assert rc == 3 and "not set up" in err
    assert not empty.exists()  # verify created nothing


def test_init_redeem_verify_void_status_tally(
    home: Path, issuer_key: PrivateKey, pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = ["--home", str(home)]
    tok = now_token(issuer_key)
    rc, j = run_json(capsys, *h, "verify", "--json", tok)
    assert rc == 0 and j["record"] is None
    rc, j = run_json(capsys, *h, "status", "--json")
    assert (j["pending"], j["trusted_keys"], j["clock_ok"]) == (
        0,
        1,
        True,
    )  # verify recorded nothing
    rc, j = run_json(capsys, *h, "redeem", "--staff", "王", "--json", tok)
    assert rc == 0 and j["verdict"] == "accepted" and j["record"]
    rc, j = run_json(capsys, *h, "redeem", "--staff", "李", "--json", tok)
    assert rc == 1 and j["reason"] == "already_redeemed" and j["detail"]["staff"] == "王"
    rc, j = run_json(
        capsys, *h, "redeem", "--format", "3D", "--json", now_token(issuer_key, formats=("2D",))
    )
    assert rc == 1 and j["reason"] == "wrong_format"
    rc, out, _ = run(
        capsys,
        *h,
        "redeem",
        "--staff",
        "王",
        now_token(issuer_key, formats=("3D",)),
        "--format",
        "3D",
    )
    assert rc == 0 and out.startswith("ACCEPTED")
    rc, j = run_json(capsys, *h, "undo", "--json")
    assert rc == 0 and j["reason"] == "voided"
    rc, j = run_json(capsys, *h, "void", "--json")
    assert rc == 1 and j["reason"] == "already_voided"
    rc, j = run_json(capsys, *h, "status", "--json")
    for key in (
        "pending",
        "synced",
        "conflicts",
        "revocations",
        "roster",
        "trusted_keys",
        "last_sync",
        "clock_ok",
        "online",
    ):
        assert key in j
    assert (j["pending"], j["synced"], j["cinema"]) == (3, 0, "SH01")
    rc, j = run_json(capsys, *h, "tally", "--json")
    assert rc == 0
    assert set(j) == {
        "date",
        "accepted",
        "by_format",
        "by_hour",
        "by_staff",
        "rejected",
        "voided",
        "pending",
        "synced",
    }
    assert j["date"] == DEFAULT_DAY.today(int(time.time() * 1000)).isoformat()
    assert (j["accepted"], j["voided"], j["by_format"], j["by_staff"]) == (
        1,
        1,
        {"2D": 1, "3D": 0},
        {"王": 1},
    )
    assert j["rejected"] == {"already_redeemed": 1, "wrong_format": 1}
    assert sum(j["by_hour"].values()) == 1 and all(len(k) == 2 for k in j["by_hour"])
    rc, out, _ = run(capsys, *h, "tally", "--csv")
    assert (
        rc == 0 and out.splitlines()[0] == "section,key,count" and "rejected,wrong_format,1" in out
    )
    rc, j = run_json(capsys, *h, "tally", "--date", "2001-01-01", "--json")
    assert j["accepted"] == 0 and j["date"] == "2001-01-01"
    rc, _, err = run(capsys, *h, "init", "--cinema", "X", "--issuer-key", str(pem))
    assert rc == 2 and "already set up" in err


def test_bad_input_exits_2_with_one_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = ["--home", str(home)]
    cases = [
        (["redeem", "@" + str(tmp_path / "missing.txt")], "no such file"),
        (["redeem", "@" + str(tmp_path)], "folder"),
        (["verify", "--issuer-key", str(tmp_path / "nokey.pem"), "x"], "cannot read key file"),
        (["tally", "--date", "2026-02-30"], "not a date"),
        (["decode", str(tmp_path / "missing.png")], "no such file"),
    ]
    for argv, words in cases:
        rc, out, err = run(capsys, *h, *argv)
        assert rc == 2, (argv, rc, err)
        assert words in err and len(err.strip().splitlines()) == 1, err
    bad_pem = tmp_path / "bad.pem"
    bad_pem.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    rc, _, err = run(capsys, *h, "verify", "--issuer-key", str(bad_pem), "x")
    assert rc == 2 and "not a PEM public key" in err
    with pytest.raises(SystemExit) as exc:
        main([*h, "redeem", "--format", "4D", "x"])
    assert exc.value.code == 2
    rc, out, _ = run(capsys, *h, "verify", "--json", "hello")
    assert rc == 1 and json.loads(out)["reason"] == "not_a_voucher"


def test_decode_json_in_the_order_given(
    tmp_path: Path, issuer_key: PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    tok = now_token(issuer_key)
    a = qr_png(tmp_path / "a.png", tok)
    v = video_of_texts(tmp_path / "v.avi", ["CP1:X", None, tok, "CP1:X"])
    rc, j = run_json(capsys, "decode", "--json", str(v), str(a))
    assert rc == 0
    assert j == {
        "files": [{"path": str(v), "texts": ["CP1:X", tok]}, {"path": str(a), "texts": [tok]}]
    }
    empty = qr_png(tmp_path / "e.png", "x")
    import cv2
    import numpy as np

    cv2.imwrite(str(empty), np.full((50, 50), 255, np.uint8))
    rc, j = run_json(capsys, "decode", "--decoder", "pyzbar", "--json", str(a), str(empty))
    assert rc == 1 and j["files"][1]["texts"] == [] and j["files"][0]["texts"] == [tok]


def test_commands_do_not_import_qt_or_opencv_and_answer_fast(
    home: Path, issuer_key: PrivateKey
) -> None:
    tok = now_token(issuer_key)
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from kiosk.cli import main\n"
        f"rc = main(['--home', {str(home)!r}, 'verify', '--json', {tok!r}])\n"
        "bad = [m for m in ('cv2', 'PySide6', 'numpy') if m in sys.modules]\n"
        "print(rc, bad, round(time.perf_counter() - t, 3), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30
    )
    parts = r.stderr.strip().splitlines()[-1].split(" ", 1)
    assert parts[0] == "0", r.stderr
    assert "[]" in parts[1], f"verify imported {parts[1]}"
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--home", str(home), "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    wall = time.perf_counter() - t0
    assert r.returncode == 0 and json.loads(r.stdout)["trusted_keys"] == 1
    assert wall < 2.0, f"status took {wall:.2f} s"  # ~0.3 s here; generous for a busy CI box


def test_verify_issuer_key_adds_to_a_set_up_home_for_this_call_only(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = PrivateKey.generate()
    pem2 = tmp_path / "other.pem"
    pem2.write_bytes(other.public.to_pem())
    tok = now_token(other)
    h = ["--home", str(home)]
    rc, j = run_json(capsys, *h, "verify", "--json", tok)
    assert rc == 1 and j["reason"] == "unknown_key" and j["voucher"] is None
    rc, j = run_json(capsys, *h, "verify", "--issuer-key", str(pem2), "--json", tok)
    assert rc == 0 and j["reason"] == "accepted"
    rc, j = run_json(capsys, *h, "redeem", "--json", tok)  # not trusted for good
    assert rc == 1 and j["reason"] == "unknown_key"


def test_roster_import_lets_a_standalone_counter_take_typed_codes(
    tmp_path: Path, home: Path, issuer_key: PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [now_token(issuer_key) for _ in range(3)]
    code = decode_voucher(good[1]).voucher.short_code
    rc, out = run_json(capsys, "--home", str(home), "redeem", "--json", code)
    assert rc == 1 and out["reason"] == "unknown_code"  # not in the roster yet

    def write(name: str, tokens: list[str]) -> Path:
        p = tmp_path / name
        p.write_text(
            "\ufeffshort_code,member_ref,holder,valid_from,valid_until,qr_text\n"
            + "".join(f"x,,,,,{t}\n" for t in tokens),
            encoding="utf-8",
        )
        return p

    forged = voucher_token(PrivateKey.generate())
    rc, _out, err = run(
        capsys, "--home", str(home), "roster-import", str(write("bad.csv", [*good, forged]))
    )
    assert rc == 2 and "line 5" in err and "nothing imported" in err
    rc, out = run_json(capsys, "--home", str(home), "status", "--json")
    assert out["roster"] == 0  # one bad row changed nothing
    rc, out = run_json(
        capsys, "--home", str(home), "roster-import", "--json", str(write("ok.csv", good))
    )
    assert rc == 0 and out == {"imported": 3, "roster": 3}
    rc, out = run_json(
        capsys, "--home", str(home), "redeem", "--json", code.lower().replace("-", "")
    )
    assert rc == 0 and out["reason"] == "accepted" and out["voucher"]["id"] == code
    not_csv = tmp_path / "x.csv"
    not_csv.write_bytes(b"\xff\xfe\x00garbage")
    rc, _out, err = run(capsys, "--home", str(home), "roster-import", str(not_csv))
    assert rc == 2 and "UTF-8" in err


def test_a_closed_pipe_keeps_the_exit_code_and_prints_no_traceback(
    home: Path, issuer_key: PrivateKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cinepass-kiosk redeem @v.txt | head -1``: the reader goes, the redemption stands."""
    tok = now_token(issuer_key)
    f = tmp_path / "v.txt"
    f.write_text(tok + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "kiosk.cli", "--home", str(home), "redeem", f"@{f}"]
    for extra, want in (([], 0), (["--json"], 1)):  # accepted, then refused as already redeemed
        p = subprocess.Popen(
            [*argv, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()  # the reader is gone before the kiosk writes a line
        err = p.stderr.read().decode()
        assert p.wait(timeout=30) == want, err
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
    # the shell's own pipe: exit status of the kiosk, not of head
    r = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$@" | head -c 0', "sh", *argv, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    rc, j = run_json(capsys, "--home", str(home), "status", "--json")
    assert rc == 0 and j["pending"] == 1  # the first redemption was recorded once


def test_command_modules_do_not_import_the_cli_back() -> None:
    """kiosk.cli imports the command modules; they never import it (no cycle to hide)."""
    code = (
        "import sys\n"
        "import kiosk.commands.engine, kiosk.commands.sync, kiosk.commands.ops\n"
        "print('kiosk.cli' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30
    )
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stdout + r.stderr
