"""The counter's status bar and the manager's one-line sync summary.

What is painted comes from three places: the store's ``status()`` (read on
the engine thread after each verdict, each sync report and once a minute
for the ages), the sync engine's status (pushed by :mod:`kiosk.ui.sync_link`)
and the camera's state. A warning is white on red, so a clerk sees at a
glance that the counter is offline, its revocation list is stale, its clock
is behind or its camera is gone.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from kiosk.config import KioskConfig

from .text import when_text

KEYS = ("online", "pending", "last_sync", "revocations", "clock", "camera", "counter", "staff")
WARN_STYLE = "background: #c62828; color: white; font-weight: bold; border-radius: 4px;"
CAMERA_WARNINGS = ("lost", "reconnecting", "ended")


class StatusBar(QObject):
    """The labels of the window's status bar (``labels[key]``, see :data:`KEYS`)."""

    def __init__(self, bar: QStatusBar, parent: QWidget) -> None:
        super().__init__(parent)
        bar.setObjectName("statusBar")
        self.labels: dict[str, QLabel] = {}
        for key in KEYS:
            lab = QLabel(parent)
            lab.setObjectName(f"st_{key}")
            lab.setContentsMargins(8, 2, 8, 2)
            self.labels[key] = lab
            bar.addPermanentWidget(lab, 1 if key == "staff" else 0)

    def _set(self, key: str, text: str, warn: bool = False) -> None:
        lab = self.labels[key]
        lab.setText(text)
        lab.setStyleSheet(WARN_STYLE if warn else "")

    def paint(
        self,
        cfg: KioskConfig,
        store: dict[str, Any],
        sync: dict[str, Any],
        camera_state: str,
        staff: str,
    ) -> None:
        """Paint every label from the store's status, the syncer's and the camera's."""
        if cfg.standalone:
            self._set("online", self.tr("Standalone"))
        elif store.get("device_revoked") or sync.get("device_revoked"):
            self._set("online", self.tr("Counter revoked by the server"), True)
        else:
            online = sync.get("online", store.get("online"))
            self._set("online", self.tr("Online") if online else self.tr("Offline"), not online)
        self._set("pending", self.tr("Unsynced: {0}").format(store.get("pending", 0)))
        last = store.get("last_sync")
        self._set(
            "last_sync",
            self.tr("Last sync: {0}").format(when_text(last) if last else self.tr("never")),
        )
        self._paint_revocations(cfg, store)
        clock_ok = store.get("clock_ok", True)
        self._set(
            "clock", self.tr("Clock OK") if clock_ok else self.tr("Clock is behind!"), not clock_ok
        )
        cam = {
            "ok": self.tr("Camera OK"),
            "lost": self.tr("Camera lost"),
            "reconnecting": self.tr("Camera reconnecting"),
            "ended": self.tr("Camera stopped"),
            "starting": self.tr("Camera starting"),
            "off": self.tr("No camera"),
        }.get(camera_state, camera_state)
        self._set("camera", cam, camera_state in CAMERA_WARNINGS)
        self._set("counter", self.tr("Counter: {0}").format(cfg.counter or cfg.cinema))
        self._set("staff", self.tr("Staff: {0}").format(staff or self.tr("nobody signed in")))

    def _paint_revocations(self, cfg: KioskConfig, store: dict[str, Any]) -> None:
        age = store.get("revocation_age_s")
        if cfg.standalone:
            self._set("revocations", self.tr("Revocation list: local"))
        elif age is None:
            self._set("revocations", self.tr("Revocation list: never updated"), True)
        else:
            if age < 3600:
                text = self.tr("Revocation list: {0} min old").format(int(age // 60))
            else:
                text = self.tr("Revocation list: {0:.1f} h old").format(age / 3600)
            self._set("revocations", text, bool(store.get("revocations_stale")))

    def sync_summary(self, cfg: KioskConfig, store: dict[str, Any], sync: dict[str, Any]) -> str:
        """The manager view's "Central server" line: online, unsynced, the last error."""
        if cfg.standalone:
            return self.tr("No server: export the tally to settle.")
        err = sync.get("last_error")
        text = self.tr("Online") if sync.get("online") else self.tr("Offline")
        text += "  ·  " + self.tr("Unsynced: {0}").format(store.get("pending", 0))
        if err:
            text += "\n" + self.tr("Last error: {0}").format(err)
        return text
