"""QR decoding behind one small interface: frame in, every QR text out.

The default is zxing-cpp (measured in ``docs/decoders.md``: it reads more
frames, including tilted phone screens, at a fraction of pyzbar's time);
pyzbar stays a supported alternative (``--decoder pyzbar``, needs the system
``libzbar0``). Both take a numpy BGR or grayscale frame; it is converted to
gray once here, because both libraries work on luminance anyway.

zxing-cpp runs with ``try_rotate`` and ``try_downscale`` off (a QR code is
rotation-invariant already, the "rotate" try is for 1D barcodes, and the
vouchers are phone-sized: the same 166 of 179 photos either way, at a fraction
of the time) but with ``try_invert`` on: a light-on-dark code (a phone's dark
theme, some apps) is otherwise lost although bare zxing-cpp reads it. It was
off once because that kept the same hits on the photo corpus, whose codes are
all dark-on-light; a decoder option is never tuned on one corpus alone
(``docs/decoders.md`` has the corpora and the cost per 720p frame).

OpenCV and the decoders are imported here only, so the commands that do not
decode start fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

# OpenCV reads this at import: without it a missing camera prints warnings.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # quiet: our own message says what failed

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from kiosk.errors import EnvironmentFailure, UsageError  # noqa: E402

Frame = npt.NDArray[Any]  # uint8 BGR (h, w, 3) or gray (h, w)
DECODERS = ("zxing", "pyzbar")
VIDEO_MAX_FRAMES = 100_000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


class Decoder(Protocol):
    """Return every QR text in ``frame`` (distinct, in reading order)."""

    name: str

    def decode(self, frame: Frame) -> list[str]: ...


def to_gray(frame: Frame) -> Frame:
    """A grayscale view of a BGR, BGRA or gray frame (no copy if already gray)."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    raise ValueError(f"not an image frame: shape {frame.shape}")


def _distinct(texts: Iterator[str]) -> list[str]:
    seen: dict[str, None] = {}
    for t in texts:
        if t:
            seen.setdefault(t, None)
    return list(seen)


class ZxingDecoder:
    """zxing-cpp 3.x, QR only, plain text, inverted codes too (see module docstring).

    ``try_harder`` adds the rotate and downscale tries (not used by the kiosk).
    """

    name = "zxing"

    def __init__(self, *, try_harder: bool = False) -> None:
        import zxingcpp

        self._read = zxingcpp.read_barcodes
        self._kw: dict[str, Any] = {
            "formats": zxingcpp.BarcodeFormat.QRCode,
            "text_mode": zxingcpp.TextMode.Plain,
            "try_rotate": try_harder,
            "try_downscale": try_harder,
            "try_invert": True,  # light-on-dark codes: see the module docstring
        }

    def decode(self, frame: Frame) -> list[str]:
        gray = np.ascontiguousarray(to_gray(frame))
        return _distinct(b.text for b in self._read(gray, **self._kw) if b.valid)


class PyzbarDecoder:
    """zbar through pyzbar (needs libzbar0); QR only."""

    name = "pyzbar"

    def __init__(self) -> None:
        try:
            from pyzbar import pyzbar
        except ImportError as exc:  # libzbar missing: "Unable to find zbar shared library"
            raise EnvironmentFailure(
                "no_zbar", f"the pyzbar decoder needs the zbar library (libzbar0): {exc}"
            ) from exc
        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(self, frame: Frame) -> list[str]:
        gray = np.ascontiguousarray(to_gray(frame))
        found = self._pyzbar.decode(gray, symbols=self._symbols)
        return _distinct(r.data.decode("utf-8", errors="replace") for r in found)


def make_decoder(name: str = "zxing") -> Decoder:
    """The decoder called ``name`` (``zxing`` or ``pyzbar``)."""
    if name == "zxing":
        return ZxingDecoder()
    if name == "pyzbar":
        return PyzbarDecoder()
    raise UsageError("bad_decoder", f"unknown decoder {name!r} (choose zxing or pyzbar)")


def iter_video_frames(path: Path) -> Iterator[Frame]:
    """Every frame of a video file (or an image-sequence pattern), as fast as read."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise UsageError("unreadable_file", f"{path}: not an image or video OpenCV can read")
        n = 0
        while n < VIDEO_MAX_FRAMES:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            yield frame
        if n == 0:
            raise UsageError(
                "unreadable_file", f"{path}: not an image or video OpenCV can read (no frames)"
            )
    finally:
        cap.release()


def decode_file(path: Path | str, decoder: Decoder | None = None) -> list[str]:
    """Every QR text in an image, or the distinct texts of a video's frames in first-seen order.

    Raises :class:`UsageError` (exit 2) for a missing or unreadable file.
    """
    p = Path(path)
    if "%" not in p.name:
        if not p.exists():
            raise UsageError("unreadable_file", f"{p}: no such file")
        if not p.is_file():
            raise UsageError("unreadable_file", f"{p}: not a file")
    dec = decoder or ZxingDecoder()
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED) if "%" not in p.name else None
    if img is not None:
        if img.dtype != np.uint8:  # 16-bit PNGs
            img = cv2.convertScaleAbs(img, alpha=255.0 / 65535.0)
        return dec.decode(img)
    if p.suffix.lower() in IMAGE_SUFFIXES and "%" not in p.name:
        raise UsageError("unreadable_file", f"{p}: not an image or video OpenCV can read")
    texts: dict[str, None] = {}
    for frame in iter_video_frames(p):
        for t in dec.decode(frame):
            texts.setdefault(t, None)
    return list(texts)
