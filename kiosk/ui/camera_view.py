"""Qt signals around the engine's scan pipeline (the camera and its decoder).

The engine's :class:`~kiosk.engine.pipeline.ScanPipeline` runs capture and
decode on its own threads and calls back; this adapter turns those callbacks
into queued Qt signals for the window. Frames are converted to QImage on the
capture thread (``.copy()``: the numpy buffer is reused) and a frame is
dropped if the UI has not painted the previous one, so a slow paint can never
build a queue. Opening a camera can take a second, so even that happens off
the UI thread.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)


def frame_to_qimage(frame: Any) -> QImage:
    """A BGR (or gray) numpy frame as an independent QImage."""
    h, w = frame.shape[:2]
    if frame.ndim == 2:
        fmt = QImage.Format.Format_Grayscale8
    else:
        fmt = QImage.Format.Format_BGR888
    return QImage(frame.data, w, h, frame.strides[0], fmt).copy()


class CameraController(QObject):
    """Start/stop the pipeline for one camera spec; emits frames, texts and states."""

    frame = Signal(QImage)
    texts = Signal(list, float)  # new QR texts, monotonic capture time of their frame
    state = Signal(str)  # ok | lost | reconnecting | ended | off | starting

    def __init__(
        self, spec: str, *, decoder: str = "zxing", hold_off: float = 3.0, loop: bool = False
    ) -> None:
        super().__init__()
        self.spec = spec.strip()
        self.decoder_name = decoder
        self.hold_off = hold_off
        self.loop = loop
        self.pipeline: Any = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._starter: threading.Thread | None = None
        self._painted = threading.Event()
        self._painted.set()
        self.frames_emitted = 0
        self.frames_dropped = 0

    def start(self) -> None:
        if not self.spec:
            self.state.emit("off")
            return
        self.state.emit("starting")
        self._starter = threading.Thread(target=self._open, name="camera-open", daemon=True)
        self._starter.start()

    def _open(self) -> None:
        from kiosk.engine.camera import open_source
        from kiosk.engine.decode import make_decoder
        from kiosk.engine.pipeline import ScanPipeline

        try:
            decoder = make_decoder(self.decoder_name)
            source = open_source(self.spec, loop=self.loop)
        except Exception as exc:  # noqa: BLE001 (reported as a missing camera, scanning goes on)
            log.warning("camera %r cannot be opened: %s", self.spec, exc)
            self.state.emit("lost")
            return
        pipe = ScanPipeline(
            source,
            decoder,
            on_frame=self._on_frame,
            on_texts=self._on_texts,
            on_state=lambda s: self.state.emit(s.value),
            hold_off=self.hold_off,
        )
        with self._lock:
            if self._stopped.is_set():
                source.close()
                return
            self.pipeline = pipe
            pipe.start()

    def painted(self) -> None:
        """The UI painted the last frame: the next one may be sent."""
        self._painted.set()

    def _on_frame(self, frame: Any) -> None:
        if not self._painted.is_set():
            self.frames_dropped += 1
            return
        self._painted.clear()
        self.frames_emitted += 1
        self.frame.emit(frame_to_qimage(frame))

    def _on_texts(self, texts: list[str], info: Any) -> None:
        self.texts.emit(list(texts), float(getattr(info, "captured_at", time.monotonic())))

    def forget(self) -> None:
        """Let the code under the camera be read again at once (after a 2D/3D switch)."""
        pipe = self.pipeline
        if pipe is not None:
            pipe.hold_off.forget()

    def stop(self) -> None:
        """Stop capture and decoding and join their threads (closeEvent calls this)."""
        self._stopped.set()
        if self._starter is not None:
            self._starter.join(5.0)
        with self._lock:
            pipe, self.pipeline = self.pipeline, None
        if pipe is not None:
            pipe.stop()
