"""The live camera preview with a guide frame, and the camera-lost banner.

Frames arrive as QImages already converted on the camera thread; painting
only scales one image, so the preview stays smooth while decoding runs
elsewhere. The guide frame shows the clerk where to hold the code; when the
camera is missing the same area says so in words (the other inputs still work).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class PreviewWidget(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preview")
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self.state = "starting"  # ok | lost | reconnecting | missing | starting | off
        self.painted = 0  # frames painted (the bench reads it)
        self.last_paint = 0.0
        self._flash: QColor | None = None

    def set_frame(self, image: QImage) -> None:
        self._image = image
        self.update()

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if state != "ok":
                self._image = None
            self.update()

    def flash(self, color: str | None) -> None:
        """Tint the guide frame with the verdict's colour (a second cue at the camera)."""
        self._flash = None if color is None else QColor(color)
        self.update()

    def banner_text(self) -> str:
        if self.state in ("lost", "missing", "ended"):
            return self.tr("Camera not available: use the scanner or type the code")
        if self.state == "reconnecting":
            return self.tr("Camera lost: reconnecting...")
        if self.state == "starting":
            return self.tr("Starting camera...")
        if self.state == "off":
            return self.tr("No camera configured: use the scanner or type the code")
        return ""

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#101418"))
        w, h = self.width(), self.height()
        if self._image is not None and not self._image.isNull():
            img = self._image
            scale = min(w / img.width(), h / img.height())
            tw, th = img.width() * scale, img.height() * scale
            target = QRectF((w - tw) / 2, (h - th) / 2, tw, th)
            p.drawImage(target, img)
        # guide frame: corner brackets around the centre square
        side = min(w, h) * 0.62
        x0, y0 = (w - side) / 2, (h - side) / 2
        corner = side * 0.18
        color = self._flash or QColor(255, 255, 255, 210)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(color, max(3.0, side * 0.02), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        for cx, cy, dx, dy in (
            (x0, y0, 1, 1),
            (x0 + side, y0, -1, 1),
            (x0, y0 + side, 1, -1),
            (x0 + side, y0 + side, -1, -1),
        ):
            p.drawLine(int(cx), int(cy), int(cx + dx * corner), int(cy))
            p.drawLine(int(cx), int(cy), int(cx), int(cy + dy * corner))
        text = self.banner_text()
        if text:
            band = QRectF(0, h * 0.4, w, h * 0.2)
            p.fillRect(
                band,
                QColor(198, 40, 40, 230) if self.state != "starting" else QColor(38, 50, 56, 230),
            )
            f = QFont(self.font())
            f.setPixelSize(max(14, int(min(h * 0.06, w * 0.035))))
            f.setBold(True)
            p.setFont(f)
            p.setPen(QColor("#ffffff"))
            p.drawText(band, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
        p.end()
        self.painted += 1
        self.last_paint = time.perf_counter()
