"""Verdict sounds: one for admit, one for stop, one for already used.

QtMultimedia is imported only here and only when sound is on; a PC without
an audio device (or without libpulse) simply stays silent: the verdict on
screen is what counts, the sound is a second cue for a busy counter.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QUrl

from .assets import SOUNDS, sound_path

log = logging.getLogger(__name__)


class Sounds(QObject):
    def __init__(self, enabled: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = enabled
        self._effects: dict[str, Any] = {}
        self.last_played = ""

    def _load(self) -> None:
        if self._effects:
            return
        try:
            from PySide6.QtMultimedia import QSoundEffect
        except ImportError as exc:
            log.warning("no sound: %s", exc)
            self.enabled = False
            return
        for name in SOUNDS:
            effect = QSoundEffect(self)
            effect.setSource(QUrl.fromLocalFile(str(sound_path(name))))
            effect.setVolume(0.8)
            self._effects[name] = effect

    def play(self, tone: str) -> None:
        """``tone`` is the verdict's: ok -> accepted, warn -> already_used, bad -> rejected."""
        if not self.enabled:
            return
        self._load()
        name = {"ok": "accepted", "warn": "already_used"}.get(tone, "rejected")
        effect = self._effects.get(name)
        if effect is not None:
            effect.play()
            self.last_played = name
