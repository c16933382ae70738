"""The scan screen: preview, the three inputs, the 2D/3D selector and the verdict.

Widgets only. It emits what the clerk asked for (``code_entered``,
``undo_confirmed``, ``manager_requested``...) and the main window routes it
to the engine; the verdict comes back through :meth:`ScanScreen.show_verdict`.
Nothing here ever opens a modal dialog: the undo confirmation is an inline
bar, so a queue never waits behind a popup.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .preview import PreviewWidget
from .verdict_view import VerdictPanel

FORMATS = ("2D", "3D")


class ScanScreen(QWidget):
    code_entered = Signal(str)
    format_changed = Signal(str)
    staff_changed = Signal(str)
    undo_confirmed = Signal()
    manager_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scanScreen")
        self.fmt = "2D"

        # --- top bar: who and where, the sticky format, the manager door
        self.place = QLabel(self)
        self.place.setObjectName("place")
        self.staff = QComboBox(self)
        self.staff.setObjectName("staffBox")
        self.staff.setEditable(False)
        self.staff.setMinimumWidth(140)
        self.staff.currentTextChanged.connect(self._on_staff)
        self.format_group = QButtonGroup(self)
        self.format_group.setExclusive(True)
        self.format_buttons: dict[str, QPushButton] = {}
        fmt_box = QHBoxLayout()
        fmt_box.setSpacing(0)
        fmt_label = QLabel(self.tr("Next admission:"), self)
        fmt_label.setObjectName("fmtLabel")
        fmt_box.addWidget(fmt_label)
        fmt_box.addSpacing(8)
        for fmt, key in zip(FORMATS, ("F2", "F3"), strict=True):
            b = QPushButton(f"{fmt}  ({key})", self)
            b.setObjectName(f"fmt{fmt}")
            b.setCheckable(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setMinimumHeight(48)
            b.clicked.connect(lambda _=False, f=fmt: self.set_format(f, emit=True))
            self.format_group.addButton(b)
            self.format_buttons[fmt] = b
            fmt_box.addWidget(b)
        self.manager_button = QPushButton(self.tr("Manager"), self)
        self.manager_button.setObjectName("managerButton")
        self.manager_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.manager_button.clicked.connect(self.manager_requested)
        top = QHBoxLayout()
        top.addWidget(self.place, 1)
        top.addWidget(QLabel(self.tr("Staff:"), self))
        top.addWidget(self.staff)
        top.addSpacing(18)
        top.addLayout(fmt_box)
        top.addSpacing(18)
        top.addWidget(self.manager_button)

        # --- left column: camera and the typed code
        self.preview = PreviewWidget(self)
        self.code = QLineEdit(self)
        self.code.setObjectName("codeField")
        self.code.setPlaceholderText(self.tr("Type the short code, e.g. ABCD-EFGH-JKMN-PQRS"))
        self.code.setMaxLength(2048)  # a pasted QR text fits too
        self.code.setMinimumHeight(48)
        self.code.returnPressed.connect(self._on_code)
        self.code_button = QPushButton(self.tr("Check code"), self)
        self.code_button.setObjectName("codeButton")
        self.code_button.setMinimumHeight(48)
        self.code_button.clicked.connect(self._on_code)
        code_row = QHBoxLayout()
        code_row.addWidget(self.code, 1)
        code_row.addWidget(self.code_button)

        self.undo_button = QPushButton(self.tr("Undo last"), self)
        self.undo_button.setObjectName("undoButton")
        self.undo_button.setMinimumHeight(44)
        self.undo_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.undo_button.clicked.connect(self.ask_undo)
        self.undo_bar = QFrame(self)
        self.undo_bar.setObjectName("undoBar")
        self.undo_question = QLabel(self.undo_bar)
        self.undo_question.setWordWrap(True)
        self.undo_yes = QPushButton(self.tr("Yes, void it"), self.undo_bar)
        self.undo_yes.setObjectName("undoYes")
        self.undo_no = QPushButton(self.tr("Cancel"), self.undo_bar)
        self.undo_no.setObjectName("undoNo")
        self.undo_yes.clicked.connect(self._on_undo_yes)
        self.undo_no.clicked.connect(self.hide_undo)
        ub = QHBoxLayout(self.undo_bar)
        ub.addWidget(self.undo_question, 1)
        ub.addWidget(self.undo_yes)
        ub.addWidget(self.undo_no)
        self.undo_bar.hide()
        self.notice = QLabel(self)
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)

        left = QVBoxLayout()
        left.addWidget(self.preview, 1)
        left.addLayout(code_row)
        left.addWidget(self.undo_button)
        left.addWidget(self.undo_bar)
        left.addWidget(self.notice)

        # --- right: the verdict, as large as the screen allows
        self.verdict = VerdictPanel(self)
        self.verdict.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        body = QHBoxLayout()
        body.addLayout(left, 38)
        body.addSpacing(14)
        body.addWidget(self.verdict, 62)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 10)
        lay.addLayout(top)
        lay.addLayout(body, 1)
        self.set_format("2D")

    # --- inputs ---------------------------------------------------------------

    def _on_code(self) -> None:
        text = self.code.text().strip()
        if text:
            self.code.clear()
            self.code_entered.emit(text)

    def set_format(self, fmt: str, *, emit: bool = False) -> None:
        if fmt not in FORMATS:
            return
        self.fmt = fmt
        self.format_buttons[fmt].setChecked(True)
        if emit:
            self.format_changed.emit(fmt)

    def set_staff_names(self, names: list[str], current: str) -> None:
        self.staff.blockSignals(True)
        self.staff.clear()
        shown = [n for n in names if n]
        if current and current not in shown:
            shown.insert(0, current)
        self.staff.addItem(self.tr("(nobody signed in)"), "")
        for n in shown:
            self.staff.addItem(n, n)
        idx = self.staff.findData(current)
        self.staff.setCurrentIndex(max(0, idx))
        self.staff.blockSignals(False)

    def current_staff(self) -> str:
        data = self.staff.currentData()
        return data if isinstance(data, str) else ""

    def _on_staff(self, _text: str) -> None:
        self.staff_changed.emit(self.current_staff())

    # --- undo -------------------------------------------------------------------

    def ask_undo(self) -> None:
        self.undo_question.setText(
            self.tr("Void the last admission? The guest must not go in on it.")
        )
        self.undo_bar.show()
        self.undo_button.hide()

    def hide_undo(self) -> None:
        self.undo_bar.hide()
        self.undo_button.show()

    def _on_undo_yes(self) -> None:
        self.hide_undo()
        self.undo_confirmed.emit()

    def set_notice(self, text: str) -> None:
        self.notice.setText(text)

    def show_void_result(self, text: str, ok: bool) -> None:
        """The undo bar's answer: green when the redemption was voided, red when not."""
        self.set_notice(text)
        self.notice.setStyleSheet(
            "color: #1b7f3b; font-weight: bold;" if ok else "color: #c62828; font-weight: bold;"
        )
        if ok:
            self.verdict.show_idle()
