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
is missed.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from .bridge import ServiceThread

log = logging.getLogger(__name__)
# Only while kiosk.syncer has no add_listener (see _listen): how often to ask instead.
FALLBACK_POLL_MS = 1000


class SyncLink(QObject):
    """Owns the window's :class:`~kiosk.syncer.SyncEngine`; ``changed(status)`` on the UI thread."""

    changed = Signal(object)  # the syncer's status() dict, delivered on the UI thread
    _told = Signal(object)  # emitted on the syncer's thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.syncer: Any = None
        self._bridge: ServiceThread | None = None
        self._closed = False
        self._poll: QTimer | None = None
        self._poll_inflight = False
        self._told.connect(self._deliver)

    def start(self, bridge: ServiceThread) -> None:
        """Create and start the sync engine on ``bridge``'s thread, over its open service."""
        self._bridge = bridge
        bridge.submit(self._make_syncer, self._on_started, self._on_failed)

    def _make_syncer(self, svc: Any) -> Any:
        from kiosk.syncer import SyncEngine

        engine = SyncEngine(svc)
        self._listen(engine)
        engine.start()
        return engine

    def _listen(self, engine: Any) -> None:
        add_listener = getattr(engine, "add_listener", None)
        if add_listener is not None:
            add_listener(self._told.emit)
        # else: an older SyncEngine; _on_started falls back to asking (removed at merge)

    def _on_started(self, engine: Any) -> None:
        if self._closed:
            engine.stop()
            return
        self.syncer = engine
        if getattr(engine, "add_listener", None) is None:
            self._poll = QTimer(self)
            self._poll.setInterval(FALLBACK_POLL_MS)
            self._poll.timeout.connect(self._ask)
            self._poll.start()

    def _on_failed(self, exc: BaseException) -> None:
        log.warning("sync engine not started: %s", exc)

    def _ask(self) -> None:
        """Fallback only: read ``status()`` on the engine thread, one read at a time."""
        syncer, bridge = self.syncer, self._bridge
        if syncer is None or bridge is None or self._poll_inflight:
            return
        self._poll_inflight = True

        def done(status: Any) -> None:
            self._poll_inflight = False
            self._deliver(status)

        def failed(_exc: BaseException) -> None:
            self._poll_inflight = False

        bridge.submit(lambda _svc: syncer.status(), done, failed)

    @Slot(object)
    def _deliver(self, status: Any) -> None:
        if not self._closed:
            self.changed.emit(dict(status))

    @property
    def polling(self) -> bool:
        """True only on the fallback (a sync engine without ``add_listener``)."""
        return self._poll is not None

    def notify(self) -> None:
        """A redemption was recorded: upload it now, not at the next tick."""
        if self.syncer is not None:
            self.syncer.notify()

    def stop(self) -> None:
        """Stop the engine's thread (safe to call twice); later news is ignored."""
        self._closed = True
        if self._poll is not None:
            self._poll.stop()
        if self.syncer is not None:
            self.syncer.stop()
            self.syncer = None
