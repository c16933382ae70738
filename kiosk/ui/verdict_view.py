"""The verdict panel: the answer, big enough to read from a metre away.

Green with a tick for admit, amber with a warning sign for "already used",
red with a cross for everything else; each also carries a word ("ADMIT" /
"USED" / "STOP" in the clerk's language) so colour is never the only signal.
Type sizes follow the panel's height, so the same layout reads well at
1024x768 and 1920x1080.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen, QPolygonF, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from .text import VerdictText
from .widgets import label

TONES: dict[str, tuple[str, str]] = {  # tone -> (background, text colour)
    "ok": ("#1b7f3b", "#ffffff"),
    "warn": ("#f2a007", "#1a1a1a"),
    "bad": ("#c62828", "#ffffff"),
    "idle": ("#263238", "#eceff1"),
}


class VerdictIcon(QWidget):
    """A painted tick / warning triangle / cross (no font glyphs: every PC has these)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tone = "idle"
        self.color = QColor("#ffffff")
        self.setMinimumSize(96, 96)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_tone(self, tone: str, color: str) -> None:
        self.tone, self.color = tone, QColor(color)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = min(self.width(), self.height())
        m = s * 0.06
        box = QRectF(m, m, s - 2 * m, s - 2 * m)
        pen = QPen(self.color, s * 0.09, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        if self.tone == "ok":
            p.drawEllipse(box)
            p.drawPolyline(
                QPolygonF(
                    [
                        QPointF(s * 0.28, s * 0.52),
                        QPointF(s * 0.44, s * 0.68),
                        QPointF(s * 0.73, s * 0.35),
                    ]
                )
            )
        elif self.tone == "warn":
            p.drawPolygon(
                QPolygonF([QPointF(s * 0.5, m), QPointF(s - m, s - m), QPointF(m, s - m)])
            )
            p.drawLine(QPointF(s * 0.5, s * 0.36), QPointF(s * 0.5, s * 0.64))
            p.drawPoint(QPointF(s * 0.5, s * 0.8))
        elif self.tone == "bad":
            p.drawEllipse(box)
            p.drawLine(QPointF(s * 0.33, s * 0.33), QPointF(s * 0.67, s * 0.67))
            p.drawLine(QPointF(s * 0.67, s * 0.33), QPointF(s * 0.33, s * 0.67))
        else:  # idle: a QR-ish frame with a scan line
            c = s * 0.22
            for x0, y0, dx, dy in (
                (m, m, 1, 1),
                (s - m, m, -1, 1),
                (m, s - m, 1, -1),
                (s - m, s - m, -1, -1),
            ):
                p.drawLine(QPointF(x0, y0), QPointF(x0 + dx * c, y0))
                p.drawLine(QPointF(x0, y0), QPointF(x0, y0 + dy * c))
            p.drawLine(QPointF(s * 0.2, s * 0.5), QPointF(s * 0.8, s * 0.5))
        p.end()


class VerdictPanel(QFrame):
    """Shows one :class:`VerdictText` (or the idle prompt) filling its area."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdictPanel")
        self.setAutoFillBackground(True)
        self.tone = "idle"
        self.icon = VerdictIcon(self)
        self.word = label(self, "verdictWord")
        self.title = label(self, "verdictTitle", wrap=True)
        self.details = label(self, "verdictDetails", wrap=True)
        self.next_step = label(self, "verdictNext", wrap=True)
        for lab in (self.word, self.title, self.details, self.next_step):
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        head = QHBoxLayout()
        head.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        head.addSpacing(16)
        words = QVBoxLayout()
        words.addWidget(self.word)
        words.addWidget(self.title)
        head.addLayout(words, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(36, 28, 36, 28)
        lay.addLayout(head)
        lay.addSpacing(12)
        lay.addWidget(self.details)
        lay.addStretch(1)
        lay.addWidget(self.next_step)
        self.show_idle()

    def show_idle(self) -> None:
        self._paint_tone("idle")
        self.word.setText(self.tr("READY"))
        self.title.setText(self.tr("Scan a voucher"))
        self.details.setText(
            self.tr("Hold the QR code up to the camera, use the scanner, or type the short code.")
        )
        self.next_step.setText(self.tr("F2 = 2D    F3 = 3D"))

    def show_verdict(self, text: VerdictText) -> None:
        self._paint_tone(text.tone)
        self.word.setText(text.word)
        self.title.setText(text.title)
        self.details.setText("\n".join(text.lines))
        self.next_step.setText(text.next_step)

    def _paint_tone(self, tone: str) -> None:
        self.tone = tone
        bg, fg = TONES[tone]
        self.setStyleSheet(
            f"#verdictPanel {{ background: {bg}; border-radius: 14px; }}"
            f"#verdictPanel QLabel {{ color: {fg}; background: transparent; }}"
        )
        self.icon.set_tone(tone, fg)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        h, w = self.height(), self.width()
        unit = max(10.0, min(h / 11.0, w / 9.0))
        self.icon.setFixedSize(int(unit * 1.9), int(unit * 1.9))
        for lab, scale, bold in (
            (self.word, 0.42, True),
            (self.title, 1.0, True),
            (self.details, 0.46, False),
            (self.next_step, 0.42, True),
        ):
            f = QFont(lab.font())
            f.setPixelSize(max(14, int(unit * scale)))
            f.setBold(bold)
            lab.setFont(f)
