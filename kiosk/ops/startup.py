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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.paths import KioskPaths

from . import crash
from .backup import BackupError, daily_backup
from .logs import setup_logging
from .provisioning import ProvisionResult, run_pending
from .single_instance import InstanceLock, claim_or_signal
from .upgrade import UpgradeResult, upgrade_store

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
