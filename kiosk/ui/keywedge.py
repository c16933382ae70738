"""USB barcode scanners that type: catch their keystroke bursts wherever focus is.

A "keyboard wedge" scanner types the QR text as keystrokes, a character every
1-10 ms, usually ending with Enter. A person types a character every 80-300 ms.
This application-level event filter holds each key press back for a few tens
of milliseconds: if the next key comes that fast it is a burst; a burst ending
in Enter (or falling idle, for scanners set up to send no Enter) of at least
``min_length`` characters is a scan and goes to the verdict path; anything
else is replayed, unchanged, to the widget that had focus, so typing in the
short-code field or a settings box works as always. The clerk never has to
click a field first, and a scan typed into the wrong box never lands in it.

The timing decisions live in :class:`BurstDetector` (no Qt), so they can be
tested with exact timestamps; :class:`KeyWedgeFilter` is the thin Qt shell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

E = TypeVar("E")

MAX_GAP_S = 0.035  # longest pause inside a scanner burst (scanners: 1-10 ms; people: 80+ ms)
IDLE_END_S = 0.10  # a burst that stops this long without Enter is complete
MIN_LENGTH = 8  # shortest scan: a short code without dashes has 16 characters


@dataclass
class BurstDetector(Generic[E]):
    """Classifies key presses into scanner bursts and human keys, by timing alone.

    ``press`` returns what to do *now*: ``("scan", text)`` or ``("replay",
    events)``; an empty list means "held, wait". ``deadline`` is when
    :meth:`expire` must be called if no key comes first.
    """

    max_gap: float = MAX_GAP_S
    idle_end: float = IDLE_END_S
    min_length: int = MIN_LENGTH
    _held: list[tuple[E, str]] = field(default_factory=list)
    _last: float = 0.0

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def deadline(self) -> float:
        """When the held keys must be resolved if nothing else arrives."""
        if len(self._held) >= self.min_length:
            return self._last + self.idle_end
        return self._last + self.max_gap

    def press(self, event: E, text: str, enter: bool, now: float) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        if self._held and now - self._last > self.max_gap:
            # the held keys ended before this one: resolve them as their timer would have
            out += self._resolve()
        if enter:
            if len(self._held) >= self.min_length:
                scan = "".join(t for _, t in self._held)
                self._held.clear()
                return [*out, ("scan", scan)]
            held = [e for e, _ in self._held]
            self._held.clear()
            return [*out, ("replay", [*held, event])]
        if not text or not text.isprintable():
            return [*out, *self._flush(), ("replay", [event])]
        self._held.append((event, text))
        self._last = now
        return out

    def expire(self, now: float) -> list[tuple[str, object]]:
        """Resolve held keys once their deadline passed (idle end or human pace)."""
        if not self._held or now < self.deadline():
            return []
        return self._resolve()

    def _resolve(self) -> list[tuple[str, object]]:
        if len(self._held) >= self.min_length:
            scan = "".join(t for _, t in self._held)
            self._held.clear()
            return [("scan", scan)]
        return self._flush()

    def _flush(self) -> list[tuple[str, object]]:
        if not self._held:
            return []
        held = [e for e, _ in self._held]
        self._held.clear()
        return [("replay", held)]


class KeyWedgeFilter(QObject):
    """Installed on the QApplication: emits ``scanned(text)`` for scanner bursts.

    ``hotkey`` is called for keys that are shortcuts when nobody is typing
    (F2/F3 always; 2/3 when focus is not in a text field); it returns True if
    it used the key.
    """

    scanned = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        hotkey: Callable[[QKeyEvent, bool], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self._det: BurstDetector[tuple[QObject, QKeyEvent]] = BurstDetector()
        self._hotkey = hotkey
        self._clock = clock
        self._replaying = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if self._replaying or event.type() != QEvent.Type.KeyPress:
            return False
        if not isinstance(watched, QWidget) or not isinstance(event, QKeyEvent):
            return False
        if event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            return False
        key = event.key()
        enter = key in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        text = event.text()
        if not enter and not self._det.holding and not (text and text.isprintable()):
            return self._use_hotkey(event)  # F2, arrows, Tab...: not ours to hold
        copy = QKeyEvent(
            QEvent.Type.KeyPress, key, event.modifiers(), text, event.isAutoRepeat(), event.count()
        )
        actions = self._det.press((watched, copy), text, enter, self._clock())
        self._run(actions)
        if self._det.holding:
            delay = max(0.0, self._det.deadline() - self._clock())
            self._timer.start(int(delay * 1000) + 1)
        return True

    def _use_hotkey(self, event: QKeyEvent) -> bool:
        if self._hotkey is None:
            return False
        return self._hotkey(event, self._typing())

    @staticmethod
    def _typing() -> bool:
        from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QPlainTextEdit, QTextEdit

        w = QApplication.focusWidget()
        return isinstance(w, QLineEdit | QTextEdit | QPlainTextEdit | QAbstractSpinBox)

    def _on_timeout(self) -> None:
        self._run(self._det.expire(self._clock()))
        if self._det.holding:
            delay = max(0.0, self._det.deadline() - self._clock())
            self._timer.start(int(delay * 1000) + 1)

    def _run(self, actions: list[tuple[str, object]]) -> None:
        for kind, payload in actions:
            if kind == "scan":
                self.scanned.emit(str(payload))
            else:
                assert isinstance(payload, list)
                for watched, ev in payload:
                    self._replay(watched, ev)

    def _replay(self, watched: QObject, ev: QKeyEvent) -> None:
        """Deliver a held key as if it had never been held (human typing)."""
        if self._hotkey is not None and self._hotkey(ev, self._typing()):
            return
        target: QObject = QApplication.focusWidget() or watched
        self._replaying = True
        try:
            QCoreApplication.sendEvent(target, ev)
            release = QKeyEvent(QEvent.Type.KeyRelease, ev.key(), ev.modifiers(), ev.text())
            QCoreApplication.sendEvent(target, release)
        finally:
            self._replaying = False
