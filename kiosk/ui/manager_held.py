"""The manager view's "held by the server" tab: quarantined records and lines under review.

Widgets only. The rows are :meth:`kiosk.engine.service.KioskService.held`
(read on the engine thread by :mod:`kiosk.ui.manager_flow`). A record the
server answered ``rejected`` failed a signature or chain check: it is kept on
this counter and never paid. A ``review`` line is held until the union office
decides; its flags say why. The words for the server's codes are here (Qt
translations, Chinese first); a code this version does not know is shown as
it came, so nothing the server says is hidden.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .text import when_text


class HeldView(QWidget):
    """A table of held records; :meth:`show_held` paints them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heldView")
        note = QLabel(
            self.tr(
                "The central server holds these redemptions of this counter: quarantined ones "
                "failed a check and are not paid; lines under review wait for the union office. "
                "They stay on this counter. Tell IT about quarantined records."
            ),
            self,
        )
        note.setWordWrap(True)
        headers = [
            self.tr("Voucher"),
            self.tr("Time"),
            self.tr("Staff"),
            self.tr("Format"),
            self.tr("Status"),
            self.tr("Why"),
        ]
        self.table = QTableWidget(0, len(headers), self)
        self.table.setObjectName("heldTable")
        self.table.setHorizontalHeaderLabels(headers)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addWidget(self.table)

    def status_text(self, status: str) -> str:
        if status == "rejected":
            return self.tr("Quarantined (not paid)")
        if status == "review":
            return self.tr("Under review by the union office")
        return status

    def code_text(self, code: str) -> str:
        """The words for one flag or problem code of the server (the code itself if unknown)."""
        words = {
            "out_of_scope": self.tr("voucher not valid at this cinema"),
            "cinema_mismatch": self.tr("record names another cinema"),
            "wrong_format": self.tr("format not on the voucher"),
            "outside_validity": self.tr("outside the voucher's validity"),
            "time_in_future": self.tr("time in the future"),
            "time_before_enrolment": self.tr("time before this counter was enrolled"),
            "time_out_of_order": self.tr("time before this counter's previous record"),
            "after_freeze": self.tr("redeemed after the voucher was frozen"),
            "disputed": self.tr("disputed with a redemption elsewhere"),
            "chain_gap": self.tr("records missing from this counter's chain"),
            "chain_fork": self.tr("record chain forked (a copied counter?)"),
            "clock_skew": self.tr("this counter's clock was off"),
            "bad_device_signature": self.tr("not signed by this counter's key"),
            "bad_record": self.tr("malformed record"),
            "wrong_device": self.tr("record of another counter"),
            "unknown_key": self.tr("issuer unknown to the union office"),
            "bad_voucher_signature": self.tr("forged or altered voucher"),
            "voucher_mismatch": self.tr("record does not match its voucher"),
        }
        return words.get(code, code)

    def show_held(self, rows: list[dict[str, Any]]) -> None:
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            codes = [str(c) for c in row.get("flags") or []]
            if row.get("problem"):
                codes.append(str(row["problem"]))
            cells = [
                str(row.get("voucher") or ""),
                when_text(row.get("at")),
                str(row.get("staff") or ""),
                str(row.get("format") or ""),
                self.status_text(str(row.get("status") or "")),
                self.tr("; ").join(self.code_text(c) for c in codes),
            ]
            for c, value in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(value))
