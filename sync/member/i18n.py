"""Every word the member page shows, Chinese first and English, in one table.

The words are data: ``labels/*.toml`` of this package, loaded and checked
once at import by :func:`sync.webcommon.load_folder`, as the console's are.
Templates call ``t("key")``; a key missing here raises at render time (the
tests render every page in both languages), so no label is shown in one
language only. The language is the ``cp_m_lang`` cookie (``zh`` by default,
set by the 中文/English switch on every page). The member page keeps its own
folder instead of the console's: members and office staff read different words.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sync import webcommon
from sync.webcommon import DEFAULT_LANG, LANGS, Labels

__all__ = ["DEFAULT_LANG", "LABELS", "LABELS_DIR", "LANGS", "translator"]

LABELS_DIR = Path(__file__).resolve().parent / "labels"
LABELS: Labels = webcommon.load_folder(LABELS_DIR, "member page")


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` for one language; an unknown key is a bug and raises ``KeyError``."""
    return webcommon.translator(LABELS, lang)
