"""The window's side of the sync engine: starts it, and is told of every change.

The sync engine (:class:`kiosk.syncer.SyncEngine`) runs on its own thread and
calls its listeners after every cycle and on every change, with the same
dictionary ``status()`` returns. :class:`SyncLink` registers one listener that
only emits a signal; the signal's slot is a method of this QObject, which
lives on the UI thread, so Qt queues the call there: the status bar is
painted on the UI thread, the syncer's thread never waits for it, and the
window does not ask every second whether anything changed.

The engine is created on the engine thread (it shares the open service), and
the listener is added before its thread starts, so not even the first cycle
is missed. Its ``status()`` is read once there too, before the thread starts,
and delivered first: the bar shows what the last run left (online or not,
the queue, the last error) from the start, not only once a cycle ends.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from kiosk.errors import KioskError

from .bridge import ServiceThread

log = logging.getLogger(__name__)


class SyncLink(QObject):
    """Owns the window's :class:`~kiosk.syncer.SyncEngine`; ``changed(status)`` on the UI thread."""

    changed = Signal(object)  # the syncer's status() dict, delivered on the UI thread
    _told = Signal(object)  # emitted on the syncer's (or the engine's) thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.syncer: Any = None
        self._closed = False
        self._told.connect(self._deliver)

    def start(self, bridge: ServiceThread) -> None:
        """Create and start the sync engine on ``bridge``'s thread, over its open service."""
        bridge.submit(self._make_syncer, self._on_started, self._on_failed)

    def _make_syncer(self, svc: Any) -> Any:
        from kiosk.syncer import SyncEngine

        engine = SyncEngine(svc)
        engine.add_listener(self._told.emit)
        try:
            self._told.emit(engine.status())  # queued before any cycle can report
        except KioskError:  # the store cannot be read now: the first cycle will tell
            log.exception("cannot read the sync status at start")
        engine.start()
        return engine

    def _on_started(self, engine: Any) -> None:
        if self._closed:
            engine.stop()
            return
        self.syncer = engine

    def _on_failed(self, exc: BaseException) -> None:
        log.warning("sync engine not started: %s", exc)

    @Slot(object)
    def _deliver(self, status: Any) -> None:
        if not self._closed:
            self.changed.emit(dict(status))

    def notify(self) -> None:
        """A redemption was recorded: upload it now, not at the next tick."""
        if self.syncer is not None:
            self.syncer.notify()

    def stop(self) -> None:
        """Stop the engine's thread (safe to call twice); later news is ignored."""
        self._closed = True
        if self.syncer is not None:
            self.syncer.stop()
            self.syncer = None
