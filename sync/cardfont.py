"""The batch's own small copy of the CJK font: what a PDF part loads in 0.02 s, not 0.3 s.

fpdf2 parses the whole font (wqy-microhei: ~30,000 glyphs) for every
document and subsets it again when the document is written: ~0.5 s of CPU a
PDF part, 25 s for the 50 parts of 100,000 cards. A batch uses a few hundred
to a few thousand characters, all known before the first card: the card
texts (every character of the modules that write them), printable ASCII, and
the batch's own words (issuer, cinemas, hotline, campaign, members' names).
:func:`batch_font` makes, once a batch, a font of just those glyphs (same
outlines, same widths, so the cards are the same to the pixel), and every
part loads that. A character it lacks after all is seen by fpdf2
(``missing_glyphs``) and the part is drawn again with the full font
(:func:`sync.batchparts.make_part`), so the small font can only be faster,
never wrong.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

from sync.cardrights import CardRights
from sync.fsutil import atomic_write


def card_characters() -> set[str]:
    """Every character the card modules can print by themselves (their whole text)."""
    from sync import cardlayout, cardrights, cards

    chars = {chr(c) for c in range(0x20, 0x7F)} | set("…·•*")
    for module in (cards, cardlayout, cardrights):
        chars |= set(Path(module.__file__ or "").read_text(encoding="utf-8"))
    return chars


def batch_characters(texts: Iterable[str | None], rights: CardRights | None) -> set[str]:
    """:func:`card_characters` plus the batch's own texts (names are normalised as masked)."""
    words = [t or "" for t in texts]
    r = rights or CardRights()
    words += [r.hotline or "", r.after_sales or ""] + [" ".join(c) for c in r.cinemas]
    return card_characters() | set(unicodedata.normalize("NFKC", "".join(words)))


def batch_font(chars: set[str], out: Path) -> Path:
    """Write to ``out`` the CJK font cut down to ``chars`` (kept if already there)."""
    if out.is_file():
        return out  # same batch, same characters: the plan's fingerprint holds both
    import io

    from fontTools import subset, ttLib

    from sync.cards import find_font

    font = ttLib.TTFont(find_font(), fontNumber=0, recalcTimestamp=False, lazy=True)
    options = subset.Options(notdef_outline=True, recommended_glyphs=True)
    options.name_IDs = ["*"]  # the same names: fpdf2 names the embedded font after them
    options.layout_features = []  # fpdf2 shapes no text: cmap and widths are all it reads
    options.drop_tables += ["FFTM"]  # a FontForge timestamp fontTools cannot cut
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(c) for c in chars if not c.isspace() or c == " "})
    subsetter.subset(font)
    data = io.BytesIO()
    font.save(data)
    atomic_write(out, data.getvalue(), mode=0o644)
    return out
