"""The window's start-up sequence: log, lock, provisioning, upgrade, daily backup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ops_support import make_kiosk, record_uuids, revision, run_alembic

from kiosk.config import load_config
from kiosk.engine.db import HEAD_REVISION, MIGRATIONS_DIR
from kiosk.ops import crash
from kiosk.ops.backup import list_backups
from kiosk.ops.single_instance import InstanceLock
from kiosk.ops.startup import attach, prepare


@pytest.fixture(autouse=True)
def _restore_hooks():
    yield
    crash.uninstall()


def test_first_start_after_an_upgrade(tmp_path, issuer_key):
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=2)
    run_alembic(paths.store, MIGRATIONS_DIR, "downgrade", "0001")
    queued = record_uuids(paths.store)
    (paths.home / "cinepass-provision.json").write_text(json.dumps({"kiosk_mode": True}))
    started = prepare(paths, dialog=None)
    assert started is not None
    try:
        assert started.lock.held
        with pytest.raises(Exception, match="already running"):
            InstanceLock(paths.lock).acquire()
        assert started.upgrade is not None and started.upgrade.migrated
        assert revision(paths.store) == HEAD_REVISION and record_uuids(paths.store) == queued
        assert started.provision is not None and load_config(paths.config).kiosk_mode is True
        assert started.backup is not None and list_backups(paths, "daily")[0].path == started.backup
        assert len(list_backups(paths, "pre-upgrade")) == 1
        text = started.log_path.read_text(encoding="utf-8")
        assert "starting for" in text and f"migrated 0001 -> {HEAD_REVISION}" in text
    finally:
        started.close()
    assert not started.lock.held
    again = prepare(paths, dialog=None)  # second start the same day: nothing more to do
    assert again is not None and not again.upgrade.migrated and again.backup is None
    again.close()


def test_attach_wires_the_raise_server(qtbot, tmp_path, issuer_key):
    from PySide6.QtWidgets import QWidget

    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=0)
    started = prepare(paths, dialog=None)
    assert started is not None
    w = QWidget()
    qtbot.addWidget(w)
    attach(w, started)
    try:
        assert len(started.keep) == 2
        import subprocess
        import sys

        code = (
            "from pathlib import Path; from kiosk.ops.single_instance import signal_running_instance;"
            f"print(signal_running_instance(Path({str(paths.home)!r})))"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=20000)
        assert proc.communicate()[0].strip() == "True"
        assert w.isVisible()
    finally:
        started.close()


def test_window_start_through_the_cli_wires_lock_raise_server_and_watchdog(
    qtbot, tmp_path, issuer_key
):
    """`cinepass-kiosk --home H` for real: lock held while the window runs, watchers attached."""
    from PySide6.QtCore import QTimer

    from kiosk.cli import main
    from kiosk.ops.startup import main_windows

    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=0)
    png = Path(__file__).resolve().parents[1] / "resources" / "selftest" / "voucher.png"
    seen: dict[str, object] = {}

    def look() -> None:
        windows = main_windows()
        if not windows or not getattr(windows[0], "service_ready", False):
            QTimer.singleShot(100, look)
            return
        w = windows[0]
        try:
            InstanceLock(paths.lock).acquire()
        except Exception as exc:  # noqa: BLE001
            seen["lock"] = type(exc).__name__
        import subprocess
        import sys

        code = (
            "from pathlib import Path; from kiosk.ops.single_instance import claim_or_signal;"
            "from kiosk.paths import KioskPaths;"
            f"print(claim_or_signal(KioskPaths(Path({str(paths.home)!r}))))"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)

        def wait_second() -> None:
            if proc.poll() is None:
                QTimer.singleShot(100, wait_second)
                return
            seen["second"] = proc.communicate()[0].strip()
            w.quit_program()

        wait_second()

    QTimer.singleShot(0, look)
    assert main(["--home", str(paths.home), "--camera", str(png)]) == 0
    assert seen["lock"] == "AlreadyRunning"
    assert seen["second"] == "None"  # the second start was answered by the window and gave way
    assert list_backups(paths, "daily")  # the day's backup was made at start
    with InstanceLock(paths.lock):  # released when the window closed
        pass


def test_fresh_folder_is_private_and_needs_nothing(tmp_path):
    from kiosk.paths import KioskPaths

    paths = KioskPaths(tmp_path / "new")
    started = prepare(paths, dialog=None)
    assert started is not None
    try:
        assert (paths.home.stat().st_mode & 0o777) == 0o700
        assert started.upgrade is not None and not started.upgrade.migrated
        assert started.backup is None and started.provision is None
    finally:
        started.close()


def test_watchdog_restarts_the_window_camera_pipeline(qtbot, tmp_path, issuer_key, monkeypatch):
    """Both camera threads of a real window die: the watchdog starts them again."""
    from kiosk.ops import startup
    from kiosk.ui.app import create_window

    monkeypatch.setattr(startup, "WATCHDOG_MS", 100)
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=0)
    png = Path(__file__).resolve().parents[1] / "resources" / "selftest" / "voucher.png"
    started = prepare(paths, dialog=None)
    assert started is not None
    w = create_window(paths.home, camera=str(png))
    try:
        w.show()
        dog = startup.watch_window(w, started)

        def pipe():
            cam = getattr(w, "camera", None)
            return getattr(cam, "pipeline", None)

        qtbot.waitUntil(lambda: pipe() is not None and pipe().running, timeout=15000)
        p = pipe()
        p._stop.set()  # what a fatal error in both loops amounts to: the threads end
        with p._cond:
            p._cond.notify_all()
        for t in list(p._threads):
            t.join(5)
        qtbot.waitUntil(lambda: dog.restarts("camera") >= 1 and p.running, timeout=10000)
        assert dog.restarts("sync") == 0  # standalone: no sync thread to restart
    finally:
        w.shutdown()
        started.close()
