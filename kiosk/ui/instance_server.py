"""The Qt half of "one window per data folder": wake the first window from a second start.

:mod:`kiosk.ops.single_instance` holds the lock that decides (the CLI takes it
too, without Qt); this module is the courtesy on top, a ``QLocalServer``
named after the data folder (:func:`~kiosk.ops.single_instance.server_name`)
that a second start connects to, sends ``raise`` and waits for ``ok``. The
window's start passes :func:`signal_running_instance` to
:func:`~kiosk.ops.single_instance.claim_or_signal`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from kiosk.ops.single_instance import RAISE_MESSAGE, server_name

log = logging.getLogger(__name__)


def signal_running_instance(home: Path, timeout_ms: int = 1500) -> bool:
    """Ask the window running for ``home`` to come forward; True if it answered."""

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

    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()
