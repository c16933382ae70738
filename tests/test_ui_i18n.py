"""Translations: complete, built, in step with the engine's catalogue, and the font loads."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QFontDatabase

from kiosk.engine.verdict import MESSAGES, REASONS
from kiosk.engine.voids import VOID_MESSAGES
from kiosk.ui import i18n
from kiosk.ui.assets import font_path, translations_dir
from kiosk.ui.text import verdict_message, verdict_next_step

ROOT = Path(__file__).resolve().parents[1]


def _context(lang: str, name: str) -> dict[tuple[str, str], str]:
    root = ET.parse(translations_dir() / f"cinepass_{lang}.ts").getroot()
    out = {}
    for ctx in root.findall("context"):
        if ctx.findtext("name") == name:
            for m in ctx.findall("message"):
                out[(m.findtext("source") or "", m.findtext("comment") or "")] = (
                    m.findtext("translation") or ""
                )
    return out


def test_ts_and_qm_are_up_to_date_and_zh_complete() -> None:
    """gen_ts.py --check rebuilds from the sources in a temp dir and compares byte for byte."""
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_ts.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_verdict_context_is_generated_from_the_catalogue(lang: str) -> None:
    ctx = _context(lang, "Verdict")
    assert len(ctx) == 2 * len(REASONS)
    for reason in REASONS:
        en_msg, en_next = MESSAGES[reason]["en"]
        msg, nxt = MESSAGES[reason][lang]
        assert ctx[(en_msg, reason)] == msg
        assert ctx[(en_next, f"{reason}.next")] == nxt
    void = _context(lang, "Void")
    assert {c: t for (_s, c), t in void.items()} == {r: m[lang] for r, m in VOID_MESSAGES.items()}


def test_runtime_lookup_in_both_languages(qapp: object) -> None:
    try:
        assert i18n.set_language("zh_CN")
        for reason in REASONS:
            assert verdict_message(reason) == MESSAGES[reason]["zh_CN"][0]
            assert verdict_next_step(reason) == MESSAGES[reason]["zh_CN"][1]
        assert QCoreApplication.translate("ScanScreen", "Undo last") == "撤销上一张"
        assert i18n.set_language("en")
        assert verdict_message("already_redeemed") == "Already used"
        assert QCoreApplication.translate("ScanScreen", "Undo last") == "Undo last"
    finally:
        i18n.set_language("zh_CN")


def test_bundled_cjk_font_loads_and_has_chinese(qapp: object) -> None:
    assert font_path().is_file()
    assert (font_path().parent / "LICENSE-wqy-microhei.txt").is_file()
    fid = QFontDatabase.addApplicationFont(str(font_path()))
    assert fid >= 0
    families = QFontDatabase.applicationFontFamilies(fid)
    assert families
    assert QFontDatabase.WritingSystem.SimplifiedChinese in QFontDatabase.writingSystems(
        families[0]
    )
