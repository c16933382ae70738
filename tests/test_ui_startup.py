"""The window's side of the start-up: raise server, watchdog, crash dialog, the CLI's start.

:mod:`kiosk.ops.startup` and :mod:`kiosk.ops.single_instance` are Qt-free
(``tests/test_ops_startup.py``, ``tests/test_ops_single_instance.py``); these
are their Qt halves in :mod:`kiosk.ui`, with real local sockets, a real
second process and a real window.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from ops_support import make_kiosk

from kiosk.ops import crash
from kiosk.ops.backup import list_backups
from kiosk.ops.single_instance import InstanceLock
from kiosk.ops.startup import prepare
from kiosk.paths import KioskPaths
from kiosk.ui.instance_server import InstanceServer, bring_to_front
from kiosk.ui.startup_window import attach

PNG = Path(__file__).resolve().parents[1] / "resources" / "selftest" / "voucher.png"


@pytest.fixture(autouse=True)
def _restore_hooks():
    yield
    crash.uninstall()


def main_windows() -> list[Any]:
    """The counter windows open in this process (the CLI builds its own)."""
    from PySide6.QtWidgets import QApplication

    return [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow"]


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
        code = (
            "from pathlib import Path;"
            "from kiosk.ui.instance_server import signal_running_instance;"
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

    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=0)
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
        code = (
            "from pathlib import Path; from kiosk.ops.single_instance import claim_or_signal;"
            "from kiosk.paths import KioskPaths;"
            "from kiosk.ui.instance_server import signal_running_instance;"
            f"print(claim_or_signal(KioskPaths(Path({str(paths.home)!r})),"
            " signal_running_instance))"
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
    assert main(["--home", str(paths.home), "--camera", str(PNG)]) == 0
    assert seen["lock"] == "AlreadyRunning"
    assert seen["second"] == "None"  # the second start was answered by the window and gave way
    assert list_backups(paths, "daily")  # the day's backup was made at start
    with InstanceLock(paths.lock):  # released when the window closed
        pass


def test_watchdog_restarts_the_window_camera_pipeline(qtbot, tmp_path, issuer_key, monkeypatch):
    """Both camera threads of a real window die: the watchdog starts them again."""
    from kiosk.ui import startup_window
    from kiosk.ui.app import create_window

    monkeypatch.setattr(startup_window, "WATCHDOG_MS", 100)
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=0)
    started = prepare(paths, dialog=None)
    assert started is not None
    w = create_window(paths.home, camera=str(PNG))
    try:
        w.show()
        dog = startup_window.watch_window(w, started)

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


@pytest.mark.timeout(60)
def test_second_start_brings_the_first_window_forward(qtbot, tmp_path):
    from PySide6.QtWidgets import QWidget

    paths = KioskPaths(tmp_path / "k")
    lock = InstanceLock(paths.lock).acquire()
    window = QWidget()
    qtbot.addWidget(window)
    window.showMinimized()
    raised = []
    server = InstanceServer(paths.home, lambda: (raised.append(1), bring_to_front(window)))
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from kiosk.ops.single_instance import claim_or_signal
        from kiosk.paths import KioskPaths
        from kiosk.ui.instance_server import signal_running_instance
        got = claim_or_signal(KioskPaths(Path({str(paths.home)!r})), signal_running_instance)
        print("second-start", "lock" if got else "signalled", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        qtbot.waitUntil(lambda: bool(raised), timeout=20000)
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=20000)
        out, err = proc.communicate()
    finally:
        server.close()
        lock.release()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "second-start signalled" in out
    assert raised == [1]
    assert not window.isMinimized()


def test_qt_crash_dialog_appears_with_a_qapplication(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from kiosk.ui.crash_dialog import qt_dialog

    seen = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: seen.append(self.text()) or 0)
    qt_dialog(*crash.crash_text("/var/log/x.log"))
    assert seen and "/var/log/x.log" in seen[0]
