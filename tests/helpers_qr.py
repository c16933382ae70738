"""QR images, 720p camera-like frames and videos for tests and the bench.

Codes are rendered with ``segno.make_qr`` (never ``segno.make``: for short
text it picks Micro QR, which neither zbar nor OpenCV reads). Frames imitate
what a counter's webcam sees: a 1280x720 gray-ish scene with the code on a
phone screen, optionally tilted in 3D (a perspective warp), blurred and
noisy. Videos are MJPG ``.avi`` written by OpenCV, the container the camera
path reads back reliably.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import segno

W, H = 1280, 720
PHOTOS = Path(__file__).resolve().parent / "data" / "qr-photos"
"""The real QR photos the repository carries (zxing's corpus, Apache-2.0: see NOTICE)."""


def qr_matrix(text: str, *, error: str = "m") -> np.ndarray:
    """The QR modules of ``text`` as a uint8 array (1 = dark), without quiet zone."""
    qr = segno.make_qr(text, error=error)
    return np.array([list(row) for row in qr.matrix], dtype=np.uint8)


def qr_image(text: str, *, module_px: int = 4, border: int = 4) -> np.ndarray:
    """A crisp grayscale QR image (white quiet zone of ``border`` modules)."""
    m = qr_matrix(text)
    m = np.pad(m, border, constant_values=0)
    img = np.where(m == 1, 0, 255).astype(np.uint8)
    return np.kron(img, np.ones((module_px, module_px), dtype=np.uint8))


def light_on_dark(text: str, *, module_px: int = 4, border: int = 4) -> np.ndarray:
    """``text`` as a light-on-dark QR image (white modules on black, black quiet zone).

    The modules come from the project's own encoder (:func:`sync.cards.qr_matrix`,
    the one that prints the cards), as a phone's dark theme would show them.
    """
    from sync.cards import qr_matrix as card_matrix

    m = np.pad(card_matrix(text), border, constant_values=False)
    img = np.where(m, 255, 0).astype(np.uint8)
    return np.kron(img, np.ones((module_px, module_px), dtype=np.uint8))


def write_png(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"cannot write {path}")
    return path


def qr_png(path: Path, text: str, **kw: int) -> Path:
    """Write a crisp QR PNG of ``text`` and return its path."""
    return write_png(path, qr_image(text, **kw))


def camera_frame(
    text: str | None,
    *,
    size: int = 300,
    angle_deg: float = 0.0,
    tilt_deg: float = 0.0,
    center: tuple[int, int] = (W // 2, H // 2),
    blur: int = 0,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A 1280x720 BGR frame like a webcam's, with ``text`` as a QR on a phone screen.

    ``size`` is the code's side in pixels, ``angle_deg`` an in-plane rotation,
    ``tilt_deg`` a tilt of the phone away from the camera (perspective).
    ``text=None`` gives an empty frame (for "no code" timings).
    """
    rng = np.random.default_rng(seed)
    scene = np.full((H, W), 110, dtype=np.uint8)
    # some background texture so the frame is not trivially empty
    yy, xx = np.mgrid[0:H, 0:W]
    scene = (scene + 30 * np.sin(xx / 37.0) * np.cos(yy / 53.0)).astype(np.uint8)
    if text is not None:
        code = qr_image(text, module_px=1, border=4)
        code = cv2.resize(code, (size, size), interpolation=cv2.INTER_NEAREST)
        pad = size // 8
        screen = np.full((size + 2 * pad, size + 2 * pad), 245, dtype=np.uint8)
        screen[pad : pad + size, pad : pad + size] = code
        screen = np.pad(screen, 6, constant_values=20)  # phone bezel
        s = screen.shape[0]
        half = s / 2
        src = np.float32([[0, 0], [s, 0], [s, s], [0, s]])
        # corners around the centre, tilted about the vertical axis, then rotated
        t = math.radians(tilt_deg)
        shrink = math.cos(t)
        persp = 0.25 * math.sin(t)
        pts = []
        for cx, cy in ((-half, -half), (half, -half), (half, half), (-half, half)):
            x = cx * shrink
            y = cy * (1 + persp * (cx / half))
            a = math.radians(angle_deg)
            rx = x * math.cos(a) - y * math.sin(a) + center[0]
            ry = x * math.sin(a) + y * math.cos(a) + center[1]
            pts.append([rx, ry])
        dst = np.float32(pts)
        mtx = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(screen, mtx, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
        mask = cv2.warpPerspective(
            np.full_like(screen, 255), mtx, (W, H), flags=cv2.INTER_NEAREST, borderValue=0
        )
        scene = np.where(mask > 0, warped, scene).astype(np.uint8)
    if blur:
        scene = cv2.GaussianBlur(scene, (blur * 2 + 1, blur * 2 + 1), 0)
    if noise:
        scene = np.clip(scene + rng.normal(0, noise, scene.shape), 0, 255).astype(np.uint8)
    return cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR)


def synthetic_set(text: str) -> list[tuple[str, np.ndarray]]:
    """Labelled 720p frames: sizes, positions, rotations, blur, noise and tilted screens."""
    out: list[tuple[str, np.ndarray]] = []
    for size in (160, 220, 300, 420):
        for angle in (0, 15, 45):
            out.append((f"size{size}-rot{angle}", camera_frame(text, size=size, angle_deg=angle)))
    for tilt in (20, 35, 50):
        for angle in (0, 10, 30):
            out.append(
                (f"tilt{tilt}-rot{angle}", camera_frame(text, tilt_deg=tilt, angle_deg=angle))
            )
    for blur in (1, 2):
        out.append((f"blur{blur}", camera_frame(text, blur=blur)))
    for noise in (8.0, 16.0):
        out.append((f"noise{int(noise)}", camera_frame(text, noise=noise, seed=int(noise))))
    out.append(("corner", camera_frame(text, size=220, center=(200, 160))))
    return out


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float = 25.0) -> Path:
    """Write BGR frames as an MJPG .avi (what the camera path reads back)."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not out.isOpened():
        raise OSError(f"cannot write video {path}")
    for f in frames:
        out.write(f if f.ndim == 3 else cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    out.release()
    return path


def video_of_texts(
    path: Path,
    texts: Sequence[str | None],
    *,
    frames_each: int = 3,
    fps: float = 25.0,
    size: tuple[int, int] = (640, 360),
) -> Path:
    """A video showing each text (None = empty frames) for ``frames_each`` frames."""
    w, h = size
    frames = []
    for t in texts:
        img = np.full((h, w), 200, dtype=np.uint8)
        if t is not None:
            code = qr_image(t, module_px=3)
            ch, cw = code.shape
            y, x = (h - ch) // 2, (w - cw) // 2
            img[y : y + ch, x : x + cw] = code
        frames.extend([cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)] * frames_each)
    return write_video(path, frames, fps)


def photo_corpus(root: Path = PHOTOS) -> list[tuple[Path, str]]:
    """(image, expected text) for the real photos under ``root`` (exact bytes).

    The default is the copy in ``tests/data/qr-photos`` so that the tests pass
    in any clone: nothing outside the repository is read.
    """
    out: list[tuple[Path, str]] = []
    for img in sorted(root.glob("*/*")):
        if img.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            continue
        txt = img.with_suffix(".txt")
        if txt.exists():
            # read bytes: text mode would turn the codes' \r\n into \n
            out.append((img, txt.read_bytes().decode("utf-8")))
    return out


# -- vouchers and kiosks for engine tests (real keys, real signatures, real files) --

NOW_S = 1_796_000_000  # a fixed "now" (2026-11-30) so validity windows are exact
ISSUER = "ACFTU-SH"


def voucher_token(key: object, *, now: int = NOW_S, **kw: object) -> str:
    """A real signed voucher valid from ``now`` (UTC s) for 365 days unless overridden."""
    from sync.voucher import encode_voucher, make_voucher

    return encode_voucher(make_voucher(ISSUER, now=now, **kw), key)  # type: ignore[arg-type]


def tamper_signature(token: str) -> str:
    """The same voucher with one bit of its Ed25519 signature flipped."""
    from sync.voucher.base45 import b45decode, b45encode
    from sync.voucher.codec import PREFIX

    raw = bytearray(b45decode(token[len(PREFIX) :]))
    raw[-1] ^= 0x01  # the signature is the last item of the COSE array
    return PREFIX + b45encode(bytes(raw))


def make_kiosk(home: Path, key: object, *, cinema: str = "SH01", counter: str = "") -> Path:
    """A standalone kiosk in ``home`` trusting ``key``'s public half."""
    from kiosk.engine.service import init_standalone

    init_standalone(home, cinema=cinema, issuer_keys=[key.public], counter=counter)  # type: ignore[attr-defined]
    return home
