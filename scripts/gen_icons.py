"""Draw the application icon (resources/icons/cinepass.png and .ico) with Qt.

Drawn, not downloaded: no licence question, and the same file on every
platform. A blue tile with a white movie ticket and a green tick, readable at
16 px in a task bar. Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/gen_icons.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"


def draw(size: int) -> QImage:
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#1565c0"))
    p.drawRoundedRect(QRectF(0, 0, s, s), s * 0.2, s * 0.2)
    ticket = QPainterPath()
    ticket.addRoundedRect(QRectF(s * 0.14, s * 0.28, s * 0.72, s * 0.44), s * 0.06, s * 0.06)
    for cx in (s * 0.14, s * 0.86):  # the notches of a ticket stub
        notch = QPainterPath()
        notch.addEllipse(QPointF(cx, s * 0.5), s * 0.07, s * 0.07)
        ticket = ticket.subtracted(notch)
    p.setBrush(QColor("#ffffff"))
    p.drawPath(ticket)
    pen = QPen(QColor("#1b7f3b"), s * 0.085, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.drawPolyline(
        [QPointF(s * 0.34, s * 0.5), QPointF(s * 0.46, s * 0.61), QPointF(s * 0.67, s * 0.39)]
    )
    p.end()
    return img


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    ok = draw(256).save(str(OUT / "cinepass.png")) and draw(64).save(str(OUT / "cinepass.ico"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
