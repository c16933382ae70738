"""What a member holds: one PNG per voucher and the printable A4 sheet of cards.

Speed is the design constraint here: a union office issues 10,000 vouchers in
one go and the whole batch (signing, PNGs, PDF, database) must finish in 30 s
on a small PC. Measured on this project's 2-core machine (per voucher):

* QR encoding: ``segno.make_qr`` takes 16-24 ms (pure-Python mask scoring;
  still 3.5 ms with a fixed mask), which alone is 160 s for 10,000.
  zxing-cpp's encoder (C++, already a dependency for decoding) takes
  0.8 ms and picks the best mask itself, so the module matrix comes from
  :func:`zxingcpp.create_barcode` - always a full QR code (never Micro QR,
  which neither zbar nor OpenCV reads; that is why ``segno.make`` is banned).
  Most of those 0.8 ms is the mask choice; a fixed ``data_mask`` takes
  0.16 ms, but on 300 blurred, noisy, small renderings zxing read 163
  (best mask) against 157 and 130 (fixed masks 3 and 0), so the best mask
  is kept: scanning at the counter matters more than 6 s per 10,000.
* PNG: written here from the module matrix with numpy + zlib (a 1-bit
  grayscale PNG, 0.1 ms) instead of a Pillow round trip.
* PDF: fpdf2 embeds a bitmap by transcoding it through Pillow/TIFF (1.2 ms
  per card), so the QR is drawn as vector rectangles, one per horizontal run
  of dark modules, in module units under one ``cm`` transform: crisp at any
  printer resolution and ~0.2 ms. The rules text, identical on every card,
  is line-broken once, not per card (fpdf2's ``multi_cell`` costs 2 ms).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sync.voucher.errors import VoucherError

#: Fonts the PDF may use, in order: the one bundled with the project, then
#: Debian's fonts-wqy-microhei. fpdf2 needs a TrueType font with CJK glyphs.
FONT_CANDIDATES = (
    Path(__file__).resolve().parents[1] / "resources" / "fonts" / "wqy-microhei.ttc",
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)

QUIET_ZONE = 4  # modules of white border the QR standard asks for
PNG_SCALE = 8  # pixels per module: 65 modules -> 520 px, 44 mm at 300 dpi

# A4 sheet: 2 columns x 4 rows of 95 x 69 mm cards (cut along the grey lines).
PAGE_W, PAGE_H = 210.0, 297.0
CARD_W, CARD_H = 95.0, 69.0
COLS, ROWS = 2, 4
MARGIN_X = (PAGE_W - COLS * CARD_W) / 2
MARGIN_Y = (PAGE_H - ROWS * CARD_H) / 2
QR_SIZE = 44.0  # mm including the quiet zone: ~0.68 mm per module at version 10

#: The rules printed on every card (zh_CN): formats, days, where to use it.
RULES_ZH = (
    "2D、3D 影片均可使用，周末及法定节假日通用。"
    "请在上列合作影院的售票处出示二维码，兑换电影票一张；"
    "无法扫码时可报券码。一经兑换即失效，不兑现金。"
)
RULES_PT = 6.5
#: Characters that must not start a line (Chinese line-breaking rules).
NO_LINE_START = "，。、；：！？）」』》〉…,.;:!?)"


class CardError(VoucherError):
    """A card or QR image could not be made (no CJK font, text too long...)."""


BoolMatrix = npt.NDArray[np.bool_]


def qr_matrix(text: str) -> BoolMatrix:
    """The QR code (error correction M) of ``text`` as a square bool matrix, True = dark.

    No quiet zone: callers add :data:`QUIET_ZONE` modules of white.
    """
    import zxingcpp

    try:
        code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    except Exception as exc:  # noqa: BLE001 - the C++ writer raises its own types
        raise CardError("qr_failed", f"cannot encode this text as a QR code: {exc}") from exc
    image = np.asarray(code.to_image(scale=1, add_quiet_zones=False))
    return np.asarray(image == 0, dtype=np.bool_)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(matrix: BoolMatrix, scale: int = PNG_SCALE, border: int = QUIET_ZONE) -> bytes:
    """A 1-bit grayscale PNG of the matrix, ``scale`` px per module, white border."""
    n = matrix.shape[0]
    light = np.ones((n + 2 * border, n + 2 * border), dtype=np.bool_)  # PNG 1-bit gray: 1 = white
    light[border : border + n, border : border + n] = ~matrix  # (np.pad is 7x slower)
    packed = np.packbits(np.repeat(light, scale, axis=1), axis=1)  # one pixel row per module row
    lines = np.hstack([np.zeros((packed.shape[0], 1), np.uint8), packed])  # filter byte 0
    raw = np.repeat(lines, scale, axis=0).tobytes()
    height, width = light.shape[0] * scale, light.shape[1] * scale
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw, 1))  # level 6: 5x slower, half the size
        + _png_chunk(b"IEND", b"")
    )


def qr_runs(matrix: BoolMatrix) -> str:
    """PDF path operators (``x y w 1 re``) for every horizontal run of dark modules.

    Module units (the caller's ``cm`` scales them); one %-format over all
    runs is 3x faster than an f-string per run.
    """
    padded = np.zeros((matrix.shape[0], matrix.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = matrix
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, ends = np.nonzero(steps == -1)
    flat = np.stack([starts, rows, ends - starts], axis=1).ravel().tolist()
    return ("%d %d %d 1 re " * len(rows)) % tuple(flat)


def find_font() -> Path:
    """The CJK font for cards: the bundled one, else the Debian package's."""
    for path in FONT_CANDIDATES:
        if path.is_file():
            return path
    raise CardError(
        "no_cjk_font",
        "no Chinese font found: install fonts-wqy-microhei (scripts/system-deps.sh) "
        f"or put wqy-microhei.ttc in {FONT_CANDIDATES[0].parent}",
    )


@dataclass(frozen=True)
class QRArt:
    """A QR code ready for the PDF: its size in modules and its path operators."""

    modules: int
    runs: str

    @classmethod
    def of(cls, matrix: BoolMatrix) -> QRArt:
        return cls(modules=int(matrix.shape[0]), runs=qr_runs(matrix))


@dataclass(frozen=True)
class Card:
    """Everything printed on one voucher card (texts already formatted)."""

    token: str
    short_code: str
    holder: str | None
    valid_from: str  # YYYY-MM-DD
    valid_until: str  # YYYY-MM-DD, last day the voucher is accepted
    formats: tuple[str, ...]
    cinemas: tuple[str, ...] | None
    campaign: str | None
    issuer: str
    art: QRArt | None = None  # precomputed (e.g. by a worker process that wrote the PNG)


class CardSheet:
    """An A4 PDF of voucher cards, 8 per page, built card by card."""

    def __init__(self, title: str = "CinePass vouchers", font: Path | None = None) -> None:
        from fpdf import FPDF

        self._pdf: Any = FPDF(orientation="P", unit="mm", format="A4")
        pdf = self._pdf
        pdf.set_auto_page_break(False)
        pdf.set_title(title)
        pdf.set_creator("cinepass-admin")
        font_path = font or find_font()
        pdf.add_font("cjk", fname=str(font_path), collection_font_number=0)  # face 0 of a .ttc
        self._count = 0
        self._rules_w = CARD_W - QR_SIZE - 6
        self._rules: list[str] = []  # line-broken once, on the first page
        self._blocks: dict[tuple[Any, ...], tuple[bytes, float, float]] = {}

    @property
    def count(self) -> int:
        return self._count

    def _qr(self, art: QRArt, x: float, y: float) -> None:
        """Draw the QR (with quiet zone) with its top-left corner at (x, y) mm."""
        pdf = self._pdf
        n = art.modules + 2 * QUIET_ZONE
        module = QR_SIZE / n * pdf.k  # points per module
        x0 = (x + QUIET_ZONE * QR_SIZE / n) * pdf.k
        y0 = (pdf.h - y - QUIET_ZONE * QR_SIZE / n) * pdf.k
        pdf._out(  # raw path operators: see the module docstring (speed)
            f"q 0 g {module:.4f} 0 0 {-module:.4f} {x0:.3f} {y0:.3f} cm {art.runs} f Q"
        )

    def add(self, card: Card) -> None:
        """Place one card (a new page every 8 cards)."""
        pdf = self._pdf
        slot = self._count % (COLS * ROWS)
        if slot == 0:
            pdf.add_page()
            if not self._rules:
                pdf.set_font("cjk", size=RULES_PT)
                self._rules = wrap_cjk(pdf, RULES_ZH, self._rules_w)
        self._count += 1
        x = MARGIN_X + (slot % COLS) * CARD_W
        y = MARGIN_Y + (slot // COLS) * CARD_H
        self._static(card, x, y)
        art = card.art if card.art is not None else QRArt.of(qr_matrix(card.token))
        self._qr(art, x + 1.5, y + 8.0)
        pdf.set_font("cjk", size=10.5)
        pdf.text(x + 4.5, y + 56.0, card.short_code)
        pdf.set_font("cjk", size=9)
        pdf.text(x + QR_SIZE + 3.0, y + 14, _clip(pdf, f"持券人：{card.holder or '不记名'}", 45))

    def _static(self, card: Card, x: float, y: float) -> None:
        """Everything on the card that the whole batch shares, drawn once and replayed.

        fpdf2 spends ~45 us per ``text()`` call; 11 of a card's 13 texts are
        the same for every voucher of a batch. The first card's content-stream
        bytes for them are kept and later cards replay them under a
        translation (``q 1 0 0 1 dx dy cm ... Q``): the same glyphs, already in
        the font subset, at the new position.
        """
        pdf = self._pdf
        key = (
            card.issuer,
            card.valid_from,
            card.valid_until,
            card.formats,
            card.cinemas,
            card.campaign,
        )
        hit = self._blocks.get(key)
        if hit is not None:
            ops, x0, y0 = hit
            dx, dy = (x - x0) * pdf.k, (y0 - y) * pdf.k
            pdf._out(f"q 1 0 0 1 {dx:.3f} {dy:.3f} cm\n".encode() + ops + b"Q")
            return
        contents = pdf.pages[pdf.page].contents
        pdf.current_font_is_set_on_page = False  # the block must carry its own Tf
        start = len(contents)
        self._draw_static(card, x, y)
        if len(self._blocks) > 16:
            self._blocks.clear()
        self._blocks[key] = (bytes(contents[start:]), x, y)

    def _draw_static(self, card: Card, x: float, y: float) -> None:
        pdf = self._pdf
        k = pdf.k
        pdf._out(  # the cutting frame, light grey, 0.2 mm
            f"q 0.667 G {0.2 * k:.2f} w {x * k:.2f} {(pdf.h - y) * k:.2f} "
            f"{CARD_W * k:.2f} {-CARD_H * k:.2f} re S Q"
        )
        pdf.set_font("cjk", size=11)
        pdf.text(x + 4, y + 6.5, "CinePass 电影兑换券")
        pdf.set_font("cjk", size=7)
        issuer = _clip(pdf, card.issuer, 40)
        pdf.text(x + CARD_W - 4 - pdf.get_string_width(issuer), y + 6.5, issuer)
        pdf.set_font("cjk", size=6.5)
        pdf.text(x + 4.5, y + 59.5, "券码：扫码失败时由工作人员输入")
        tx = x + QR_SIZE + 3.0
        width = self._rules_w
        pdf.set_font("cjk", size=9)
        pdf.text(tx, y + 20, f"有效期至：{card.valid_until}")
        pdf.set_font("cjk", size=7)
        pdf.text(tx, y + 24, f"（{card.valid_from} 起，含当日）")
        pdf.set_font("cjk", size=9)
        pdf.text(tx, y + 30, _clip(pdf, f"适用：{' / '.join(card.formats)} 影片", width))
        where = "所有合作影院" if card.cinemas is None else "、".join(card.cinemas)
        pdf.text(tx, y + 35, _clip(pdf, f"影院：{where}", width))
        if card.campaign:
            pdf.text(tx, y + 40, _clip(pdf, f"活动：{card.campaign}", width))
        pdf.set_font("cjk", size=RULES_PT)
        line_y = y + 45.5
        for line in self._rules:
            pdf.text(tx, line_y, line)
            line_y += 3.0

    def save(self, path: Path) -> None:
        """Write the PDF. Page streams use zlib level 1: 4x faster than fpdf2's
        default on 8 QR codes of vector runs, for a 60% larger file."""
        from fpdf.syntax import PDFContentStream

        level = PDFContentStream._COMPRESSION_LEVEL
        PDFContentStream._COMPRESSION_LEVEL = 1
        try:
            self._pdf.output(str(path))
        finally:
            PDFContentStream._COMPRESSION_LEVEL = level


def wrap_cjk(pdf: Any, text: str, width: float) -> list[str]:
    """Break Chinese text into lines of at most ``width`` mm in the current font.

    Character by character (Chinese has no spaces to break at); closing
    punctuation is kept on the line before, as Chinese typesetting requires.
    """
    lines: list[str] = []
    line = ""
    for ch in text:
        if line and ch not in NO_LINE_START and pdf.get_string_width(line + ch) > width:
            lines.append(line)
            line = ""
        line += ch
    if line:
        lines.append(line)
    return lines


def _clip(pdf: Any, text: str, width: float) -> str:
    """Shorten ``text`` with an ellipsis so it fits ``width`` mm in the current font."""
    if len(text) * pdf.font_size <= width:  # even all-CJK (1 em per character) fits: skip measuring
        return text
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def write_cards_pdf(
    cards: Iterable[Card], path: Path, progress: Callable[[int], None] | None = None
) -> int:
    """Write the A4 sheet(s) of ``cards`` to ``path``; returns the number of cards."""
    sheet = CardSheet()
    for card in cards:
        sheet.add(card)
        if progress is not None:
            progress(1)
    sheet.save(path)
    return sheet.count
