"""Log redaction, rotating log files, the crash handler and the watchdog."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading

import pytest

from kiosk.ops import crash
from kiosk.ops.logs import RedactingFilter, log_file, redact, setup_logging
from kiosk.ops.watchdog import Watchdog
from kiosk.paths import KioskPaths
from sync.voucher import PrivateKey, encode_voucher, make_voucher

TOKEN = "Xq3_vL9-Rk2ZpW8mN4tY7bC1dF6gH0jK5sA2eU9oI"  # shaped like secrets.token_urlsafe(32)


@pytest.fixture
def secrets_(issuer_key):
    key = PrivateKey.generate()
    return {
        "token": TOKEN,
        "pem": key.to_pem().decode(),
        "pin_hash": "scrypt$16384$8$1$" + "ab" * 16 + "$" + "cd" * 32,
        "voucher": encode_voucher(make_voucher("ACFTU-SH"), issuer_key),
        "code": "K7QM-4XPA-9RTE",
        "hexkey": key.public.raw.hex(),
    }


def test_redact_removes_every_kind_of_secret(secrets_):
    s = secrets_
    lines = [
        f"Authorization: Bearer {s['token']}",
        f"upload failed token={s['token']} status=500",
        f"device key:\n{s['pem']}",
        f'config {{"pin_hash": "{s["pin_hash"]}", "cinema": "SH-001"}}',
        f"scanned {s['voucher']} at counter 1",
        f"enrol --code {s['code']} failed",
        f"enrolment_code={s['code']}",
        f"raw key {s['hexkey']}",
    ]
    for line in lines:
        out = redact(line)
        for name, secret in s.items():
            assert secret not in out, (name, out)
            if name == "voucher":
                assert secret[:40] not in out
    # what support needs survives
    assert "status=500" in redact(lines[1])
    assert "SH-001" in redact(lines[3])
    assert "at counter 1" in redact(lines[4])
    keep = "record 123e4567-e89b-12d3-a456-426614174000 kiosk-20261201-091008-pre-upgrade.sqlite3"
    assert redact(keep) == keep


def test_codes_and_pins_in_every_spelling_are_redacted():
    assert "K7QM" not in redact("code: K7QM-4XPA-9RTE")
    assert "K7QM" not in redact("cinepass-kiosk enroll --server https://x --code=K7QM-4XPA-9RTE")
    assert "4711" not in redact("manager --pin 4711 ok")
    assert redact("backup --list --json") == "backup --list --json"
    assert "K7QM" not in redact('"code": "K7QM-4XPA-9RTE"')


def test_file_handler_redacts_args_tracebacks_and_other_loggers(tmp_path, secrets_):
    paths = KioskPaths(tmp_path / "k")
    path = setup_logging(paths)
    assert path == paths.logs / "cinepass-kiosk.log"
    assert setup_logging(paths) == path  # idempotent: no duplicate handler
    logging.getLogger("urllib3.connectionpool").warning(
        "GET /api/v1/feeds?token=%s", secrets_["token"]
    )
    logging.getLogger("kiosk.engine").info("scan %s", secrets_["voucher"])
    try:
        raise ValueError(f"bad pin hash {secrets_['pin_hash']} for {secrets_['voucher']}")
    except ValueError:
        logging.getLogger("kiosk").exception("while checking")
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text(encoding="utf-8")
    for name, secret in secrets_.items():
        assert secret not in text, name
    assert text.count("scan CP1:<redacted voucher>") == 1
    assert "ValueError: bad pin hash <redacted hash>" in text
    assert "Traceback" in text
    assert (path.stat().st_mode & 0o777) in (0o600, 0o644)


def test_filter_keeps_a_record_with_a_broken_format_string():
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "value %d", ("nope",), None)
    assert RedactingFilter().filter(rec) is True
    assert "value" in rec.getMessage()


def test_crash_handler_writes_the_traceback_and_shows_the_dialog(tmp_path):
    paths = KioskPaths(tmp_path / "k")
    path = setup_logging(paths)
    shown = []
    crash.install(log_path=str(path), dialog=lambda title, body: shown.append((title, body)))
    try:
        try:
            raise RuntimeError(f"camera exploded token={TOKEN}")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())  # what the interpreter calls for an uncaught exception

        def worker() -> None:
            raise KeyError("sync thread died")

        t = threading.Thread(target=worker, name="cinepass-sync")
        t.start()
        t.join()
    finally:
        crash.uninstall()
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text(encoding="utf-8")
    assert "CRITICAL" in text and "uncaught exception" in text
    assert "RuntimeError: camera exploded token=<redacted>" in text and TOKEN not in text
    assert "uncaught exception in thread cinepass-sync" in text and "KeyError" in text
    assert len(shown) == 1  # the main-thread crash only: worker threads just log
    assert str(path) in shown[0][1] and "联系技术支持" in shown[0][1]


def test_crash_in_a_real_process_lands_in_its_log(tmp_path):
    """A process that dies of an exception leaves the traceback in its log file."""
    home = tmp_path / "k"
    code = textwrap.dedent(
        f"""
        from kiosk.ops import crash
        from kiosk.ops.logs import setup_logging
        from kiosk.paths import KioskPaths
        from pathlib import Path
        p = setup_logging(KioskPaths(Path({str(home)!r})))
        crash.install(log_path=str(p), dialog=None)
        def deep():
            raise ZeroDivisionError("the tally divided by zero")
        deep()
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    text = log_file(KioskPaths(home)).read_text(encoding="utf-8")
    assert "ZeroDivisionError: the tally divided by zero" in text and "in deep" in text


def test_watchdog_restarts_a_dead_worker_with_backoff():
    now = [0.0]
    state = {"alive": True, "starts": 0}

    def start() -> None:
        state["starts"] += 1
        state["alive"] = False  # dies again at once

    dog = Watchdog(clock=lambda: now[0])
    dog.watch("camera", lambda: state["alive"], start)
    assert dog.check() == []
    state["alive"] = False
    assert dog.check() == ["camera"]
    assert dog.check() == []  # back-off: not again in the same second
    now[0] = 1.5
    assert dog.check() == ["camera"]
    now[0] = 2.0
    assert dog.check() == []  # now 2 s back-off
    now[0] = 3.6
    assert dog.check() == ["camera"]
    assert state["starts"] == 3 and dog.restarts("camera") == 3


def test_watchdog_restarts_a_real_thread():
    threads: list[threading.Thread] = []
    ran = threading.Event()

    def spawn() -> None:
        t = threading.Thread(target=ran.set, name="sync")
        threads.append(t)
        t.start()

    spawn()
    threads[0].join()
    ran.clear()
    dog = Watchdog()
    dog.watch("sync", lambda: threads[-1].is_alive(), spawn)
    dog.start(interval=0.05)
    try:
        assert ran.wait(5)
    finally:
        dog.stop()
    assert len(threads) >= 2
