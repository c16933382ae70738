"""What the window does before it appears, in the order a counter PC needs.

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

The Qt half lives in the window's package (``ui/startup_window.py``): it
hands :func:`prepare` the crash dialog and the "come forward" signal, and once the window exists
attaches the local server for a second start, an hourly
:meth:`Startup.check_backup` (counters run for weeks without a restart) and
the watchdog of the camera and sync threads. Nothing here imports Qt, so the
order of the steps can be tested, and reused, without a display.
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
from .single_instance import InstanceLock, Signaller, claim_or_signal
from .upgrade import UpgradeResult, upgrade_store

log = logging.getLogger(__name__)


@dataclass
class Startup:
    paths: KioskPaths
    lock: InstanceLock
    log_path: Path
    provision: ProvisionResult | None = None
    upgrade: UpgradeResult | None = None
    backup: Path | None = None
    keep: list[Any] = field(default_factory=list)  # Qt objects that must stay alive

    def check_backup(self) -> Path | None:
        """Step 5 again: today's backup if there is none yet (a failure is only logged)."""
        try:
            return daily_backup(self.paths)
        except BackupError:
            return None  # logged by daily_backup; scanning matters more than today's copy

    def close(self) -> None:
        for obj in self.keep:
            close = getattr(obj, "close", None) or getattr(obj, "stop", None)
            if close is not None:
                close()
        self.keep.clear()
        self.lock.release()


def prepare(
    paths: KioskPaths,
    *,
    dialog: crash.Dialog | None = None,
    signal: Signaller | None = None,
) -> Startup | None:
    """Steps 1-5 of the module docstring; None when another instance came forward.

    ``dialog`` is what the crash handler shows the clerk and ``signal`` how a
    running instance is asked to come forward; the window passes its Qt
    ones. Without them a crash is only logged and a held folder raises
    :class:`~kiosk.ops.single_instance.AlreadyRunning`.
    """
    from kiosk import __version__

    paths.ensure()  # 0700 from the start: the lock and the logs would create it 0755
    log_path = setup_logging(paths)
    crash.install(log_path=str(log_path), dialog=dialog)
    log.info("cinepass-kiosk %s starting for %s", __version__, paths.home)
    lock = claim_or_signal(paths, signal)
    if lock is None:
        return None
    started = Startup(paths=paths, lock=lock, log_path=log_path)
    try:
        started.provision = run_pending(paths)
        started.upgrade = upgrade_store(paths)
    except BaseException:
        lock.release()
        raise
    started.backup = started.check_backup()
    return started
