"""Decoding off the caller's thread: newest frame only, each text once per hold-off.

Two plain Python threads and callbacks, no Qt, so the window wraps the
callbacks in Qt signals and the tests and bench use them directly:

* the *capture* thread reads the source at its own pace, hands every frame to
  ``on_frame`` (the preview) and drops it into a one-slot mailbox,
  overwriting the frame that is there: when decoding is slower than the
  camera, stale frames are dropped, never queued, so latency cannot grow;
* the *decode* thread takes the newest frame, decodes it, filters the texts
  through :class:`HoldOff` and calls ``on_texts`` with the new ones.

Callbacks run on those worker threads: keep them short and thread-safe
(a Qt signal emit is both). Usage::

    pipe = ScanPipeline(open_source("0"), make_decoder("zxing"),
                        on_frame=preview, on_texts=lambda texts, info: ...,
                        on_state=lambda state: ..., hold_off=3.0)
    pipe.start(); ...; pipe.stop()

``pipe.state`` is the camera's :class:`~kiosk.engine.camera.CameraState`;
``pipe.stats`` counts frames captured, decoded and dropped. :meth:`push`
feeds a frame by hand (no source), as the bench does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.engine.camera import CameraState, FrameSource
from kiosk.engine.decode import Decoder, Frame

log = logging.getLogger(__name__)


class HoldOff:
    """Report the same text once while it stays in view, again only after a pause.

    A text is reported when it has not been *seen* for ``seconds``: a
    voucher held under the camera for a minute gives one verdict, not 1,800;
    taken away and shown again after the hold-off, it is checked again.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, texts: list[str]) -> list[str]:
        now = self._clock()
        new: list[str] = []
        with self._lock:
            for t in texts:
                last = self._seen.get(t)
                if last is None or now - last >= self.seconds:
                    new.append(t)
                self._seen[t] = now
            if len(self._seen) > 256:  # forget what left the view long ago
                cutoff = now - self.seconds
                self._seen = {t: s for t, s in self._seen.items() if s >= cutoff}
        return new

    def forget(self, text: str | None = None) -> None:
        """Allow ``text`` (or every text) to be reported at once, e.g. after a 2D/3D switch."""
        with self._lock:
            if text is None:
                self._seen.clear()
            else:
                self._seen.pop(text, None)


@dataclass(frozen=True)
class FrameInfo:
    """When the frame holding the texts was captured and how long decoding took."""

    captured_at: float  # time.monotonic() when the frame arrived
    decode_ms: float
    frame_no: int


@dataclass
class PipelineStats:
    captured: int = 0
    decoded: int = 0
    dropped: int = 0
    errors: int = 0


class ScanPipeline:
    """Capture and decode threads around a frame source and a decoder."""

    def __init__(
        self,
        source: FrameSource | None,
        decoder: Decoder,
        *,
        on_frame: Callable[[Frame], None] | None = None,
        on_texts: Callable[[list[str], FrameInfo], None] | None = None,
        on_state: Callable[[CameraState], None] | None = None,
        hold_off: float = 3.0,
    ) -> None:
        self.source, self.decoder = source, decoder
        self.on_frame, self.on_texts, self.on_state = on_frame, on_texts, on_state
        self.hold_off = HoldOff(hold_off)
        self.stats = PipelineStats()
        self._slot: tuple[Frame, float, int] | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_state: CameraState | None = None

    @property
    def state(self) -> CameraState:
        return CameraState.OK if self.source is None else self.source.state

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        threads = [threading.Thread(target=self._decode_loop, name="qr-decode", daemon=True)]
        if self.source is not None:
            threads.append(
                threading.Thread(target=self._capture_loop, name="qr-capture", daemon=True)
            )
        for t in threads:
            t.start()
        # published only once started: a stop() or watchdog on another thread never
        # sees (and tries to join) a thread that has not started yet
        self._threads = threads

    def stop(self, timeout: float = 3.0) -> None:
        """Stop both threads and close the source (safe to call twice)."""
        self._stop.set()
        if self.source is not None:
            self.source.close()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads = []

    def push(self, frame: Frame) -> None:
        """Offer a frame (replacing any frame not yet decoded)."""
        with self._cond:
            if self._slot is not None:
                self.stats.dropped += 1
            self.stats.captured += 1
            self._slot = (frame, time.monotonic(), self.stats.captured)
            self._cond.notify()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until the pushed frame has been decoded (tests and bench)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._slot is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    _busy = False

    def _report_state(self) -> None:
        state = self.state
        if state is not self._last_state:
            self._last_state = state
            if self.on_state is not None:
                self.on_state(state)

    def _capture_loop(self) -> None:
        assert self.source is not None
        while not self._stop.is_set():
            frame = self.source.read()
            self._report_state()
            if frame is None:
                if self.source.state is CameraState.ENDED:
                    break
                continue  # lost: the source sleeps its backoff inside read()
            if self.on_frame is not None:
                try:
                    self.on_frame(frame)
                except Exception:  # noqa: BLE001 - a preview bug must not stop scanning
                    log.exception("on_frame callback failed")
            self.push(frame)
        self._report_state()

    def _decode_loop(self) -> None:
        while True:
            with self._cond:
                while self._slot is None and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                assert self._slot is not None
                frame, captured_at, no = self._slot
                self._slot = None
                self._busy = True
            try:
                t0 = time.perf_counter()
                texts = self.decoder.decode(frame)
                ms = (time.perf_counter() - t0) * 1000
                self.stats.decoded += 1
                new = self.hold_off.filter(texts)
                if new and self.on_texts is not None:
                    self.on_texts(new, FrameInfo(captured_at, ms, no))
            except Exception:  # noqa: BLE001 - one bad frame must not stop scanning
                self.stats.errors += 1
                log.exception("decoding a frame failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
