"""Frame sources: a webcam, a video file, an image or an image sequence, one path.

Everything goes through OpenCV's ``VideoCapture`` (a still image through
``imread``), so tests and the demo stand in for a webcam with files and
exercise the same code as a counter. Files are paced like a camera: a video
plays at its own frame rate, a single image repeats at ~10 fps, so latency and
hold-off behave as at a real counter.

A camera that is lost (unplugged, driver hiccup, not there yet) is reported
through :attr:`FrameSource.state` and reopened by itself with exponential
backoff; the pipeline just keeps calling :meth:`FrameSource.read`.
"""

from __future__ import annotations

import enum
import threading
import time
from pathlib import Path
from typing import Any

import cv2

from kiosk.engine.decode import IMAGE_SUFFIXES, Frame

IMAGE_FPS = 10.0
DEFAULT_VIDEO_FPS = 25.0


class CameraState(enum.Enum):
    OK = "ok"
    LOST = "lost"  # the device/file failed; a reconnect is scheduled
    RECONNECTING = "reconnecting"  # trying to open it again
    ENDED = "ended"  # a video or sequence reached its end (files only, no loop)


def classify(spec: str) -> str:
    """``camera`` (an index), ``sequence`` (a printf pattern), ``image`` or ``video``."""
    s = spec.strip()
    if s.isdigit():
        return "camera"
    if "%" in Path(s).name:
        return "sequence"
    if Path(s).suffix.lower() in IMAGE_SUFFIXES:
        return "image"
    return "video"


class FrameSource:
    """Paced frames from ``spec``; :meth:`read` blocks like a camera does.

    ``loop`` restarts videos and sequences at their end (the demo);
    otherwise the source goes to :attr:`CameraState.ENDED`.
    """

    def __init__(
        self,
        spec: str,
        *,
        loop: bool = False,
        image_fps: float = IMAGE_FPS,
        backoff_initial: float = 0.25,
        backoff_max: float = 5.0,
    ) -> None:
        self.spec = spec.strip()
        self.kind = classify(self.spec)
        self.loop = loop
        self.image_fps = image_fps
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.fps = image_fps
        self.frames_read = 0
        self.reconnects = 0
        self._cap: Any = None
        self._image: Frame | None = None
        self._state = CameraState.RECONNECTING
        self._lock = threading.Lock()
        self._next_due = 0.0
        self._backoff = backoff_initial
        self._retry_at = 0.0
        self._closed = threading.Event()
        self._open()

    # -- state ---------------------------------------------------------------

    @property
    def state(self) -> CameraState:
        return self._state

    @property
    def live(self) -> bool:
        return self.kind == "camera"

    def _open(self) -> bool:
        self._release()
        try:
            if self.kind == "image":
                img = cv2.imread(self.spec, cv2.IMREAD_COLOR)
                if img is None:
                    return self._failed()
                self._image = img
                self.fps = self.image_fps
            else:
                cap = (
                    cv2.VideoCapture(int(self.spec))
                    if self.kind == "camera"
                    else cv2.VideoCapture(self.spec)
                )
                if not cap.isOpened():
                    cap.release()
                    return self._failed()
                self._cap = cap
                fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                if self.kind == "sequence" and not 0 < fps < 240:
                    fps = self.image_fps
                self.fps = fps if 0 < fps < 240 else DEFAULT_VIDEO_FPS
        except cv2.error:
            return self._failed()
        if self._state is not CameraState.OK and self.frames_read:
            self.reconnects += 1
        self._state = CameraState.OK
        self._backoff = self.backoff_initial
        return True

    def _failed(self) -> bool:
        self._state = CameraState.LOST
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.backoff_max)
        return False

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._image = None

    # -- reading ---------------------------------------------------------------

    def _sleep_until(self, t: float) -> bool:
        """Sleep until monotonic time ``t``; False if closed meanwhile."""
        delay = t - time.monotonic()
        if delay > 0:
            return not self._closed.wait(delay)
        return not self._closed.is_set()

    def read(self) -> Frame | None:
        """The next frame, paced; None when there is none (lost, ended or closed)."""
        with self._lock:
            if self._closed.is_set() or self._state is CameraState.ENDED:
                return None
            if self._state is not CameraState.OK:
                if not self._sleep_until(self._retry_at):
                    return None
                self._state = CameraState.RECONNECTING
                if not self._open():
                    return None
            if self.kind != "camera":  # a camera paces itself; files play at their fps
                now = time.monotonic()
                if self._next_due == 0.0 or now - self._next_due > 1.0:
                    self._next_due = now
                if not self._sleep_until(self._next_due):
                    return None
                self._next_due += 1.0 / self.fps
            if self._image is not None:
                self.frames_read += 1
                return self._image
            ok, frame = self._cap.read() if self._cap is not None else (False, None)
            if not ok:
                if self.kind in ("video", "sequence"):
                    if self.loop and self.frames_read:
                        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        ok, frame = self._cap.read()
                    if not ok:
                        self._release()
                        self._state = CameraState.ENDED
                        return None
                else:
                    self._release()
                    self._failed()  # camera unplugged: retry with backoff
                    return None
            self.frames_read += 1
            return frame

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(spec: str, *, loop: bool = False) -> FrameSource:
    """A frame source for a camera index ("0"), a video, an image or a ``frame_%03d.png`` pattern.

    Never raises for a missing device: the source starts ``lost`` and keeps
    trying to open it, as a counter's webcam plugged in late would need.
    """
    return FrameSource(spec, loop=loop)
