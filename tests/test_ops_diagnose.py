"""``diagnose``: the support zip has logs, status and config, and not one secret."""

from __future__ import annotations

import json
import logging
import zipfile

from ops_support import make_kiosk

from kiosk.cli import main
from kiosk.config import load_config, save_config
from kiosk.engine.db import HEAD_REVISION
from kiosk.ops.logs import setup_logging
from kiosk.pin import hash_pin
from sync.voucher import encode_voucher, make_voucher
from sync.voucher.keys import write_secret_file

TOKEN = "q9Z-4mWx_T2bLr7Kc0VnYp3sHd8GfJa1eUo6Ri5Ct"


def test_diagnose_zip_leaves_no_secret(tmp_path, issuer_key, capsys):
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=2)
    # every secret a counter has: API token, device key, PIN hash, full voucher texts
    write_secret_file(paths.token, TOKEN.encode())
    cfg = load_config(paths.config)
    cfg.pin_hash = hash_pin("4711")
    save_config(paths.config, cfg)
    voucher = encode_voucher(make_voucher("ACFTU-SH"), issuer_key)
    device_pem = paths.device_key.read_text()
    key_body = "".join(line for line in device_pem.splitlines() if not line.startswith("-----"))

    setup_logging(paths)
    log = logging.getLogger("kiosk.test")
    log.info("scan %s", voucher)
    log.warning("POST /api/v1/upload Authorization: Bearer %s -> 500", TOKEN)
    log.error("config dump %s", json.dumps(cfg.to_json()))
    log.error("key file says %s", device_pem)
    try:
        raise RuntimeError(f"token {TOKEN} rejected for voucher {voucher}")
    except RuntimeError:
        log.exception("sync failed")
    # and one log line written by something that bypassed the filter (an old version, a crash)
    for h in logging.getLogger().handlers:
        h.flush()
    raw = paths.logs / "cinepass-kiosk.log.1"
    raw.write_text(f"old line token={TOKEN} {voucher} {device_pem} {cfg.pin_hash}\n")

    out = tmp_path / "support.zip"
    assert main(["--home", str(paths.home), "diagnose", "--out", str(out)]) == 0
    assert "no secrets" in capsys.readouterr().out

    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {
            "status.json",
            "config.json",
            "logs/cinepass-kiosk.log",
            "logs/cinepass-kiosk.log.1",
        } <= names
        texts = {n: zf.read(n).decode("utf-8") for n in names}
    blob = "\n".join(texts.values())
    secrets = {
        "token": TOKEN,
        "voucher": voucher,
        "voucher prefix": voucher[:30],
        "pin hash": cfg.pin_hash,
        "pin hash tail": cfg.pin_hash.rsplit("$", 1)[-1],
        "device key": key_body,
        "device key line": device_pem.splitlines()[1],
    }
    for name, secret in secrets.items():
        assert secret not in blob, name
    for stored in ("kiosk.sqlite3", "device.key", "device.token"):
        assert not any(n.endswith(stored) for n in names)
    # ...and what support needs is there
    status = json.loads(texts["status.json"])
    assert status["health"]["version"] and status["store"]["pending"] == 2
    assert status["store"]["schema"] == HEAD_REVISION and status["store"]["integrity"] == "ok"
    assert status["enrolled"] is True and status["device_key_present"] is True
    assert any(f["file"] == "device.key" and f["mode"] == "0o600" for f in status["files"])
    config = json.loads(texts["config.json"])
    assert config["pin_hash"] == "<set>" and config["cinema"] == "SH-001"
    assert "scan CP1:<redacted voucher>" in texts["logs/cinepass-kiosk.log"]
    assert "sync failed" in texts["logs/cinepass-kiosk.log"]


def test_diagnose_on_a_fresh_machine(tmp_path, capsys):
    home = tmp_path / "new"
    assert main(["--home", str(home), "diagnose", "--json"]) == 0
    zpath = json.loads(capsys.readouterr().out)["diagnose"]
    with zipfile.ZipFile(zpath) as zf:
        assert "not set up" in zf.read("config.json").decode()
        assert json.loads(zf.read("status.json"))["store"] == {"exists": False}


def test_diagnose_out_must_not_be_a_folder(tmp_path, capsys):
    assert main(["--home", str(tmp_path / "k"), "diagnose", "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_health_report_is_json_and_redacted(tmp_path, issuer_key):
    from kiosk import __version__
    from kiosk.ops.backup import backup_now
    from kiosk.ops.health import collect

    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=1)
    backup_now(paths)
    voucher = encode_voucher(make_voucher("ACFTU-SH"), issuer_key)
    h = collect(
        paths,
        pending=4,
        clock_offset=-1.23456,
        last_error=f"upload of {voucher} token={TOKEN} failed",
    )
    assert json.loads(json.dumps(h)) == h
    assert h["version"] == __version__ and h["pending"] == 4 and h["clock_offset"] == -1.235
    assert (
        TOKEN not in h["last_error"]
        and voucher not in h["last_error"]
        and "failed" in h["last_error"]
    )
    assert h["uptime"] >= 0 and h["os"] and h["disk_free_mb"] > 0 and h["last_backup"]
    assert collect()["pending"] is None and "disk_free_mb" not in collect()
