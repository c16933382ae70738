"""Language and font: the window speaks Chinese by default and always renders it.

The translations are compiled Qt ``.qm`` files built from
``resources/translations/*.ts`` (``scripts/gen_ts.py`` then
``pyside6-lrelease``); the CJK font is bundled and registered with Qt at
start, so a counter PC without Chinese fonts still shows every character.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QTranslator
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication

from .assets import FONT_FAMILY, font_path, translations_dir

log = logging.getLogger(__name__)
LANGUAGES = ("zh_CN", "en")
_installed: list[QTranslator] = []


def load_font(app: QApplication, point_size: int = 12) -> str:
    """Register the bundled CJK font and make it the application font; returns its family."""
    family = FONT_FAMILY
    fid = QFontDatabase.addApplicationFont(str(font_path()))
    if fid < 0:
        log.warning("bundled font %s could not be loaded", font_path())
    else:
        families = QFontDatabase.applicationFontFamilies(fid)
        if families:
            family = families[0]
    font = QFont(family, point_size)
    app.setFont(font)
    return family


def qm_path(lang: str) -> str:
    return str(translations_dir() / f"cinepass_{lang}.qm")


def set_language(lang: str) -> bool:
    """Install the translator for ``lang`` (replacing any); False if its .qm is missing."""
    app = QCoreApplication.instance()
    if app is None:
        return False
    for t in _installed:
        app.removeTranslator(t)
    _installed.clear()
    if lang not in LANGUAGES:
        lang = "zh_CN"
    t = QTranslator(app)
    if not t.load(qm_path(lang)):
        log.warning("translation %s missing", qm_path(lang))
        return False
    app.installTranslator(t)
    _installed.append(t)
    return True
