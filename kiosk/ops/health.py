"""The health report a counter sends with each sync, and ``diagnose`` puts in its zip.

Support sees a silent or sick counter before the cinema calls: the syncer
attaches :func:`collect` to each sync and the server keeps the newest one
per device (``cinepass-admin devices``). Only facts, no secrets: the last
error goes through the log redaction, so a token in an exception message
never reaches the server either.
"""

from __future__ import annotations

import platform
import shutil
import sys
import time
from typing import Any

from kiosk import __version__
from kiosk.paths import KioskPaths

from .logs import redact

_STARTED = time.time()


def uptime_seconds() -> float:
    """Seconds since this process imported kiosk.ops.health (the app does so at start)."""
    return time.time() - _STARTED


def os_name() -> str:
    return f"{platform.system()} {platform.release()} ({platform.machine()})"


def collect(
    paths: KioskPaths | None = None,
    *,
    pending: int | None = None,
    clock_offset: float | None = None,
    last_error: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One JSON-ready dict: version, pending count, clock offset, last error, OS, uptime.

    ``pending`` and ``clock_offset`` (seconds, server minus local) are the
    caller's, who has the store and the clock open; ``paths`` adds the free
    disk space and the newest backup, the two things that fail silently.
    """
    report: dict[str, Any] = {
        "version": __version__,
        "pending": pending,
        "clock_offset": None if clock_offset is None else round(float(clock_offset), 3),
        "last_error": redact(last_error)[:500] if last_error else None,
        "os": os_name(),
        "python": platform.python_version(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "uptime": round(uptime_seconds(), 1),
    }
    if paths is not None:
        try:
            report["disk_free_mb"] = shutil.disk_usage(paths.home).free // 1_000_000
        except OSError:
            report["disk_free_mb"] = None
        from .backup import list_backups

        newest = list_backups(paths)
        report["last_backup"] = newest[0].created.isoformat() if newest else None
    if extra:
        report.update(extra)
    return report
