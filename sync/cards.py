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
  is kept: scanning at the counter matters more than 6 s per 10,000. A batch
  gets the very same symbols 3x cheaper from :mod:`sync.qrfast` (one encode, the
  mask chosen for a whole part at once in numpy).
* PNG: written here from the module matrix with numpy + zlib (a 1-bit
  grayscale PNG, 0.1 ms) instead of a Pillow round trip.
* PDF: fpdf2 embeds a bitmap by transcoding it through Pillow/TIFF (1.2 ms
  per card), and vector rectangles per run of dark modules cost 0.2 ms of
  string formatting and a 6 KB path per card, so the QR is an inline image
  in the page's content stream: the 1-bit module matrix with its quiet zone
  (``BI /W 57 /H 57 /BPC 1 ... ID <hex> EI``, 0.9 KB, a few microseconds),
  one sample per module, drawn without smoothing, so the modules stay sharp
  squares at any printer resolution. The rights text, identical on every card
  of a batch, is laid out once and replayed (fpdf2's ``multi_cell`` costs 2 ms).

Each card states the member's rights (:mod:`sync.cardrights`): the films
(2D/3D), validity incl. weekends and public holidays, the cinemas by name and
address when :class:`CardRights` gives them, how to redeem (scan or short code
at the box office), no resale and no cash, loss, freeze and replacement, and
the hotline. Lines are placed by their boxes (:mod:`sync.cardlayout`) so
nothing overlaps at any name or code length: long texts shrink, wrap, then
give way to "见附页" and an appendix page after the cards that lists every
cinema and the full rules.
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

from sync.cardlayout import (
    LINE_EM,
    PAGE_H,
    PAGE_W,
    Box,
    Fitted,
    RelBox,
    TextWriter,
    clip_text,
    height,
)
from sync.cardlayout import NO_LINE_START as NO_LINE_START  # the card API of old: re-exported
from sync.cardlayout import wrap_cjk as wrap_cjk
from sync.cardrights import (
    SEE_APPENDIX,
    CardRights,
    CinemaEntry,
    cinema_detail,
    formats_line,
    hotline_line,
    redeem_text,
    rules_text,
    validity_note,
    where_codes,
)
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
CARD_W, CARD_H = 95.0, 69.0
COLS, ROWS = 2, 4
MARGIN_X = (PAGE_W - COLS * CARD_W) / 2
MARGIN_Y = (PAGE_H - ROWS * CARD_H) / 2
QR_SIZE = 44.0  # mm including the quiet zone: ~0.68 mm per module at version 10

#: The rules printed on a card without :class:`CardRights` (2D and 3D vouchers).
RULES_ZH = redeem_text(("2D", "3D")) + rules_text(CardRights())
RULES_PT = 6.0

TITLE = "CinePass 电影兑换券"
CODE_HINT = "券码：扫码失败时由工作人员输入"
QR_X, QR_Y = 1.5, 8.0  # the QR's top left on the card, mm
LEFT_X, LEFT_W = 3.0, QR_X + QR_SIZE - 3.0  # the column under the QR
CODE_TOP, CODE_H = 52.4, 6.2  # the short code's band under the QR
CODE_SIZES = (10.5, 10, 9, 8, 7, 6, 5)
RIGHT_X = QR_X + QR_SIZE + 2.0
RIGHT_W = CARD_W - RIGHT_X - 2.5
RIGHT_TOP = 8.6
BOTTOM = CARD_H - 1.3  # no text below this, mm from the card's top


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


def light_modules(matrix: BoolMatrix, border: int = QUIET_ZONE) -> BoolMatrix:
    """The symbol with its white border, True = light (a 1-bit gray sample: 1 = white)."""
    n = matrix.shape[0]
    light = np.ones((n + 2 * border, n + 2 * border), dtype=np.bool_)
    light[border : border + n, border : border + n] = ~matrix  # (np.pad is 7x slower)
    return light


def png_bytes(matrix: BoolMatrix, scale: int = PNG_SCALE, border: int = QUIET_ZONE) -> bytes:
    """A 1-bit grayscale PNG of the matrix, ``scale`` px per module, white border."""
    light = light_modules(matrix, border)
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


def inline_image(matrix: BoolMatrix) -> bytes:
    """The QR with its quiet zone as a PDF inline image of one sample per module.

    1-bit DeviceGray (1 = white), rows padded to a byte as PDF requires,
    ASCII-hex so the data can never contain the ``EI`` that ends it. Drawn
    into the unit square: the caller's ``cm`` gives its size and place.
    """
    light = light_modules(matrix)
    n = light.shape[0]
    data = np.packbits(light, axis=1).tobytes().hex()
    return f"BI /W {n} /H {n} /BPC 1 /CS /G /F /AHx ID {data}> EI".encode("ascii")


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
    """A QR code ready for the PDF: its size in modules and its inline image."""

    modules: int
    image: bytes

    @classmethod
    def of(cls, matrix: BoolMatrix) -> QRArt:
        return cls(modules=int(matrix.shape[0]), image=inline_image(matrix))


@dataclass(frozen=True)
class Card:
    """Everything printed on one voucher card (texts already formatted).

    ``rights`` overrides the sheet's :class:`CardRights` for this card.
    """

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
    rights: CardRights | None = None

    @classmethod
    def of(
        cls, v: Any, token: str, issuer: str, art: QRArt | None = None, code: str | None = None
    ) -> Card:
        """The card of voucher claims ``v`` (a :class:`~sync.voucher.codec.Voucher` or a
        voucher row: anything with their names), printed as from ``issuer``."""
        from sync.issuing import display_date, valid_until_date

        where = tuple(v.cinemas) if v.cinemas is not None else None
        dates = display_date(v.nbf), valid_until_date(v.exp)
        return cls(
            token,
            code or v.short_code,
            v.holder,
            *dates,
            tuple(v.formats),
            where,
            v.campaign,
            issuer,
            art,
        )


AppendixKey = tuple[str, CardRights, tuple[CinemaEntry, ...], tuple[str, ...]]


class CardSheet:
    """An A4 PDF of voucher cards, 8 per page, built card by card.

    ``rights`` (names, addresses, hotline, after-sales text) is what every
    card of the sheet states; what does not fit on a card goes to an
    appendix page after the cards, which the card points to (见附页).
    """

    def __init__(
        self,
        title: str = "CinePass vouchers",
        font: Path | None = None,
        *,
        rights: CardRights | None = None,
        record_boxes: bool = False,
    ) -> None:
        from fpdf import FPDF

        self._pdf: Any = FPDF(orientation="P", unit="mm", format="A4")
        pdf = self._pdf
        pdf.set_auto_page_break(False)
        pdf.set_title(title)
        pdf.set_creator("cinepass-admin")
        font_path = font or find_font()
        pdf.add_font("cjk", fname=str(font_path), collection_font_number=0)  # face 0 of a .ttc
        self.rights = rights or CardRights()
        self._w = TextWriter(pdf, record=record_boxes)
        self._count = 0
        self._blocks: dict[tuple[Any, ...], tuple[bytes, float, float, list[RelBox]]] = {}
        self._appendix: dict[AppendixKey, None] = {}  # what the appendix pages list, in order

    @property
    def count(self) -> int:
        return self._count

    @property
    def missing(self) -> list[str]:
        """Characters drawn so far that the font has no glyph for (fpdf2 notes them)."""
        return [chr(c) for c in self._pdf.fonts["cjk"].missing_glyphs]

    @property
    def boxes(self) -> list[Box] | None:
        """Every text line and QR drawn so far (None unless ``record_boxes``)."""
        return self._w.boxes

    # -- text primitives (every line drawn goes through _line) ---------------------

    def _qr(self, art: QRArt, x: float, y: float) -> None:
        """Draw the QR (with quiet zone) with its top-left corner at (x, y) mm."""
        pdf = self._pdf
        size = QR_SIZE * pdf.k
        bottom = (pdf.h - y - QR_SIZE) * pdf.k
        pdf._out(  # raw operators: see the module docstring (speed)
            f"q {size:.3f} 0 0 {size:.3f} {x * pdf.k:.3f} {bottom:.3f} cm ".encode()
            + art.image
            + b" Q"
        )

    def add(self, card: Card) -> None:
        """Place one card (a new page every 8 cards).

        The short code and the holder are drawn per card, under the replayed
        static part; the code shrinks (10.5 pt down to 5 pt) and wraps to stay
        inside its band under the QR.
        """
        pdf = self._pdf
        slot = self._count % (COLS * ROWS)
        if slot == 0:
            pdf.add_page()
        self._count += 1
        x = MARGIN_X + (slot % COLS) * CARD_W
        y = MARGIN_Y + (slot // COLS) * CARD_H
        self._w.drawn = []
        self._static(card, card.rights or self.rights, x, y)
        art = card.art if card.art is not None else QRArt.of(qr_matrix(card.token))
        self._qr(art, x + QR_X, y + QR_Y)
        self._w.drawn.append((QR_X, QR_Y, QR_X + QR_SIZE, QR_Y + QR_SIZE, "QR"))
        code = self._w.fit(card.short_code, LEFT_W, CODE_H, CODE_SIZES)
        self._w.lines(x + LEFT_X, y + CODE_TOP, code, x, y)
        holder = f"持券人：{card.holder or '不记名'}"
        self._w.lines(x + RIGHT_X, y + RIGHT_TOP, self._w.fit(holder, RIGHT_W, 4.0, (9,)), x, y)
        if self._w.boxes is not None:
            area = (x + 0.2, y + 0.2, x + CARD_W - 0.2, y + CARD_H - 0.2)
            self._w.boxes += [
                Box(pdf.page, x + a, y + b, x + c, y + d, t, area)
                for a, b, c, d, t in self._w.drawn
            ]

    def _static(self, card: Card, rights: CardRights, x: float, y: float) -> None:
        """Everything on the card that the whole batch shares, drawn once and replayed.

        fpdf2 spends ~45 us per ``text()`` call; all but two of a card's texts
        are the same for every voucher of a batch. The first card's content-stream
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
            rights,
        )
        hit = self._blocks.get(key)
        if hit is not None:
            ops, x0, y0, boxes = hit
            dx, dy = (x - x0) * pdf.k, (y0 - y) * pdf.k
            pdf._out(f"q 1 0 0 1 {dx:.3f} {dy:.3f} cm\n".encode() + ops + b"Q")
            self._w.drawn += boxes
            return
        contents = pdf.pages[pdf.page].contents
        pdf.current_font_is_set_on_page = False  # the block must carry its own Tf
        start = len(contents)
        self._draw_static(card, rights, x, y)
        if len(self._blocks) > 16:
            self._blocks.clear()
        self._blocks[key] = (bytes(contents[start:]), x, y, list(self._w.drawn))

    def _draw_static(self, card: Card, rights: CardRights, x: float, y: float) -> None:
        pdf = self._pdf
        k = pdf.k
        pdf._out(  # the cutting frame, light grey, 0.2 mm
            f"q 0.667 G {0.2 * k:.2f} w {x * k:.2f} {(pdf.h - y) * k:.2f} "
            f"{CARD_W * k:.2f} {-CARD_H * k:.2f} re S Q"
        )
        self._w.line(x + 3.0, y + 2.4, TITLE, 11, x, y)
        title_w = pdf.get_string_width(TITLE)
        pdf.set_font("cjk", size=7)
        issuer = clip_text(pdf, card.issuer, CARD_W - 6.0 - title_w - 3.0)
        self._w.line(x + CARD_W - 3.0 - pdf.get_string_width(issuer), y + 3.3, issuer, 7, x, y)
        # left column, under the QR and the short code: how to use the code, the hotline
        top = self._w.line(x + LEFT_X, y + CODE_TOP + CODE_H + 0.3, CODE_HINT, 6.5, x, y)
        hotline = hotline_line(rights)
        if hotline:
            fitted = self._w.fit(hotline, LEFT_W, y + BOTTOM - top - 0.5, (7.5, 7, 6.5, 6))
            self._w.lines(x + LEFT_X, top + 0.5, fitted, x, y)
        # right column, under the holder (drawn per card): the rights, as many as fit
        entries = rights.cinemas
        with_detail = any(cinema_detail(e) for e in entries)
        blocks = self._right_blocks(card, rights, entries, with_detail)
        top = y + RIGHT_TOP + 4.0 + 0.8
        for fitted, gap in blocks:
            top = self._w.lines(x + RIGHT_X, top, fitted, x, y) + gap

    def _right_blocks(
        self, card: Card, rights: CardRights, entries: tuple[CinemaEntry, ...], detailed: bool
    ) -> list[tuple[Fitted, float]]:
        """The right column's blocks (fitted text, gap after), the richest that fit.

        Cinemas first with addresses, then by name only (addresses on the
        appendix), then the first names and "共 N 家" (the list on the
        appendix); the rules are cut last (the full text on the appendix).
        """
        pdf = self._pdf
        room = BOTTOM - (RIGHT_TOP + 4.0 + 0.8)
        head: list[tuple[Fitted, float]] = [
            (self._w.fit(f"有效期至：{card.valid_until}", RIGHT_W, 4.0, (9, 8)), 0.2),
            (self._w.fit(validity_note(card.valid_from), RIGHT_W, 6.0, (6.5, 6)), 0.8),
            (self._w.fit(formats_line(card.formats), RIGHT_W, 3.5, (8, 7)), 0.8),
        ]
        if card.campaign:
            head.append((self._w.fit(f"活动：{card.campaign}", RIGHT_W, 3.5, (8, 7)), 0.8))
        rules = f"{redeem_text(card.formats)}{rules_text(rights)}"
        rules_fit = self._w.fit(rules, RIGHT_W, 99.0, (RULES_PT,))
        used = sum(height(f) + g for f, g in head)
        rules_h = height(rules_fit)
        cinemas: list[tuple[Fitted, float]] = []
        moved = False
        if not entries:
            cinemas = [(self._w.fit(where_codes(card.cinemas), RIGHT_W, 12.0, (7,)), 0.8)]
        else:
            for variant in ("detail", "names", "count") if detailed else ("names", "count"):
                cinemas = self._cinema_variant(variant, entries, detailed, room - used - rules_h)
                moved = variant != "detail" and (detailed or variant == "count")
                if sum(height(f) + g for f, g in cinemas) + used + rules_h <= room:
                    break
        left = room - used - sum(height(f) + g for f, g in cinemas)
        if rules_h > left:  # even the shortest cinema block leaves too little: cut the rules
            cut = self._w.fit(rules + "（全文见附页）", RIGHT_W, left, (RULES_PT,))
            size, lines = cut
            rules_fit = (
                size,
                lines[:-1] + [clip_text(pdf, lines[-1], RIGHT_W - 14) + "（全文见附页）"],
            )
            moved = True
        if moved:
            self._appendix.setdefault((card.issuer, rights, entries, card.formats), None)
        return head[:3] + cinemas + head[3:] + [(rules_fit, 0.0)]

    def _cinema_variant(
        self, variant: str, entries: tuple[CinemaEntry, ...], detailed: bool, room: float
    ) -> list[tuple[Fitted, float]]:
        n = len(entries)
        if variant == "detail":
            out: list[tuple[Fitted, float]] = [
                (self._w.fit(f"适用影院（{n} 家）：", RIGHT_W, 3.0, (7,)), 0.0)
            ]
            for e in entries:
                out.append((self._w.fit(f"· {e.name}", RIGHT_W, 99.0, (7,)), 0.0))
                detail = cinema_detail(e)
                if detail:
                    out.append((self._w.fit(f"  {detail}", RIGHT_W, 99.0, (6,)), 0.3))
            return out[:-1] + [(out[-1][0], 0.8)]
        names = "适用影院：" + "、".join(e.name for e in entries)
        if variant == "names":
            tail = f"（地址、电话{SEE_APPENDIX}）" if detailed else ""
            return [(self._w.fit(names + tail, RIGHT_W, 99.0, (7,)), 0.8)]
        total = f"共 {n} 家影院，名单及地址{SEE_APPENDIX}"
        line_h = LINE_EM * 7 / self._pdf.k
        first = max(1.0, room - 2 * line_h) if room > 3 * line_h else line_h
        return [
            (self._w.fit(names, RIGHT_W, first, (7,)), 0.0),
            (self._w.fit(total, RIGHT_W, 2 * line_h, (7,)), 0.8),
        ]

    # -- the appendix: what did not fit on the cards ---------------------------------

    def save(self, path: Path) -> None:
        """Write the PDF (the appendix pages after the cards). Page streams use
        zlib level 1: the hex QR images and replayed texts compress almost as
        well as at fpdf2's default level, in a fraction of the time."""
        from fpdf.syntax import PDFContentStream

        for key in self._appendix:
            self._w.appendix(*key)
        self._appendix.clear()
        level = PDFContentStream._COMPRESSION_LEVEL
        PDFContentStream._COMPRESSION_LEVEL = 1
        try:
            self._pdf.output(str(path))
        finally:
            PDFContentStream._COMPRESSION_LEVEL = level


def write_cards_pdf(
    cards: Iterable[Card],
    path: Path,
    progress: Callable[[int], None] | None = None,
    rights: CardRights | None = None,
) -> int:
    """Write the A4 sheet(s) of ``cards`` to ``path``; returns the number of cards."""
    sheet = CardSheet(rights=rights)
    for card in cards:
        sheet.add(card)
        if progress is not None:
            progress(1)
    sheet.save(path)
    return sheet.count
