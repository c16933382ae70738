"""Every word the console shows, Chinese first and English, in one table.

The words are data: ``labels/*.toml``, one file per page family (``core.toml``
for the pages of the first version), loaded and checked once at import by
:func:`sync.webcommon.load_folder` (the member page loads its own folder the
same way). Templates call ``t("key")``; a key missing here raises at render
time (tests render every page in both languages), so no label is ever shown
in one language only. The language is the ``cp_lang`` cookie (``zh`` by
default, set by the 中文/English switch on every page).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sync import webcommon
from sync.webcommon import DEFAULT_LANG, LANGS, Labels, load

__all__ = [
    "DEFAULT_LANG",
    "LABELS",
    "LABELS_DIR",
    "LANGS",
    "extend",
    "load",
    "translator",
    "translator_or",
]

LABELS_DIR = Path(__file__).resolve().parent / "labels"
# Each page family keeps its words in its own file of labels/ (translators edit data, not code).
LABELS: Labels = webcommon.load_folder(LABELS_DIR, "console")


def extend(more: Labels) -> None:
    """Add one page family's labels; a key defined twice is a bug."""
    webcommon.extend(LABELS, more, "console")


def translator_or(lang: str) -> Callable[[str, str], str]:
    """``t_or(key, fallback)``: for codes that may have no label yet (audit actions of
    other modules), shown as the code itself rather than failing the page."""
    return webcommon.translator_or(LABELS, lang)


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` for one language; an unknown key is a bug and raises ``KeyError``."""
    return webcommon.translator(LABELS, lang)
