"""The provisioning file: enrols silently against the real server, used once, deleted, logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from syncsupport import Central

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.ops.logs import log_file, setup_logging
from kiosk.ops.provisioning import (
    FAILED_NAME,
    FILE_NAME,
    ProvisioningError,
    apply_provision_file,
    find_provision_file,
    run_pending,
)
from kiosk.paths import KioskPaths

pytestmark = pytest.mark.timeout(120)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _drop(folder: Path, data: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / FILE_NAME
    f.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return f


def _log(paths: KioskPaths) -> str:
    import logging

    for h in logging.getLogger().handlers:
        h.flush()
    return log_file(paths).read_text(encoding="utf-8")


@SQLITE_ONLY
def test_provision_file_enrols_once_then_is_deleted(central: Central, tmp_path: Path) -> None:
    paths = KioskPaths(tmp_path / "kiosk")
    setup_logging(paths)
    code = central.code("CIN-A")
    exe_dir = tmp_path / "program"
    f = _drop(
        exe_dir,
        {
            "server_url": central.url,
            "enrolment_code": code,
            "counter": "3号窗口",
            "kiosk_mode": True,
        },
    )
    result = run_pending(paths, search_dirs=[exe_dir, paths.home])
    assert result is not None and result.enrolled
    assert not f.exists()  # consumed: the one-time code no longer lies around
    cfg = load_config(paths.config)
    assert cfg.cinema == "CIN-A" and cfg.device_id.startswith("dev-")
    assert cfg.counter == "3号窗口" and cfg.kiosk_mode is True
    assert paths.token.exists()
    text = _log(paths)
    assert "applied: enrolled with" in text and "3号窗口" in text and "deleted" in text
    assert code not in text and paths.token.read_text().strip() not in text
    # a second start finds nothing to do
    assert run_pending(paths, search_dirs=[exe_dir, paths.home]) is None


@SQLITE_ONLY
def test_refused_code_keeps_the_file_for_it(central: Central, tmp_path: Path) -> None:
    paths = KioskPaths(tmp_path / "kiosk")
    setup_logging(paths)
    f = _drop(paths.home, {"server_url": central.url, "enrolment_code": "WRONG-CODE-1234"})
    with pytest.raises(ProvisioningError) as info:
        apply_provision_file(paths, f)
    assert info.value.reason == "bad_code"
    assert not f.exists()
    kept = paths.home / FAILED_NAME
    assert json.loads(kept.read_text())["enrolment_code"] == "WRONG-CODE-1234"
    assert "enrolment code is wrong" in kept.with_suffix(".txt").read_text()
    assert not paths.config.exists()
    assert "WRONG-CODE-1234" not in _log(paths)


def test_unreachable_server_keeps_the_file_for_the_next_start(tmp_path: Path) -> None:
    from sync.server.embedded import free_port

    paths = KioskPaths(tmp_path / "kiosk")
    f = _drop(
        paths.home, {"server_url": f"http://127.0.0.1:{free_port()}", "code": "ABCD-EFGH-JKMN"}
    )
    assert run_pending(paths, search_dirs=[paths.home]) is None
    assert f.exists() and not (paths.home / FAILED_NAME).exists()
    assert not paths.config.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "must be a JSON object"),
        (
            {"server_url": "https://x.example", "enrolment_code": "A", "colour": "red"},
            "unknown field 'colour'",
        ),
        ({"server_url": "https://x.example"}, "go together"),
        ({"counter": 3}, "'counter' has the wrong type"),
        ({"kiosk_mode": "yes"}, "'kiosk_mode' has the wrong type"),
        ({"server_url": "ftp://x", "code": "A"}, "must start with https://"),
        ({}, "nothing to do"),
    ],
)
def test_bad_file_is_renamed_with_a_clear_reason(
    tmp_path: Path, content: object, message: str, capsys
) -> None:
    paths = KioskPaths(tmp_path / "kiosk")
    f = _drop(paths.home, content)
    assert main(["--home", str(paths.home), "provision", "--file", str(f)]) == 2
    err = capsys.readouterr().err
    assert message in err and FAILED_NAME in err
    assert not f.exists()
    assert message in (paths.home / FAILED_NAME.replace(".json", ".txt")).read_text()
    assert not paths.config.exists()
    assert "provisioning file rejected" in _log(paths)


def test_settings_only_file_changes_an_existing_kiosk(tmp_path: Path, issuer_key, capsys) -> None:
    from ops_support import make_kiosk

    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=0)
    f = _drop(paths.home, {"counter": "VIP 窗口", "kiosk_mode": True, "language": "en"})
    assert main(["--home", str(paths.home), "provision", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["enrolled"] is False and "VIP 窗口" in out["summary"]
    cfg = load_config(paths.config)
    assert (cfg.counter, cfg.kiosk_mode, cfg.language, cfg.cinema) == (
        "VIP 窗口",
        True,
        "en",
        "SH-001",
    )
    assert not f.exists()


def test_settings_only_file_on_a_new_kiosk_says_not_set_up(tmp_path: Path) -> None:
    paths = KioskPaths(tmp_path / "kiosk")
    f = _drop(paths.home, {"counter": "1号窗口"})
    with pytest.raises(ProvisioningError, match="not set up"):
        apply_provision_file(paths, f)
    assert (paths.home / FAILED_NAME).exists()


def test_undeletable_file_is_applied_only_once(tmp_path: Path, issuer_key) -> None:
    """A program folder the clerk's account cannot write: the digest is remembered instead."""
    import os
    import subprocess

    from ops_support import make_kiosk

    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=0)
    setup_logging(paths)
    program = tmp_path / "program"
    f = _drop(program, {"counter": "A"})
    if os.geteuid() == 0:  # root deletes in read-only folders: make the file immutable instead
        lock, unlock = ["chattr", "+i", str(f)], ["chattr", "-i", str(f)]
    else:
        lock, unlock = ["chmod", "555", str(program)], ["chmod", "755", str(program)]
    subprocess.run(lock, check=True)
    try:
        assert run_pending(paths, search_dirs=[program]) is not None
        assert f.exists()
        assert find_provision_file(paths, [program]) is None
        assert load_config(paths.config).counter == "A"
        assert "recorded as applied" in _log(paths)
    finally:
        subprocess.run(unlock, check=True)


def test_no_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert main(["--home", str(tmp_path / "k"), "provision"]) == 2
    assert FILE_NAME in capsys.readouterr().err
