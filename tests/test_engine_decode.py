"""Real QR images and videos decoded from files, the photo corpus, both decoders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from helpers_qr import (
    PHOTOS,
    camera_frame,
    light_on_dark,
    photo_corpus,
    qr_image,
    qr_png,
    synthetic_set,
    video_of_texts,
    voucher_token,
    write_png,
)

from kiosk.engine.decode import PyzbarDecoder, ZxingDecoder, decode_file, make_decoder, to_gray
from kiosk.errors import UsageError
from sync.voucher import PrivateKey


@pytest.fixture(scope="module")
def token() -> str:
    return voucher_token(PrivateKey.generate(), holder="张*明", cinemas=("SH01",))


@pytest.mark.parametrize("name", ["zxing", "pyzbar"])
def test_voucher_png_round_trip(tmp_path: Path, token: str, name: str) -> None:
    png = qr_png(tmp_path / "v.png", token)
    assert decode_file(png, make_decoder(name)) == [token]


def test_several_codes_in_one_frame_and_none(tmp_path: Path, token: str) -> None:
    a, b = qr_image(token), qr_image("CP1:OTHER-CODE")
    h = max(a.shape[0], b.shape[0])
    pad = lambda m: np.pad(m, ((0, h - m.shape[0]), (0, 40)), constant_values=255)  # noqa: E731
    both = np.hstack([pad(a), pad(b)])
    assert sorted(decode_file(write_png(tmp_path / "two.png", both))) == sorted(
        [token, "CP1:OTHER-CODE"]
    )
    empty = write_png(tmp_path / "empty.png", np.full((200, 300), 255, np.uint8))
    assert decode_file(empty) == []


def test_gray_and_bgr_frames_alike(token: str) -> None:
    frame = camera_frame(token)
    z = ZxingDecoder()
    assert z.decode(frame) == [token]
    assert z.decode(to_gray(frame)) == [token]
    assert z.decode(cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)) == [token]


def test_video_gives_distinct_texts_in_first_seen_order(tmp_path: Path, token: str) -> None:
    avi = video_of_texts(tmp_path / "v.avi", ["CP1:FIRST", None, token, "CP1:FIRST", None])
    assert decode_file(avi) == ["CP1:FIRST", token]


def test_image_sequence_pattern(tmp_path: Path) -> None:
    for i, t in enumerate(["CP1:A1", "CP1:B2", "CP1:A1"]):
        qr_png(tmp_path / f"frame_{i:03d}.png", t)
    assert decode_file(tmp_path / "frame_%03d.png") == ["CP1:A1", "CP1:B2"]


def test_unreadable_inputs_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        decode_file(tmp_path / "missing.png")
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    with pytest.raises(UsageError, match="not an image or video"):
        decode_file(junk)
    with pytest.raises(UsageError, match="not a file"):
        decode_file(tmp_path)
    with pytest.raises(UsageError, match="unknown decoder"):
        make_decoder("opencv")


def test_synthetic_720p_frames_including_tilted_screens(token: str) -> None:
    frames = synthetic_set(token)
    z = ZxingDecoder()
    hits = [name for name, f in frames if z.decode(f) == [token]]
    tilted = [n for n, _ in frames if n.startswith("tilt")]
    assert len(hits) >= len(frames) - 2, sorted(set(n for n, _ in frames) - set(hits))
    assert sum(n in hits for n in tilted) >= len(tilted) - 1
    assert z.decode(camera_frame(None)) == []


def test_photo_corpus_rate() -> None:
    corpus = photo_corpus()
    assert len(corpus) == 179
    z = ZxingDecoder()
    ok = [p for p, want in corpus if want in z.decode(cv2.imread(str(p)))]
    assert len(ok) >= 166, f"zxing decoded {len(ok)}/179 photos"
    # spot-check exact texts (including a code whose text holds CR LF)
    by_name = {f"{p.parent.name}/{p.name}": want for p, want in corpus}
    sample = sorted(by_name)[::15]
    for name in sample:
        path = PHOTOS / name
        if path in ok:
            assert by_name[name] in decode_file(path)


def test_pyzbar_on_the_photo_corpus() -> None:
    corpus = photo_corpus()
    zb = PyzbarDecoder()
    ok = sum(want in zb.decode(cv2.imread(str(p))) for p, want in corpus)
    assert ok >= 140, f"pyzbar decoded {ok}/179 photos"


# -- light-on-dark codes (issue 11, item 9): try_invert is on --

#: zxing-cpp with the kiosk's options before issue 11 (try_invert off), to show
#: that the light-on-dark tests below really need the inverted pass.
OLD_OPTIONS = {
    "formats": zxingcpp.BarcodeFormat.QRCode,
    "text_mode": zxingcpp.TextMode.Plain,
    "try_rotate": False,
    "try_downscale": False,
    "try_invert": False,
}


def bare_reads(img: np.ndarray, want: str) -> bool:
    """Bare zxing-cpp with its defaults (try_invert among them) reads ``want``.

    Plain text mode only changes how the bytes are rendered (the default HRI
    mode escapes control characters), not what is found.
    """
    return want in [b.text for b in zxingcpp.read_barcodes(img, text_mode=zxingcpp.TextMode.Plain)]


def old_reads(img: np.ndarray, want: str) -> bool:
    return want in [b.text for b in zxingcpp.read_barcodes(img, **OLD_OPTIONS)]


def test_light_on_dark_codes_made_by_the_card_encoder(token: str) -> None:
    z = ZxingDecoder()
    texts = [token, "CP1:SHORT", "K7Q2-9XWM-3HTP", "影院：上海影城 SH01"]
    images = [(t, light_on_dark(t, module_px=px)) for t in texts for px in (3, 6)]
    # and whole 720p camera frames shown inverted (a dark-theme phone held up)
    images += [(token, 255 - f) for _n, f in synthetic_set(token)[:12]]
    bare = [(t, img) for t, img in images if bare_reads(np.ascontiguousarray(to_gray(img)), t)]
    assert len(bare) >= len(images) - 1, "bare zxing-cpp should read these"
    missed = [i for i, (t, img) in enumerate(bare) if t not in z.decode(img)]
    assert missed == [], f"the kiosk misses {len(missed)} codes bare zxing-cpp reads"
    # without the inverted pass they are lost: this test guards the option
    assert not any(old_reads(np.ascontiguousarray(to_gray(img)), t) for t, img in bare)


def test_inverted_photo_corpus_and_unchanged_rate() -> None:
    corpus = photo_corpus()
    assert len(corpus) == 179
    z = ZxingDecoder()
    straight = inverted = 0
    for path, want in corpus:
        gray = to_gray(cv2.imread(str(path)))
        neg = np.ascontiguousarray(255 - gray)
        straight += want in z.decode(gray)
        if bare_reads(neg, want):
            assert want in z.decode(neg), f"{path}: bare zxing-cpp reads it inverted, we do not"
            inverted += 1
    assert straight >= 166, f"photo rate changed: {straight}/179"
    assert inverted >= 166, f"bare zxing-cpp read only {inverted}/179 inverted photos"


def test_the_kiosk_command_reads_light_on_dark_codes(tmp_path: Path, token: str) -> None:
    """Through the real ``cinepass-kiosk decode``: a dark-theme code and an inverted photo."""
    dark = write_png(tmp_path / "dark.png", light_on_dark(token))
    photo, want = photo_corpus()[0]
    neg = write_png(tmp_path / "neg.png", 255 - to_gray(cv2.imread(str(photo))))
    r = subprocess.run(
        [
            str(Path(sys.executable).with_name("cinepass-kiosk")),
            "decode",
            "--json",
            str(dark),
            str(neg),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    files = json.loads(r.stdout)["files"]
    assert [f["texts"] for f in files] == [[token], [want]]
