"""Where the window's bundled files are: fonts, sounds, translations (no Qt here).

``resources/`` sits at the top of the source tree; a PyInstaller bundle puts
it under ``sys._MEIPASS``; ``CINEPASS_RESOURCES`` overrides both (packagers,
tests). One function finds it so the window, the PDF report and the build
never disagree about where a file is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

FONT_FILE = "wqy-microhei.ttc"
FONT_FAMILY = "WenQuanYi Micro Hei"
SOUNDS = ("accepted", "rejected", "already_used")


def resources_dir() -> Path:
    env = os.environ.get("CINEPASS_RESOURCES")
    if env:
        return Path(env)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def font_path() -> Path:
    return resources_dir() / "fonts" / FONT_FILE


def sound_path(name: str) -> Path:
    return resources_dir() / "sounds" / f"{name}.wav"


def icon_path() -> Path:
    return resources_dir() / "icons" / "cinepass.png"


def translations_dir() -> Path:
    return resources_dir() / "translations"
