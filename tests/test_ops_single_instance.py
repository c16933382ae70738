"""One instance per data folder: the OS lock refuses a second process; a second start wakes the first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.ops.single_instance import AlreadyRunning, InstanceLock, claim_or_signal, server_name
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


def test_a_held_folder_is_refused_unless_the_holder_answers(tmp_path):
    """claim_or_signal without Qt: the lock decides, the injected signal only asks.

    (The real signal, over a local socket, is in ``tests/test_ui_startup.py``.)
    """
    paths = KioskPaths(tmp_path / "k")
    holder = _holder(paths.lock)
    asked: list[Path] = []

    def answers(value: bool):
        def signal(home: Path) -> bool:
            asked.append(home)
            return value

        return signal

    try:
        with pytest.raises(AlreadyRunning):
            claim_or_signal(paths)  # nobody to ask: the refusal stands (exit 3)
        with pytest.raises(AlreadyRunning):
            claim_or_signal(paths, answers(False))  # asked, no answer: refused
        assert claim_or_signal(paths, answers(True)) is None  # it came forward: give way
        assert asked == [paths.home, paths.home]
    finally:
        holder.kill()
        holder.wait()
    lock = claim_or_signal(paths, answers(True))  # free again: the lock, nobody asked
    assert lock is not None and lock.held and len(asked) == 2
    lock.release()
