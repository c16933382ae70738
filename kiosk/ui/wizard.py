"""First run: set this counter up instead of failing with a traceback.

Two ways in, as on the command line: enrol with the central server (its URL
and the one-time code the union office gives) or set up a standalone counter
(cinema code + the issuer's public key file). The window runs the chosen
set-up on a worker thread (enrolment talks to the network) and shows any
error here in one sentence.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from .widgets import label, line_edit


class SetupWizard(QWidget):
    enrol_requested = Signal(str, str, str)  # server URL, code, counter name
    standalone_requested = Signal(str, str, str)  # cinema, issuer key file, counter name

    def __init__(self, home: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("setupWizard")
        title = QLabel(self.tr("Set up this counter"), self)
        f = QFont(title.font())
        f.setPixelSize(30)
        f.setBold(True)
        title.setFont(f)
        intro = QLabel(
            self.tr(
                "This computer is not set up as a CinePass counter yet. Enter the enrolment "
                "code from the union office, or set it up as a standalone counter."
            ),
            self,
        )
        intro.setWordWrap(True)
        where = label(self, "wizardHome", self.tr("Data folder: {0}").format(home))

        self.mode_enrol = QRadioButton(self.tr("Connect to the central server (recommended)"), self)
        self.mode_enrol.setObjectName("modeEnrol")
        self.mode_alone = QRadioButton(self.tr("Standalone counter (no server)"), self)
        self.mode_alone.setObjectName("modeStandalone")
        group = QButtonGroup(self)
        group.addButton(self.mode_enrol)
        group.addButton(self.mode_alone)
        self.mode_enrol.setChecked(True)

        self.enrol_box = QGroupBox(self.tr("Central server"), self)
        self.server = line_edit(self.enrol_box, "serverUrl", "https://cinepass.example.org")
        self.code = line_edit(
            self.enrol_box, "enrolCode", self.tr("One-time code from the union office")
        )
        ef = QFormLayout(self.enrol_box)
        ef.addRow(self.tr("Server address:"), self.server)
        ef.addRow(self.tr("Enrolment code:"), self.code)

        self.alone_box = QGroupBox(self.tr("Standalone counter"), self)
        self.cinema = line_edit(self.alone_box, "cinemaCode", self.tr("e.g. SH-001"))
        self.key_file = line_edit(
            self.alone_box, "issuerKeyFile", self.tr("Path of the issuer's public key (.pem)")
        )
        af = QFormLayout(self.alone_box)
        af.addRow(self.tr("Cinema code:"), self.cinema)
        af.addRow(self.tr("Issuer key file:"), self.key_file)

        self.counter = line_edit(self, "counterName", self.tr("e.g. Window 1"))
        cf = QFormLayout()
        cf.addRow(self.tr("Name of this counter:"), self.counter)

        self.go = QPushButton(self.tr("Set up"), self)
        self.go.setObjectName("setupGo")
        self.go.setMinimumHeight(52)
        self.go.clicked.connect(self._go)
        self.message = label(self, "setupMessage", wrap=True)
        self.mode_enrol.toggled.connect(self._mode)

        col = QVBoxLayout()
        col.addStretch(1)
        col.addWidget(title)
        col.addWidget(intro)
        col.addWidget(where)
        col.addSpacing(10)
        col.addWidget(self.mode_enrol)
        col.addWidget(self.enrol_box)
        col.addWidget(self.mode_alone)
        col.addWidget(self.alone_box)
        col.addLayout(cf)
        col.addWidget(self.go)
        col.addWidget(self.message)
        col.addStretch(1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(col, 3)
        outer.addStretch(1)
        for w in (self.server, self.code, self.cinema, self.key_file, self.counter):
            w.setMinimumHeight(40)
        self._mode(True)

    def _mode(self, enrol: bool) -> None:
        self.enrol_box.setEnabled(enrol)
        self.alone_box.setEnabled(not enrol)

    def _go(self) -> None:
        counter = self.counter.text().strip()
        if self.mode_enrol.isChecked():
            url, code = self.server.text().strip(), self.code.text().strip()
            if not url or not code:
                self.show_error(self.tr("Enter the server address and the enrolment code."))
                return
            self.enrol_requested.emit(url, code, counter)
        else:
            cinema, key = self.cinema.text().strip(), self.key_file.text().strip()
            if not cinema or not key:
                self.show_error(self.tr("Enter the cinema code and the issuer key file."))
                return
            self.standalone_requested.emit(cinema, key, counter)

    def set_busy(self, busy: bool) -> None:
        self.go.setEnabled(not busy)
        if busy:
            self.message.setStyleSheet("")
            self.message.setText(self.tr("Setting up..."))

    def explain(self, reason: str, message: str) -> str:
        """A set-up failure in the clerk's language; the technical line stays for IT."""
        words = {
            "bad_code": self.tr("The enrolment code is wrong: check it or ask for a new one."),
            "code_used": self.tr("This enrolment code was already used: ask for a new one."),
            "code_expired": self.tr("This enrolment code has expired: ask for a new one."),
            "rate_limited": self.tr("Too many wrong codes: wait 15 minutes, then retry."),
            "unreachable": self.tr("The server cannot be reached: check the network."),
            "timeout": self.tr("The server did not answer in time: try again."),
            "bad_url": self.tr("The server address is not valid (https://...)."),
            "http_refused": self.tr("Plain http:// is refused for this server: use https://."),
            "tls_expired": self.tr("The server's certificate has expired: call IT."),
            "tls_wrong_host": self.tr("The server's certificate is for another name: call IT."),
            "tls_untrusted": self.tr("The server's certificate is not trusted: call IT."),
            "key_unreadable": self.tr("The issuer key file cannot be read: check the path."),
            "bad_key": self.tr("That file is not the issuer's public key (.pem)."),
            "bad_cinema": self.tr("The cinema code is not valid."),
            "already_set_up": self.tr("This data folder is already set up."),
        }
        said = words.get(reason)
        return message if said is None else f"{said}\n({message})"

    def show_error(self, text: str) -> None:
        self.set_busy(False)
        self.message.setStyleSheet("color: #c62828; font-weight: bold;")
        self.message.setText(text)
        self.message.setAlignment(Qt.AlignmentFlag.AlignLeft)
