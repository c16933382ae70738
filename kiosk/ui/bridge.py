"""Runs the engine's blocking calls on one worker thread, never on the UI thread.

Every call into :class:`kiosk.engine.service.KioskService` touches the disk
(a durable SQLite commit fsyncs), so the window posts it here as a job and
gets the result back as a queued Qt signal on the UI thread. One thread, one
queue: redemptions are handled strictly in the order they were scanned, and
a slow disk delays verdicts but never freezes the preview or the keyboard.

A job that raises a :class:`~sync.errors.CinePassError` failed for a reason
the window explains (logged as one line); any other exception is a bug and is
logged with its traceback before the window shows its generic words
(:mod:`kiosk.ui.failures`).
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from sync.errors import CinePassError

log = logging.getLogger(__name__)

Job = Callable[[Any], Any]
Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


@dataclass
class _Item:
    job: Job
    done: Done | None
    failed: Failed | None


class _Relay(QObject):
    """Lives on the UI thread; its signal carries results back there.

    The slot is a method of this QObject (not a free function) so Qt queues
    the call to the relay's thread instead of running it on the worker.
    """

    result = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.result.connect(self.deliver)

    @Slot(object)
    def deliver(self, payload: tuple[Callable[[Any], None] | None, Any, bool]) -> None:
        callback, value, _is_error = payload
        if callback is not None:
            callback(value)


class ServiceThread(QThread):
    """Owns the service object; ``submit`` queues ``job(service)``.

    ``done(result)`` or ``failed(exception)`` run later on the UI thread.
    ``opener`` runs first on this thread (so the store's connections are made
    here); if it fails, ``open_failed`` carries the exception.
    """

    opened = Signal()
    open_failed = Signal(object)

    def __init__(self, opener: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._opener = opener
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._relay = _Relay()
        self.service: Any = None

    def submit(self, job: Job, done: Done | None = None, failed: Failed | None = None) -> None:
        self._queue.put(_Item(job, done, failed))

    def stop(self, timeout_ms: int = 5000) -> None:
        """Finish the queued jobs, close the service, and join (closeEvent calls this)."""
        self._queue.put(None)
        self.wait(timeout_ms)

    def run(self) -> None:
        try:
            self.service = self._opener()
        except Exception as exc:  # noqa: BLE001 (reported to the window, which explains it)
            _log_failure("opening the engine failed", exc)
            self.open_failed.emit(exc)
            return
        self.opened.emit()
        while True:
            item = self._queue.get()
            if item is None:
                break
            try:
                result: Any = item.job(self.service)
            except Exception as exc:  # noqa: BLE001 (a failed job must not kill the thread)
                _log_failure("engine call failed", exc)
                self._relay.result.emit((item.failed, exc, True))
            else:
                self._relay.result.emit((item.done, result, False))
        if self.service is None:
            return
        try:
            self.service.close()
        except Exception:  # noqa: BLE001 (closing at exit: nothing left to tell)
            log.exception("closing the service failed")


def _log_failure(what: str, exc: Exception) -> None:
    """An expected failure in one line; a bug with its traceback (the support file needs it).

    Called from inside the ``except`` block, so ``log.exception`` has the traceback.
    """
    if isinstance(exc, CinePassError):
        log.warning("%s: %s (%s)", what, exc.reason, exc.message)
    else:
        log.exception("%s: unexpected %s", what, type(exc).__name__)
