"""The gate in front of the manager view: asks for the PIN, or has one chosen.

Widgets only: what a PIN is and when the gate locks is decided Qt-free in
:mod:`kiosk.pin` (:func:`~kiosk.pin.choose_pin`, :class:`~kiosk.pin.PinGuard`);
the window paints the answer here with :meth:`PinGate.prepare`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget


class PinGate(QWidget):
    """Asks for the manager PIN (or, the first time, has one chosen)."""

    submitted = Signal(str, str)  # pin, confirmation ("" when just entering)
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pinGate")
        self.creating = False
        self.heading = QLabel(self)
        self.heading.setObjectName("pinHeading")
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pin = QLineEdit(self)
        self.pin.setObjectName("pinField")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setMaxLength(12)
        self.pin.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confirm = QLineEdit(self)
        self.confirm.setObjectName("pinConfirm")
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm.setMaxLength(12)
        self.confirm.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confirm.setPlaceholderText(self.tr("Repeat the new PIN"))
        self.message = QLabel(self)
        self.message.setObjectName("pinMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ok = QPushButton(self.tr("Open manager view"), self)
        self.ok.setObjectName("pinOk")
        self.back = QPushButton(self.tr("Back to scanning"), self)
        self.back.setObjectName("pinBack")
        self.ok.clicked.connect(self._submit)
        self.pin.returnPressed.connect(self._submit)
        self.confirm.returnPressed.connect(self._submit)
        self.back.clicked.connect(self.cancelled)
        box = QVBoxLayout()
        box.addWidget(self.heading)
        box.addWidget(self.pin)
        box.addWidget(self.confirm)
        box.addWidget(self.message)
        row = QHBoxLayout()
        row.addWidget(self.back)
        row.addWidget(self.ok)
        box.addLayout(row)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        inner = QVBoxLayout()
        inner.addStretch(1)
        inner.addLayout(box)
        inner.addStretch(2)
        outer.addLayout(inner, 2)
        outer.addStretch(1)
        for w in (self.pin, self.confirm, self.ok, self.back):
            w.setMinimumHeight(52)
        f = QFont(self.heading.font())
        f.setPixelSize(28)
        f.setBold(True)
        self.heading.setFont(f)

    def prepare(self, *, creating: bool, message: str = "") -> None:
        self.creating = creating
        self.pin.clear()
        self.confirm.clear()
        self.confirm.setVisible(creating)
        if creating:
            self.heading.setText(self.tr("Choose a manager PIN (4 to 12 digits)"))
            self.pin.setPlaceholderText(self.tr("New PIN"))
        else:
            self.heading.setText(self.tr("Manager PIN"))
            self.pin.setPlaceholderText(self.tr("PIN"))
        self.message.setText(message)
        self.pin.setFocus()

    def _submit(self) -> None:
        self.submitted.emit(self.pin.text(), self.confirm.text() if self.creating else "")
