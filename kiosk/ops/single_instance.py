"""One window per data folder: an OS file lock, plus a local socket to wake the first one.

Why both:

* **The lock decides.** ``fcntl.flock`` (POSIX) / ``msvcrt.locking``
  (Windows) on ``kiosk.lock`` is released by the OS when the process dies,
  however it dies (power cut, kill, crash), so a stale lock never blocks
  the counter after a reboot. A PID file alone would.
* **The socket is the courtesy.** A clerk who double-clicks the icon again
  because the window is hidden behind something should see the window,
  not an error. The second start connects to a ``QLocalServer`` named after
  the data folder and sends ``raise``; the first brings its window forward.
  Qt is imported only inside the functions that need it.

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
from typing import IO, Any

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


def signal_running_instance(home: Path, timeout_ms: int = 1500) -> bool:
    """Ask the window running for ``home`` to come forward; True if it answered."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtNetwork import QLocalSocket

    _app = QCoreApplication.instance() or QCoreApplication([])  # sockets need an app object
    sock = QLocalSocket()
    sock.connectToServer(server_name(home))
    if not sock.waitForConnected(timeout_ms):
        return False
    sock.write(RAISE_MESSAGE)
    sock.flush()  # on a local socket this usually writes everything at once
    sock.waitForBytesWritten(timeout_ms)  # False when nothing was left to write: not an error
    reply = b""
    while not reply.endswith(b"\n") and sock.waitForReadyRead(timeout_ms):
        reply += bytes(sock.readAll().data())
    ok = reply.startswith(b"ok")
    sock.disconnectFromServer()
    del _app
    return bool(ok)


class InstanceServer:
    """Listens for "raise" from a second start and calls ``on_raise`` (in the Qt thread)."""

    def __init__(self, home: Path, on_raise: Callable[[], None]) -> None:
        from PySide6.QtNetwork import QLocalServer

        self._on_raise = on_raise
        self.name = server_name(home)
        self._server: Any = QLocalServer()
        # A crashed predecessor may leave its socket file: we hold the lock, so
        # nobody else can be listening on it.
        QLocalServer.removeServer(self.name)
        if not self._server.listen(self.name):
            log.warning("single-instance socket not available: %s", self._server.errorString())
        self._server.newConnection.connect(self._accept)

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            conn = self._server.nextPendingConnection()
            conn.readyRead.connect(lambda c=conn: self._read(c))
            if conn.bytesAvailable():
                self._read(conn)

    def _read(self, conn: Any) -> None:
        data = bytes(conn.readAll().data())
        if RAISE_MESSAGE.strip() in data:
            conn.write(b"ok\n")
            conn.flush()
            log.info("a second start asked this window to come forward")
            self._on_raise()
        conn.disconnectFromServer()

    def close(self) -> None:
        self._server.close()


def bring_to_front(window: Any) -> None:
    """What ``on_raise`` usually does with the main window (restore, raise, focus)."""
    from PySide6.QtCore import Qt

    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()


def claim_or_signal(paths: KioskPaths) -> InstanceLock | None:
    """For the window's start: the lock if this is the first instance, else None.

    When another instance holds the folder, it is asked to come forward and
    None is returned: the caller exits 0 quietly (the clerk sees the window).
    """
    lock = InstanceLock(paths.lock)
    try:
        return lock.acquire()
    except AlreadyRunning as exc:
        answered = signal_running_instance(paths.home)
        log.info("%s; it %s", exc.message, "came forward" if answered else "did not answer")
        if not answered:
            raise
        return None
