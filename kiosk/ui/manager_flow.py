"""The manager's side of the window: the PIN gate in front, then the manager view's actions.

The window builds the pages (again after a language change) and hands them to
:meth:`ManagerFlow.attach`; this object answers their signals. What a PIN is
and when the gate locks is :mod:`kiosk.pin` (Qt-free); the work on the store
(tallies, exports, config writes) runs on the window's engine thread through
the jobs of :mod:`kiosk.ui.jobs`; a config change goes back to the window
(:meth:`ManagerHost.apply_config`), which re-applies language, camera and
kiosk mode.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QStackedWidget

from kiosk.config import KioskConfig
from kiosk.paths import KioskPaths
from kiosk.pin import PinError, PinGuard, choose_pin

from .bridge import ServiceThread
from .failures import failure_text
from .jobs import export_job, save_config_job
from .manager import ManagerView
from .pin_gate import PinGate


class ManagerHost(Protocol):
    """What the flow needs of the window (the main window is the one host)."""

    bridge: ServiceThread | None
    cfg: KioskConfig | None
    paths: KioskPaths
    stack: QStackedWidget

    def apply_config(self, new: KioskConfig) -> None: ...
    def sync_summary(self) -> str: ...
    def sync_now(self) -> bool: ...


class ManagerFlow(QObject):
    """Answers the PIN gate and the manager view (``attach`` them after each rebuild)."""

    def __init__(self, host: ManagerHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.guard = PinGuard()
        self.pin: PinGate | None = None
        self.view: ManagerView | None = None

    def attach(self, pin: PinGate, view: ManagerView) -> None:
        self.pin, self.view = pin, view
        pin.submitted.connect(self._pin_submitted)
        view.day_requested.connect(self.load_tally)
        view.export_requested.connect(self.export)
        view.settings_saved.connect(self.save_settings)
        view.pin_change_requested.connect(self.change_pin)
        view.sync_now_requested.connect(self.sync_now)
        view.set_export_folder(str(self.host.paths.home / "reports"))

    # --- the PIN gate -----------------------------------------------------------

    def open(self) -> None:
        """Show the PIN gate (the first time: have a PIN chosen)."""
        cfg = self.host.cfg
        if self.pin is None or cfg is None:
            return
        self.pin.prepare(creating=not cfg.pin_hash)
        self.host.stack.setCurrentWidget(self.pin)

    def _pin_submitted(self, pin: str, confirm: str) -> None:
        gate, cfg = self.pin, self.host.cfg
        assert gate is not None and cfg is not None
        if gate.creating:
            try:
                pin_hash = choose_pin(pin, confirm)
            except PinError as exc:
                gate.prepare(creating=True, message=self._pin_problem(exc))
                return
            self._save_changes({"pin_hash": pin_hash}, then=self.enter)
            return
        answer = self.guard.check(pin, cfg.pin_hash)
        if answer == "ok":
            self.enter()
        elif answer == "locked":
            gate.prepare(creating=False, message=self.tr("Too many wrong PINs: wait a minute."))
        else:
            gate.prepare(creating=False, message=self.tr("Wrong PIN."))

    def _pin_problem(self, exc: PinError) -> str:
        if exc.reason == "pin_mismatch":
            return self.tr("The two PINs differ.")
        return self.tr("A PIN is 4 to 12 digits.")

    # --- the manager view -------------------------------------------------------

    def enter(self) -> None:
        """Show the manager view with the config's settings and the picked day's tally."""
        view, cfg = self.view, self.host.cfg
        if view is None or cfg is None:
            return
        view.load_settings(cfg)
        self.host.stack.setCurrentWidget(view)
        view.show_sync_state(self.host.sync_summary())
        bridge = self.host.bridge
        if bridge is None:
            return

        def shown(day: dt.date) -> None:  # the cinema's business day, then its tally
            if self.view is not None:
                self.view.set_today(day)
                self.load_tally(day)

        bridge.submit(lambda svc: svc.business_today(), shown)

    def load_tally(self, day: dt.date) -> None:
        bridge = self.host.bridge
        if bridge is None:
            return

        Rows = list[dict[str, Any]]

        def job(svc: Any) -> tuple[dict[str, Any], Rows, Rows]:
            return svc.tally(day).to_json(), svc.conflicts(), svc.held()

        def done(result: tuple[dict[str, Any], Rows, Rows]) -> None:
            cfg = self.host.cfg
            if self.view is not None and cfg is not None:
                self.view.show_tally(result[0], cfg.counter)
                self.view.show_conflicts(result[1])
                self.view.show_held(result[2])

        bridge.submit(job, done)

    def export(self, kind: str, start: dt.date, end: dt.date, folder: str) -> None:
        bridge, cfg = self.host.bridge, self.host.cfg
        if bridge is None or cfg is None or self.view is None:
            return
        out_dir = Path(folder or self.host.paths.home / "reports").expanduser()

        def done(path: Path) -> None:
            if self.view is not None:
                self.view.show_export_result(self.tr("Saved: {0}").format(path), True)

        def failed(exc: BaseException) -> None:
            if self.view is not None:
                msg = self.tr("Not saved: {0}").format(failure_text(exc))
                self.view.show_export_result(msg, False)

        bridge.submit(export_job(kind, start, end, out_dir, cfg), done, failed)

    def _save_changes(self, changes: dict[str, Any], then: Callable[[], None]) -> None:
        """Validate and write config changes on the worker; the service sees them too."""
        bridge = self.host.bridge
        if bridge is None:
            return

        def done(new: KioskConfig) -> None:
            self.host.apply_config(new)
            then()

        def failed(exc: BaseException) -> None:
            if self.view is not None:
                msg = self.tr("Not saved: {0}").format(failure_text(exc))
                self.view.show_settings_result(msg)

        bridge.submit(save_config_job(self.host.paths.config, changes), done, failed)

    def save_settings(self, values: dict[str, Any]) -> None:
        def saved() -> None:
            if self.view is not None:
                self.view.show_settings_result(self.tr("Settings saved."))

        self._save_changes(values, then=saved)

    def change_pin(self, new: str, again: str) -> None:
        if self.view is None:
            return
        try:
            pin_hash = choose_pin(new, again)
        except PinError as exc:
            self.view.show_pin_result(self._pin_problem(exc))
            return

        def changed() -> None:
            if self.view is not None:
                self.view.show_pin_result(self.tr("PIN changed."), changed=True)

        self._save_changes({"pin_hash": pin_hash}, then=changed)

    def sync_now(self) -> None:
        if self.host.sync_now() and self.view is not None:
            self.view.show_sync_state(self.tr("Sync started..."))
