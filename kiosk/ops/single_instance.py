"""One window per data folder: an OS file lock, plus a local socket to wake the first one.

Why both:

* **The lock decides.** ``fcntl.flock`` (POSIX) / ``msvcrt.locking``
  (Windows) on ``kiosk.lock`` is released by the OS when the process dies,
  however it dies (power cut, kill, crash), so a stale lock never blocks
  the counter after a reboot. A PID file alone would.
* **The socket is the courtesy.** A clerk who double-clicks the icon again
  because the window is hidden behind something should see the window,
  not an error. The second start connects to a ``QLocalServer`` named after
  the data folder (:func:`server_name`) and sends ``raise``; the first
  brings its window forward. That half is Qt and lives in
  the window's ``ui/instance_server.py``; :func:`claim_or_signal` is handed its
  ``signal_running_instance``, so this module (used by the CLI) needs no Qt.

Commands that rewrite the store wholesale (``restore``) take the same lock
so they cannot run under a live window.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from kiosk.errors import EnvironmentFailure
from kiosk.paths import KioskPaths

log = logging.getLogger(__name__)

RAISE_MESSAGE = b"raise\n"


class AlreadyRunning(EnvironmentFailure):
    """Another CinePass process holds this data folder (exit 3)."""


class InstanceLock:
    """An exclusive, non-blocking lock on ``path``; the OS drops it when the process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def acquire(self) -> InstanceLock:
        """Take the lock or raise :class:`AlreadyRunning` at once (never waits)."""
        if self._fh is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+b")  # noqa: SIM115 - held open for the process's life
        try:
            _lock(fh)
        except OSError as exc:
            fh.close()
            other = _read_pid(self.path)
            who = f" (process {other})" if other else ""
            raise AlreadyRunning(
                "already_running",
                f"CinePass is already running for the data folder {self.path.parent}{who}",
            ) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n".encode())
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            _unlock(self._fh)
        finally:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()[:16]
    except (OSError, UnicodeDecodeError):
        return ""


if sys.platform == "win32":
    import msvcrt

    def _lock(fh: IO[bytes]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(fh: IO[bytes]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def server_name(home: Path) -> str:
    """The QLocalServer name of one data folder (per user: sockets live in /tmp on Linux)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    digest = hashlib.sha256(f"{uid}:{Path(home).resolve()}".encode()).hexdigest()[:16]
    return f"cinepass-{digest}"


#: Asks the instance running for a data folder to come forward; True if it answered.
Signaller = Callable[[Path], bool]


def claim_or_signal(paths: KioskPaths, signal: Signaller | None = None) -> InstanceLock | None:
    """For the window's start: the lock if this is the first instance, else None.

    When another instance holds the folder, ``signal`` asks it to come
    forward and None is returned: the caller exits 0 quietly (the clerk sees
    the window). Without a ``signal``, or when nobody answers, the
    :class:`AlreadyRunning` stands (exit 3).
    """
    lock = InstanceLock(paths.lock)
    try:
        return lock.acquire()
    except AlreadyRunning as exc:
        if signal is None:
            raise
        answered = signal(paths.home)
        log.info("%s; it %s", exc.message, "came forward" if answered else "did not answer")
        if not answered:
            raise
        return None
