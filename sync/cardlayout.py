"""Text on the voucher cards: line breaking, fitting, recorded boxes, the appendix.

Every line :mod:`sync.cards` prints goes through :class:`TextWriter`, which
places it by the top of its box (the font's ascent and descent are known), so
a layout is a stack of boxes that cannot overlap by construction; with
``record=True`` it also keeps each box, which is how the tests prove that no
two texts meet at any name or code length. Chinese text is broken between
characters but never inside a code or a number, and no line is wider than
asked (a unit longer than a whole line is broken by character).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sync.cardrights import (
    CardRights,
    CinemaEntry,
    formats_line,
    hotline_line,
    redeem_text,
    rules_text,
)

#: Characters that must not start a line (Chinese line-breaking rules).
NO_LINE_START = "，。、；：！？）」』》〉…,.;:!?)"
TOKEN_RE = re.compile(r"[!-~]+|.", re.S)  # a run of printable ASCII, or one character
PT_PER_MM = 72 / 25.4
#: The CJK font's ascent and ascent + descent, in em (wqy-microhei: 937 and 236 / 1000):
#: a text line's box is its baseline - ASCENT em to its baseline + descent.
ASCENT, LINE_EM = 0.937, 1.173
PAGE_W, PAGE_H = 210.0, 297.0
APPENDIX_MARGIN = 18.0


@dataclass(frozen=True)
class Box:
    """Where one text line (or the QR) was drawn, in mm from the page's top left.

    ``area`` is the rectangle it must stay inside (its card, or the page's
    margins on an appendix page). Recorded only with ``record_boxes=True``:
    the tests check that no two boxes meet and none leaves its area.
    """

    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    area: tuple[float, float, float, float]

    def meets(self, other: Box) -> bool:
        return (
            self.page == other.page
            and self.x0 < other.x1
            and other.x0 < self.x1
            and self.y0 < other.y1
            and other.y0 < self.y1
        )

    def inside(self) -> bool:
        ax0, ay0, ax1, ay1 = self.area
        return ax0 <= self.x0 and self.x1 <= ax1 and ay0 <= self.y0 and self.y1 <= ay1


RelBox = tuple[float, float, float, float, str]  # x0, y0, x1, y1 relative to the card
Fitted = tuple[float, list[str]]  # (font size in pt, lines)


def height(fitted: Fitted) -> float:
    """The height in mm of fitted lines."""
    return len(fitted[1]) * LINE_EM * fitted[0] / PT_PER_MM


class TextWriter:
    """Draws lines of text on an fpdf2 document by the top of their box.

    ``drawn`` collects the boxes of what is being drawn (relative to an
    origin the caller gives), only when ``record`` is set; :data:`boxes`
    is where the caller files them, with their page and area.
    """

    def __init__(self, pdf: Any, *, record: bool = False) -> None:
        self.pdf = pdf
        self.boxes: list[Box] | None = [] if record else None
        self.drawn: list[RelBox] = []

    def line(self, x: float, top: float, text: str, size: float, ox: float, oy: float) -> float:
        """Draw ``text`` with its box's top at ``top`` mm; returns the box's bottom."""
        pdf = self.pdf
        pdf.set_font("cjk", size=size)
        em: float = pdf.font_size
        pdf.text(x, top + ASCENT * em, text)
        bottom = top + LINE_EM * em
        if self.boxes is not None:  # measuring costs ~15 us a line: only when asked
            self.drawn.append(
                (x - ox, top - oy, x + pdf.get_string_width(text.rstrip()) - ox, bottom - oy, text)
            )
        return bottom

    def fit(self, text: str, width: float, height: float, sizes: Sequence[float]) -> Fitted:
        """The largest size of ``sizes`` at which ``text`` wraps into ``height`` mm.

        At the smallest size the lines that do not fit are cut, the last kept
        one ending in an ellipsis.
        """
        pdf = self.pdf
        lines: list[str] = []
        for size in sizes:
            pdf.set_font("cjk", size=size)
            if LINE_EM * pdf.font_size <= height + 1e-6 and (
                len(text) * pdf.font_size <= width or pdf.get_string_width(text) <= width
            ):
                return size, [text]  # one line (the common case: measured once, not wrapped)
            lines = wrap_cjk(pdf, text, width)
            if len(lines) * LINE_EM * pdf.font_size <= height + 1e-6:
                return size, lines
        keep = max(1, int((height + 1e-6) // (LINE_EM * pdf.font_size)))
        if len(lines) > keep:
            lines = lines[: keep - 1] + [clip_text(pdf, "".join(lines[keep - 1 :]), width)]
        return sizes[-1], lines

    def lines(self, x: float, top: float, fitted: Fitted, ox: float, oy: float) -> float:
        """Draw fitted lines one under the other from ``top``; returns the last bottom."""
        size, lines = fitted
        for text in lines:
            top = self.line(x, top, text, size, ox, oy)
        return top

    def appendix(
        self,
        issuer: str,
        rights: CardRights,
        entries: tuple[CinemaEntry, ...],
        formats: tuple[str, ...],
    ) -> None:
        """Pages listing every cinema (name, address, phone) and the full rules.

        A card whose cinemas or rules did not fit says 见附页 and points here.
        """
        pdf = self.pdf
        width = PAGE_W - 2 * APPENDIX_MARGIN
        area = (
            APPENDIX_MARGIN - 0.1,
            APPENDIX_MARGIN - 0.1,
            PAGE_W - APPENDIX_MARGIN + 0.1,
            PAGE_H - APPENDIX_MARGIN + 0.1,
        )
        blocks: list[tuple[float, str, float, float]] = [  # (size, text, indent, gap after)
            (14, "附页：适用影院及使用规则", 0, 1.5),
            (9, issuer, 0, 4),
            (11, f"适用影院（{len(entries)} 家）", 0, 2),
        ]
        for i, e in enumerate(entries, 1):
            blocks.append((10, f"{i}. {e.name}", 0, 0.5))
            if e.address.strip():
                blocks.append((9, f"地址：{e.address.strip()}", 6, 0.5))
            if e.phone.strip():
                blocks.append((9, f"电话：{e.phone.strip()}", 6, 0.5))
            blocks[-1] = blocks[-1][:3] + (2.5,)
        blocks += [
            (11, "使用规则", 0, 2),
            (9, formats_line(formats) + "，有效期见券面，周末及法定节假日通用。", 0, 1),
            (9, redeem_text(formats), 0, 1),
            (9, rules_text(rights), 0, 1),
        ]
        hotline = hotline_line(rights)
        if hotline:
            blocks.append((11, hotline, 0, 0))
        pdf.add_page()
        top = APPENDIX_MARGIN
        self.drawn = []
        for size, text, indent, gap in blocks:
            pdf.set_font("cjk", size=size)
            for line in wrap_cjk(pdf, text, width - indent):
                if top + LINE_EM * pdf.font_size > PAGE_H - APPENDIX_MARGIN:
                    self._flush_page(area)
                    pdf.add_page()
                    top = APPENDIX_MARGIN
                top = self.line(APPENDIX_MARGIN + indent, top, line, size, 0, 0) + 0.6
            top += gap
        self._flush_page(area)

    def _flush_page(self, area: tuple[float, float, float, float]) -> None:
        """File the boxes drawn on the current appendix page."""
        if self.boxes is not None:
            self.boxes += [Box(self.pdf.page, a, b, c, d, t, area) for a, b, c, d, t in self.drawn]
        self.drawn = []


def _tokens(text: str) -> list[str]:
    """Units a line is not broken inside: a run of ASCII letters, digits and signs
    (a phone number, a code, "2D"), or one other character. Spaces and closing
    punctuation stick to the unit before them, as Chinese typesetting requires."""
    out: list[str] = []
    for m in TOKEN_RE.finditer(text):
        tok = m.group()
        if out and (tok.isspace() or tok[0] in NO_LINE_START):
            out[-1] += tok
        else:
            out.append(tok)
    return out


def wrap_cjk(pdf: Any, text: str, width: float) -> list[str]:
    """Break Chinese text into lines of at most ``width`` mm in the current font.

    Between characters (Chinese has no spaces to break at), never inside a run
    of ASCII (codes, numbers); closing punctuation is kept on the line before,
    and no line (trailing spaces aside) is wider than ``width``: a unit wider
    than a whole line is broken by character.
    """
    lines: list[str] = []
    line = ""
    for tok in _tokens(text):
        if line and pdf.get_string_width((line + tok).rstrip()) > width:
            lines.append(line)
            line = ""
        if line or pdf.get_string_width(tok.rstrip()) <= width:
            line += tok
            continue
        for ch in tok:  # a unit longer than a line
            if line and pdf.get_string_width((line + ch).rstrip()) > width:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    return lines


def clip_text(pdf: Any, text: str, width: float) -> str:
    """Shorten ``text`` with an ellipsis so it fits ``width`` mm in the current font."""
    if len(text) * pdf.font_size <= width:  # even all-CJK (1 em per character) fits: skip measuring
        return text
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"
