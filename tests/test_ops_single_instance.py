"""One instance per data folder: the OS lock refuses a second process; a second start wakes the first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.ops.single_instance import AlreadyRunning, InstanceLock, InstanceServer, server_name
from kiosk.paths import KioskPaths

pytestmark = pytest.mark.timeout(60)


def _holder(lock: Path) -> subprocess.Popen[str]:
    """Another process that takes the lock and keeps it until killed."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from kiosk.ops.single_instance import InstanceLock
        held = InstanceLock(Path({str(lock)!r})).acquire()
        print("locked", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_is_refused_and_a_dead_holder_frees_the_lock(tmp_path, capsys):
    paths = KioskPaths(tmp_path / "k")
    holder = _holder(paths.lock)
    try:
        with pytest.raises(AlreadyRunning) as info:
            InstanceLock(paths.lock).acquire()
        assert info.value.reason == "already_running" and str(holder.pid) in info.value.message
        # a restore would swap the database under the running window: refused, exit 3
        assert main(["--home", str(paths.home), "restore", str(tmp_path / "b.sqlite3")]) == 3
        assert "already running" in capsys.readouterr().err
    finally:
        holder.kill()  # like a power cut: no clean release
        holder.wait()
    with InstanceLock(paths.lock) as lock:  # the OS dropped the dead process's lock
        assert lock.held
    assert not lock.held


def test_lock_is_per_data_folder(tmp_path):
    a = InstanceLock(KioskPaths(tmp_path / "a").lock).acquire()
    b = InstanceLock(KioskPaths(tmp_path / "b").lock).acquire()
    assert a.held and b.held
    a.release()
    b.release()
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")


def test_second_start_brings_the_first_window_forward(qtbot, tmp_path):
    from PySide6.QtWidgets import QWidget

    from kiosk.ops.single_instance import bring_to_front

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
        got = claim_or_signal(KioskPaths(Path({str(paths.home)!r})))
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
