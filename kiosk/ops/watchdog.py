"""Restart the camera and sync workers when they die, without a restart storm.

A counter runs for months: a USB camera unplugged for a second, a driver
hiccup or a bug in a rare path can end a worker thread. The window keeps
showing the last frame and the clerk thinks the scanner is slow. The
:class:`Watchdog` is asked periodically (a QTimer in the window, or its
own thread via :meth:`Watchdog.start`) to check each registered worker with
``is_alive`` and call ``restart`` for the dead ones. Restarts back off
(1 s, 2 s, 4 s ... up to a minute) so a worker that dies at once is not
restarted hundreds of times a second, and each restart is logged.

It knows nothing about Qt or cameras: a worker is two callables, so the
same class watches a ``QThread`` (``isRunning``) and a ``threading.Thread``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


@dataclass
class _Worker:
    name: str
    is_alive: Callable[[], bool]
    restart: Callable[[], None]
    restarts: int = 0
    next_try: float = 0.0
    backoff: float = 1.0
    last_error: str = ""
    alive_since: float = field(default_factory=time.monotonic)


class Watchdog:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._workers: dict[str, _Worker] = {}
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def watch(self, name: str, is_alive: Callable[[], bool], restart: Callable[[], None]) -> None:
        with self._lock:
            self._workers[name] = _Worker(name, is_alive, restart, alive_since=self._clock())

    def restarts(self, name: str) -> int:
        return self._workers[name].restarts

    def check(self) -> list[str]:
        """Restart every dead worker whose back-off has passed; returns their names."""
        now = self._clock()
        restarted = []
        with self._lock:
            workers = list(self._workers.values())
        for w in workers:
            try:
                alive = w.is_alive()
            except Exception as exc:  # noqa: BLE001 - a broken probe counts as dead
                alive = False
                w.last_error = repr(exc)
            if alive:
                if now - w.alive_since > 5 * MAX_BACKOFF:
                    w.backoff = 1.0  # healthy for a while: forget the back-off
                continue
            if now < w.next_try:
                continue
            w.restarts += 1
            log.warning("worker %s is not running: restart #%d", w.name, w.restarts)
            try:
                w.restart()
                w.alive_since = now
            except Exception as exc:  # noqa: BLE001 - keep watching the others
                w.last_error = repr(exc)
                log.exception("restarting worker %s failed", w.name)
            w.next_try = now + w.backoff
            w.backoff = min(w.backoff * 2, MAX_BACKOFF)
            restarted.append(w.name)
        return restarted

    def start(self, interval: float = 2.0) -> None:
        """Check every ``interval`` seconds in a daemon thread (for non-Qt hosts)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.check()

        self._thread = threading.Thread(target=loop, name="cinepass-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
