"""What the window does before and after it appears, in the order a counter PC needs.

:func:`prepare` (no Qt needed, before the window is built):

1. log to the rotating file and install the crash handler, first, so
   everything after this leaves a trace;
2. take the single-instance lock; if another window holds this data folder
   it is asked to come forward and :func:`prepare` returns None (exit 0:
   the clerk sees the window they double-clicked for);
3. apply a waiting provisioning file (enrolment, counter name, kiosk mode);
4. upgrade the store's schema with a backup first (:mod:`kiosk.ops.upgrade`);
   a failed upgrade raises :class:`~kiosk.ops.upgrade.UpgradeFailed` after
   the rollback, and the window shows its message instead of scanning;
5. make today's backup if there is none (a failure is logged, not fatal:
   the counter must keep scanning on a full disk; support sees it in the
   health report).

:func:`attach` (Qt, once the window exists): the local server that brings
the window forward for a second start, and an hourly timer that repeats
step 5 for counters that run for weeks without a restart.

:func:`run_window_with_startup` is what ``cinepass-kiosk`` (no subcommand)
runs: :func:`prepare`, then the window, then :func:`attach` and
:func:`watch_window` (camera/sync restarts) once the window exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.paths import KioskPaths

from . import crash
from .backup import BackupError, daily_backup
from .logs import setup_logging
from .provisioning import ProvisionResult, run_pending
from .single_instance import InstanceLock, claim_or_signal
from .upgrade import UpgradeFailed, UpgradeResult, upgrade_store
from .watchdog import Watchdog

log = logging.getLogger(__name__)

BACKUP_CHECK_MS = 60 * 60 * 1000


@dataclass
class Startup:
    paths: KioskPaths
    lock: InstanceLock
    log_path: Path
    provision: ProvisionResult | None = None
    upgrade: UpgradeResult | None = None
    backup: Path | None = None
    keep: list[Any] = field(default_factory=list)  # Qt objects that must stay alive

    def close(self) -> None:
        for obj in self.keep:
            close = getattr(obj, "close", None) or getattr(obj, "stop", None)
            if close is not None:
                close()
        self.keep.clear()
        self.lock.release()


def prepare(paths: KioskPaths, *, dialog: crash.Dialog | None = crash.qt_dialog) -> Startup | None:
    """Steps 1-5 of the module docstring; None when another instance came forward."""
    from kiosk import __version__

    paths.ensure()  # 0700 from the start: the lock and the logs would create it 0755
    log_path = setup_logging(paths)
    crash.install(log_path=str(log_path), dialog=dialog)
    log.info("cinepass-kiosk %s starting for %s", __version__, paths.home)
    lock = claim_or_signal(paths)
    if lock is None:
        return None
    started = Startup(paths=paths, lock=lock, log_path=log_path)
    try:
        started.provision = run_pending(paths)
        started.upgrade = upgrade_store(paths)
    except BaseException:
        lock.release()
        raise
    try:
        started.backup = daily_backup(paths)
    except BackupError:
        pass  # logged by daily_backup; scanning matters more than today's copy
    return started


def attach(window: Any, started: Startup) -> None:
    """Wire the second-start signal and the hourly backup check to ``window`` (Qt)."""
    from PySide6.QtCore import QTimer

    from .single_instance import InstanceServer, bring_to_front

    server = InstanceServer(started.paths.home, lambda: bring_to_front(window))
    timer = QTimer(window)
    timer.setInterval(BACKUP_CHECK_MS)

    def check_backup() -> None:
        try:
            daily_backup(started.paths)
        except BackupError:
            pass

    timer.timeout.connect(check_backup)
    timer.start()
    started.keep += [server, timer]


WATCHDOG_MS = 5000


def main_windows() -> list[Any]:
    from PySide6.QtWidgets import QApplication

    return [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow"]


def _camera_alive(window: Any) -> bool:
    """Capture and decode threads run (or there is no camera pipeline to run)."""
    camera = getattr(window, "camera", None)
    pipe = getattr(camera, "pipeline", None)
    return bool(getattr(window, "_closed", False) or pipe is None or pipe.running)


def _sync_alive(window: Any) -> bool:
    engine = getattr(window, "syncer", None)
    return bool(getattr(window, "_closed", False) or engine is None or not engine.crashed)


def watch_window(window: Any, started: Startup) -> Watchdog:
    """Restart the window's camera pipeline and sync thread if they die (a QTimer drives it)."""
    from PySide6.QtCore import QTimer

    dog = Watchdog()
    dog.watch("camera", lambda: _camera_alive(window), lambda: window.camera.pipeline.start())
    dog.watch("sync", lambda: _sync_alive(window), lambda: window.syncer.start())
    timer = QTimer(window)
    timer.setInterval(WATCHDOG_MS)
    timer.timeout.connect(dog.check)
    timer.start()
    started.keep.append(timer)
    return dog


def run_window_with_startup(args: Any, run_window: Callable[[Any], int]) -> int:
    """The window's start as :mod:`kiosk.cli` runs it: :func:`prepare`, then the window.

    Another instance came forward: exit 0. A failed upgrade: its message in
    a dialog and on stderr, exit 3 (the data was restored; scanning on a
    half-migrated store is never attempted). The demo (``--demo``) keeps
    its own throw-away folder and skips all of this.
    """
    if getattr(args, "demo", False):
        return run_window(args)
    from kiosk.paths import resolve_home

    paths = KioskPaths(resolve_home(getattr(args, "home", None)))
    try:
        started = prepare(paths)
    except UpgradeFailed as exc:
        crash.qt_dialog_anyway("CinePass", exc.message)
        raise
    if started is None:
        return 0
    try:
        from PySide6.QtCore import QTimer

        from kiosk.ui.app import ensure_app

        ensure_app()

        def wire() -> None:
            windows = main_windows()
            if not windows:
                QTimer.singleShot(200, wire)  # the window is built inside run_window
                return
            attach(windows[0], started)
            watch_window(windows[0], started)

        QTimer.singleShot(0, wire)
        return run_window(args)
    finally:
        started.close()
