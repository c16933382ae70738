"""Every word the console shows, Chinese first and English, in one table.

The words are data: ``labels/*.toml``, one file per page family (``core.toml``
for the pages of the first version), loaded once at import. Templates call
``t("key")``; a key missing here raises at render time (tests
render every page in both languages), so no label is ever shown in one
language only. The language is the ``cp_lang`` cookie (``zh`` by default, set
by the 中文/English switch on every page).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

LABELS: dict[str, tuple[str, str]] = {}
LABELS_DIR = Path(__file__).resolve().parent / "labels"


def extend(more: dict[str, tuple[str, str]]) -> None:
    """Add one page family's labels; a key defined twice is a bug."""
    clash = LABELS.keys() & more.keys()
    if clash:
        raise KeyError(f"console labels defined twice: {sorted(clash)}")
    LABELS.update(more)


def load(path: Path) -> dict[str, tuple[str, str]]:
    """One labels file: ``key = ["中文", "English"]``, both non-empty (checked here, at import,
    so a half-translated label never reaches a page)."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    out: dict[str, tuple[str, str]] = {}
    for key, value in data.items():
        ok = isinstance(value, list) and len(value) == 2
        if not ok or not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError(f'{path.name}: {key} must be ["中文", "English"], both non-empty')
        out[key] = (value[0], value[1])
    return out


# Each page family keeps its words in its own file of labels/ (translators edit data, not code).
for _file in sorted(LABELS_DIR.glob("*.toml")):
    extend(load(_file))


def translator_or(lang: str) -> Callable[[str, str], str]:
    """``t_or(key, fallback)``: for codes that may have no label yet (audit actions of
    other modules), shown as the code itself rather than failing the page."""
    index = 1 if lang == "en" else 0

    def t_or(key: str, fallback: str) -> str:
        return LABELS[key][index] if key in LABELS else fallback

    return t_or


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` for one language; an unknown key is a bug and raises ``KeyError``."""
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        return LABELS[key][index]

    return t
