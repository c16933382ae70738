"""``cinepass-kiosk verify`` records nothing, so it says so (issue 11, item 3).

Through the real installed command in a subprocess, with a real home made by
``cinepass-kiosk init`` and a real signed voucher: ``verify`` says 有效（未核销）
/ Valid, not redeemed (Chinese first) where it used to say 核销成功 / Accepted;
its JSON keeps every key and the ``accepted`` values (a public contract), only
the human text changes; ``redeem`` still says 核销成功.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers_qr import voucher_token

from sync.voucher import PrivateKey

KIOSK = Path(sys.executable).with_name("cinepass-kiosk")


def kiosk(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [str(KIOSK), *argv], capture_output=True, text=True, timeout=60, env=env, check=False
    )


@pytest.fixture()
def setup(tmp_path: Path, issuer_key: PrivateKey) -> tuple[Path, Path, str]:
    """(home, issuer public key PEM, a voucher valid now) with a home made by ``init``."""
    pem = tmp_path / "issuer.pub.pem"
    pem.write_bytes(issuer_key.public.to_pem())
    home = tmp_path / "home"
    r = kiosk("--home", str(home), "init", "--cinema", "SH01", "--issuer-key", str(pem))
    assert r.returncode == 0, r.stderr
    token = voucher_token(issuer_key, now=int(time.time()) - 60, holder="张*明")
    return home, pem, token


def test_verify_says_valid_not_redeemed_and_records_nothing(setup: tuple[Path, Path, str]) -> None:
    home, _pem, token = setup
    r = kiosk("--home", str(home), "verify", token)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert "有效（未核销）" in first and "Valid, not redeemed" in first, first
    assert first.index("有效（未核销）") < first.index("Valid, not redeemed")  # Chinese first
    assert "[accepted]" in first  # the reason code is unchanged
    assert "核销成功" not in r.stdout and "Accepted" not in r.stdout
    status = json.loads(kiosk("--home", str(home), "status", "--json").stdout)
    assert status["pending"] == 0  # verify recorded nothing


def test_verify_json_keeps_keys_and_values_only_the_words_change(
    setup: tuple[Path, Path, str],
) -> None:
    home, _pem, token = setup
    r = kiosk("--home", str(home), "verify", "--json", token)
    assert r.returncode == 0, r.stderr
    check = json.loads(r.stdout)
    assert (check["verdict"], check["reason"], check["record"]) == ("accepted", "accepted", None)
    assert (check["message"], check["message_en"]) == ("有效（未核销）", "Valid, not redeemed")
    assert "未记录" in check["next_step"]  # what to do next says nothing was recorded
    r = kiosk("--home", str(home), "redeem", "--staff", "王", "--json", token)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert list(check) == list(done)  # the same keys, in the same order
    assert (done["verdict"], done["reason"]) == ("accepted", "accepted")
    assert (done["message"], done["message_en"]) == ("核销成功", "Accepted")
    assert done["record"]


def test_redeem_still_says_accepted(setup: tuple[Path, Path, str]) -> None:
    home, _pem, token = setup
    r = kiosk("--home", str(home), "redeem", "--staff", "王", token)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ACCEPTED [accepted] 核销成功 / Accepted"), r.stdout


def test_verify_without_a_home_says_the_same(tmp_path: Path, setup: tuple[Path, Path, str]) -> None:
    _home, pem, token = setup
    r = kiosk("--home", str(tmp_path / "nohome"), "verify", "--issuer-key", str(pem), token)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("VALID [accepted] 有效（未核销） / Valid, not redeemed"), r.stdout
    assert not (tmp_path / "nohome").exists()
