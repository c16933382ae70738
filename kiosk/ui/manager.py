"""The manager's side: the day's tally, duplicates, exports and settings.

Widgets only: the window fetches tallies and writes files on the engine's
worker thread and hands the results here, through the ``show_*``/``set_*``
methods (the window never touches the widgets inside); the PIN gate in front
of this page is :mod:`kiosk.ui.pin_gate`. The manager view is a page of the
main window, not a dialog, so a scan at the counter always gets through (the
window switches back to the scan screen to show its verdict).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, QValueAxis
from PySide6.QtCore import QDate, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.config import KioskConfig

from .manager_held import HeldView
from .text import verdict_message, when_text


def _table(headers: list[str], parent: QWidget) -> QTableWidget:
    t = QTableWidget(0, len(headers), parent)
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    return t


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value))


class ManagerView(QWidget):
    """Tally, duplicates and settings; every action is a signal for the window."""

    back_requested = Signal()
    quit_requested = Signal()
    day_requested = Signal(object)  # datetime.date
    export_requested = Signal(str, object, object, str)  # kind csv|xlsx|pdf, start, end, folder
    settings_saved = Signal(dict)
    pin_change_requested = Signal(str, str)
    sync_now_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("managerView")
        self.tally: dict[str, Any] = {}
        title = QLabel(self.tr("Manager view"), self)
        title.setObjectName("managerTitle")
        f = QFont(title.font())
        f.setPixelSize(26)
        f.setBold(True)
        title.setFont(f)
        self.back = QPushButton(self.tr("Back to scanning"), self)
        self.back.setObjectName("managerBack")
        self.back.clicked.connect(self.back_requested)
        self.quit = QPushButton(self.tr("Close the program"), self)
        self.quit.setObjectName("managerQuit")
        self.quit.clicked.connect(self.quit_requested)
        head = QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(self.quit)
        head.addWidget(self.back)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_tally(), self.tr("Tally"))
        self.tabs.addTab(self._build_duplicates(), self.tr("Duplicates"))
        self.held = HeldView(self)
        self.tabs.addTab(self.held, self.tr("Held by the server"))
        self.tabs.addTab(self._build_settings(), self.tr("Settings"))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 10)
        lay.addLayout(head)
        lay.addWidget(self.tabs, 1)

    # --- tally tab -----------------------------------------------------------

    def _build_tally(self) -> QWidget:
        page = QWidget(self)
        self.day = QDateEdit(page)
        self.day.setObjectName("dayPicker")
        self.day.setCalendarPopup(True)
        self.day.setDisplayFormat("yyyy-MM-dd")
        self._today = QDate.currentDate()  # until set_today gives the cinema's business day
        self.day.setDate(self._today)
        self.day.dateChanged.connect(lambda d: self.day_requested.emit(d.toPython()))
        today = QPushButton(self.tr("Today"), page)
        today.clicked.connect(lambda: self.day.setDate(self._today))
        pick = QHBoxLayout()
        pick.addWidget(QLabel(self.tr("Day:"), page))
        pick.addWidget(self.day)
        pick.addWidget(today)
        pick.addStretch(1)

        self.cards: dict[str, QLabel] = {}
        grid = QGridLayout()
        names = [
            ("accepted", self.tr("Accepted")),
            ("2D", "2D"),
            ("3D", "3D"),
            ("rejected", self.tr("Rejected")),
            ("voided", self.tr("Voided")),
            ("pending", self.tr("Unsynced")),
            ("synced", self.tr("Synced")),
        ]
        for i, (key, label) in enumerate(names):
            box = QGroupBox(label, page)
            v = QLabel("0", box)
            v.setObjectName(f"card_{key}")
            v.setAlignment(Qt.AlignmentFlag.AlignCenter)
            fv = QFont(v.font())
            fv.setPixelSize(34)
            fv.setBold(True)
            v.setFont(fv)
            QVBoxLayout(box).addWidget(v)
            self.cards[key] = v
            grid.addWidget(box, 0, i)

        self.chart = QChart()
        self.chart.setTitle(self.tr("Admissions by hour"))
        self.chart.legend().hide()
        self.chart_view = QChartView(self.chart, page)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(200)

        self.staff_table = _table([self.tr("Staff"), self.tr("Counter"), self.tr("Accepted")], page)
        self.staff_table.setObjectName("staffTable")
        self.reject_table = _table([self.tr("Reason"), self.tr("Count")], page)
        self.reject_table.setObjectName("rejectTable")
        tables = QHBoxLayout()
        tables.addWidget(self.staff_table)
        tables.addWidget(self.reject_table)

        self.range_start = QDateEdit(page)
        self.range_end = QDateEdit(page)
        for d in (self.range_start, self.range_end):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
            d.setDate(QDate.currentDate())
        self.folder = QLineEdit(page)
        self.folder.setObjectName("exportFolder")
        self.export_csv = QPushButton(self.tr("Export CSV"), page)
        self.export_csv.setObjectName("exportCsv")
        self.export_xlsx = QPushButton(self.tr("Export XLSX"), page)
        self.export_xlsx.setObjectName("exportXlsx")
        self.export_pdf = QPushButton(self.tr("Print daily report (PDF)"), page)
        self.export_pdf.setObjectName("exportPdf")
        self.export_csv.clicked.connect(lambda: self._export("csv"))
        self.export_xlsx.clicked.connect(lambda: self._export("xlsx"))
        self.export_pdf.clicked.connect(lambda: self._export("pdf"))
        self.export_result = QLabel(page)
        self.export_result.setObjectName("exportResult")
        self.export_result.setWordWrap(True)
        ex = QHBoxLayout()
        ex.addWidget(QLabel(self.tr("From"), page))
        ex.addWidget(self.range_start)
        ex.addWidget(QLabel(self.tr("to"), page))
        ex.addWidget(self.range_end)
        ex.addWidget(QLabel(self.tr("Folder:"), page))
        ex.addWidget(self.folder, 1)
        ex.addWidget(self.export_csv)
        ex.addWidget(self.export_xlsx)
        ex.addWidget(self.export_pdf)

        lay = QVBoxLayout(page)
        lay.addLayout(pick)
        lay.addLayout(grid)
        lay.addWidget(self.chart_view, 2)
        lay.addLayout(tables, 1)
        lay.addLayout(ex)
        lay.addWidget(self.export_result)
        return page

    def _export(self, kind: str) -> None:
        if kind == "pdf":
            start = end = self.day.date().toPython()
        else:
            start, end = self.range_start.date().toPython(), self.range_end.date().toPython()
        self.export_requested.emit(kind, start, end, self.folder.text().strip())

    def show_tally(self, tally: dict[str, Any], counter: str) -> None:
        """Paint one day's tally (the ``tally --json`` dictionary)."""
        self.tally = tally
        by_format = tally.get("by_format", {})
        rejected = tally.get("rejected", {})
        values = {
            "accepted": tally.get("accepted", 0),
            "2D": by_format.get("2D", 0),
            "3D": by_format.get("3D", 0),
            "rejected": sum(rejected.values()),
            "voided": tally.get("voided", 0),
            "pending": tally.get("pending", 0),
            "synced": tally.get("synced", 0),
        }
        for key, n in values.items():
            self.cards[key].setText(str(n))
        _fill(
            self.staff_table,
            [
                [name or self.tr("(not signed in)"), counter, str(n)]
                for name, n in tally.get("by_staff", {}).items()
            ],
        )
        _fill(self.reject_table, [[verdict_message(r), str(n)] for r, n in rejected.items()])
        self._paint_chart(tally.get("by_hour", {}))

    def _paint_chart(self, by_hour: dict[str, int]) -> None:
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        hours = [f"{h:02d}" for h in range(24)]
        bars = QBarSet(self.tr("Accepted"))
        bars.setColor(QColor("#1b7f3b"))
        for h in hours:
            bars.append(by_hour.get(h, 0))
        series = QBarSeries()
        series.append(bars)
        self.chart.addSeries(series)
        x = QBarCategoryAxis()
        x.append(hours)
        y = QValueAxis()
        y.setLabelFormat("%d")
        top = max([1, *by_hour.values()])
        if top <= 10:  # one grid line per admission: no repeated "0, 0, 1, 1" labels
            y.setRange(0, top)
            y.setTickCount(top + 1)
        else:
            y.setRange(0, top)
            y.applyNiceNumbers()
        self.chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(x)
        series.attachAxis(y)

    def show_export_result(self, text: str, ok: bool) -> None:
        self.export_result.setStyleSheet("color: #1b7f3b;" if ok else "color: #c62828;")
        self.export_result.setText(text)

    # --- duplicates tab --------------------------------------------------------

    def _build_duplicates(self) -> QWidget:
        page = QWidget(self)
        self.dup_table = _table(
            [
                self.tr("Voucher"),
                self.tr("Here: time"),
                self.tr("Here: staff"),
                self.tr("Other: cinema / counter"),
                self.tr("Other: time"),
                self.tr("Other: staff"),
            ],
            page,
        )
        self.dup_table.setObjectName("dupTable")
        note = QLabel(
            self.tr(
                "The central server found these vouchers used at this counter and elsewhere. "
                "The earlier use is the valid one."
            ),
            page,
        )
        note.setWordWrap(True)
        lay = QVBoxLayout(page)
        lay.addWidget(note)
        lay.addWidget(self.dup_table)
        return page

    def show_conflicts(self, conflicts: list[dict[str, Any]]) -> None:
        rows = []
        for c in conflicts:
            local, other = c.get("local") or {}, c.get("other") or {}
            place = " / ".join(str(x) for x in (other.get("cinema"), other.get("device")) if x)
            rows.append(
                [
                    str(c.get("voucher") or ""),
                    when_text(local.get("at")),
                    str(local.get("staff") or ""),
                    place,
                    when_text(other.get("at")),
                    str(other.get("staff") or ""),
                ]
            )
        _fill(self.dup_table, rows)
        self.tabs.setTabText(1, self.tr("Duplicates ({0})").format(len(rows)))

    def show_held(self, rows: list[dict[str, Any]]) -> None:
        """Quarantined and under-review records (:meth:`KioskService.held`)."""
        self.held.show_held(rows)
        index = self.tabs.indexOf(self.held)
        self.tabs.setTabText(index, self.tr("Held by the server ({0})").format(len(rows)))

    # --- settings tab ----------------------------------------------------------

    def _build_settings(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout()
        self.s_camera = QLineEdit(page)
        self.s_camera.setObjectName("setCamera")
        self.s_camera.setToolTip(self.tr("Camera number (0, 1...) or a video/image file"))
        self.s_language = QComboBox(page)
        self.s_language.setObjectName("setLanguage")
        self.s_language.addItem("中文 (简体)", "zh_CN")
        self.s_language.addItem("English", "en")
        self.s_sound = QCheckBox(self.tr("Play a sound for each verdict"), page)
        self.s_sound.setObjectName("setSound")
        self.s_timeout = QDoubleSpinBox(page)
        self.s_timeout.setObjectName("setTimeout")
        self.s_timeout.setRange(0, 600)
        self.s_timeout.setSuffix(self.tr(" s (0 = until the next scan)"))
        self.s_staff = QPlainTextEdit(page)
        self.s_staff.setObjectName("setStaff")
        self.s_staff.setPlaceholderText(self.tr("One name per line"))
        self.s_staff.setMaximumHeight(110)
        self.s_kiosk = QCheckBox(self.tr("Kiosk mode (full screen, leaving needs the PIN)"), page)
        self.s_kiosk.setObjectName("setKiosk")
        self.s_save = QPushButton(self.tr("Save settings"), page)
        self.s_save.setObjectName("saveSettings")
        self.s_save.clicked.connect(self._save)
        self.s_result = QLabel(page)
        self.s_result.setObjectName("settingsResult")
        form.addRow(self.tr("Camera:"), self.s_camera)
        form.addRow(self.tr("Language:"), self.s_language)
        form.addRow(self.tr("Sound:"), self.s_sound)
        form.addRow(self.tr("Verdict stays:"), self.s_timeout)
        form.addRow(self.tr("Staff names:"), self.s_staff)
        form.addRow("", self.s_kiosk)
        form.addRow("", self.s_save)
        form.addRow("", self.s_result)

        sync_box = QGroupBox(self.tr("Central server"), page)
        self.s_server = QLabel(sync_box)
        self.s_server.setObjectName("syncServer")
        self.s_server.setWordWrap(True)
        self.s_sync_state = QLabel(sync_box)
        self.s_sync_state.setObjectName("syncState")
        self.s_sync_state.setWordWrap(True)
        self.s_sync_now = QPushButton(self.tr("Sync now"), sync_box)
        self.s_sync_now.setObjectName("syncNow")
        self.s_sync_now.clicked.connect(self.sync_now_requested)
        sl = QVBoxLayout(sync_box)
        sl.addWidget(self.s_server)
        sl.addWidget(self.s_sync_state)
        sl.addWidget(self.s_sync_now)

        pin_box = QGroupBox(self.tr("Change PIN"), page)
        self.p_new = QLineEdit(pin_box)
        self.p_new.setObjectName("newPin")
        self.p_new.setEchoMode(QLineEdit.EchoMode.Password)
        self.p_new.setPlaceholderText(self.tr("New PIN"))
        self.p_again = QLineEdit(pin_box)
        self.p_again.setObjectName("newPinAgain")
        self.p_again.setEchoMode(QLineEdit.EchoMode.Password)
        self.p_again.setPlaceholderText(self.tr("Repeat the new PIN"))
        self.p_set = QPushButton(self.tr("Change PIN"), pin_box)
        self.p_set.setObjectName("changePin")
        self.p_set.clicked.connect(
            lambda: self.pin_change_requested.emit(self.p_new.text(), self.p_again.text())
        )
        self.p_result = QLabel(pin_box)
        self.p_result.setObjectName("pinResult")
        pl = QVBoxLayout(pin_box)
        pl.addWidget(self.p_new)
        pl.addWidget(self.p_again)
        pl.addWidget(self.p_set)
        pl.addWidget(self.p_result)

        right = QVBoxLayout()
        right.addWidget(sync_box)
        right.addWidget(pin_box)
        right.addStretch(1)
        lay = QHBoxLayout(page)
        lay.addLayout(form, 3)
        lay.addLayout(right, 2)
        return page

    def load_settings(self, cfg: KioskConfig) -> None:
        self.s_camera.setText(cfg.camera)
        self.s_language.setCurrentIndex(max(0, self.s_language.findData(cfg.language)))
        self.s_sound.setChecked(cfg.sound)
        self.s_timeout.setValue(cfg.verdict_timeout)
        self.s_staff.setPlainText("\n".join(cfg.staff_names))
        self.s_kiosk.setChecked(cfg.kiosk_mode)
        self.s_server.setText(
            self.tr("Server: {0}").format(cfg.server_url)
            if cfg.server_url
            else self.tr("Standalone counter (no central server)")
        )
        self.s_sync_now.setEnabled(bool(cfg.server_url))

    def _save(self) -> None:
        names = [n.strip() for n in self.s_staff.toPlainText().splitlines() if n.strip()]
        self.settings_saved.emit(
            {
                "camera": self.s_camera.text().strip(),
                "language": self.s_language.currentData(),
                "sound": self.s_sound.isChecked(),
                "verdict_timeout": float(self.s_timeout.value()),
                "staff_names": list(dict.fromkeys(names)),
                "kiosk_mode": self.s_kiosk.isChecked(),
            }
        )

    def show_sync_state(self, text: str) -> None:
        self.s_sync_state.setText(text)

    def show_settings_result(self, text: str) -> None:
        self.s_result.setText(text)

    def show_pin_result(self, text: str, *, changed: bool = False) -> None:
        """The answer to "Change PIN"; a changed PIN also empties both fields."""
        if changed:
            self.p_new.clear()
            self.p_again.clear()
        self.p_result.setText(text)

    def set_export_folder(self, folder: str) -> None:
        self.folder.setText(folder)

    def set_today(self, day: dt.date) -> None:
        """Show the cinema's current business day (sync.businessday: 00:30 is still
        yesterday's), without asking for its tally: the caller loads it."""
        self._today = QDate(day.year, day.month, day.day)
        for picker in (self.day, self.range_start, self.range_end):
            with QSignalBlocker(picker):
                picker.setDate(self._today)

    def selected_day(self) -> dt.date:
        d = self.day.date().toPython()
        assert isinstance(d, dt.date)
        return d
