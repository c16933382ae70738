"""The counter window: routes inputs to the engine and verdicts to the screen.

It owns the threads (engine worker, camera pipeline, sync engine) and starts
and stops them; it decides nothing about vouchers. Pages: the set-up wizard
(first run), the scan screen, the PIN gate and the manager view. Scans are
always accepted, whichever page is showing: a scan switches back to the scan
screen so its verdict is seen.

This module only composes: the status bar is :mod:`kiosk.ui.status_bar`, the
PIN rules and lockout :mod:`kiosk.pin`, the manager's export and config jobs
:mod:`kiosk.ui.jobs`, the wizard's jobs :mod:`kiosk.ui.setup_jobs`, the sync
engine's news :mod:`kiosk.ui.sync_link`, and every error shown goes through
:mod:`kiosk.ui.failures`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QStackedWidget

from kiosk.config import KioskConfig, load_config
from kiosk.engine.verdict import Verdict
from kiosk.errors import KioskError, NotSetUp
from kiosk.paths import KioskPaths

from . import i18n
from .bridge import ServiceThread
from .camera_view import CameraController
from .failures import failure_text
from .keywedge import KeyWedgeFilter
from .manager import ManagerView
from .manager_flow import ManagerFlow
from .options import WindowOptions
from .pin_gate import PinGate
from .scan_screen import ScanScreen
from .setup_jobs import SetupRunner
from .sound import Sounds
from .status_bar import StatusBar
from .style import STYLE
from .sync_link import SyncLink
from .text import describe, void_message
from .verdict_view import TONES
from .wizard import SetupWizard

log = logging.getLogger(__name__)
# The store's status is re-read after each verdict, void and sync report; this
# timer only keeps the ages it shows ("revocation list: 12 min old") current.
AGE_REFRESH_MS = 60_000


class MainWindow(QMainWindow):
    """One counter. ``verdict_shown`` fires after a verdict is painted (tests, bench)."""

    verdict_shown = Signal(object)
    ready = Signal()

    def __init__(self, home: Path, options: WindowOptions | None = None) -> None:
        super().__init__()
        opts = options or WindowOptions()
        i18n.set_language("zh_CN")  # until the config says otherwise (errors, wizard)
        self.paths = KioskPaths(Path(home))
        self.camera_arg = opts.camera
        self.decoder_arg = opts.decoder
        self.loop_video = opts.loop_video
        self.staff_arg = (opts.staff or "").strip()
        self.fullscreen_arg = opts.fullscreen
        self.cfg: KioskConfig | None = None
        self.bridge: ServiceThread | None = None
        self.camera: CameraController | None = None
        self.sync_link = SyncLink(self)
        self.sync_link.changed.connect(self._on_sync_status)
        self.service_ready = False
        self.kiosk = opts.fullscreen
        self._allow_close = False
        self._closed = False
        self.last_verdict: Verdict | None = None
        self.last_timing: dict[str, float] = {}
        self.status: dict[str, Any] = {}  # the store's status() (read on the engine thread)
        self.sync_status: dict[str, Any] = {}  # the sync engine's, as it last told us
        self.camera_state = "off"
        self._status_inflight = False
        self._status_again = False
        self.sounds = Sounds(True, self)
        self.setWindowTitle("CinePass")
        self.setStyleSheet(STYLE)
        self.resize(1280, 800)
        self.setMinimumSize(1000, 700)
        self.stack = QStackedWidget(self)
        self.setCentralWidget(self.stack)
        self.error_page = QLabel(self)
        self.error_page.setObjectName("errorPage")
        self.error_page.setWordWrap(True)
        self.error_page.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.error_page)
        self.wizard: SetupWizard | None = None
        self.scan: ScanScreen | None = None
        self.pin: PinGate | None = None
        self.manager: ManagerView | None = None
        self.status_bar = StatusBar(self.statusBar(), self)
        self.setup_runner = SetupRunner(self.paths, self)
        self.manager_flow = ManagerFlow(self, self)
        self.setup_runner.finished.connect(self._setup_done)

        self.wedge = KeyWedgeFilter(self, hotkey=self._hotkey)
        self.wedge.scanned.connect(lambda text: self.submit_scan(text, "scanner"))
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.wedge)

        self.verdict_timer = QTimer(self)
        self.verdict_timer.setSingleShot(True)
        self.verdict_timer.timeout.connect(self._verdict_timeout)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(AGE_REFRESH_MS)
        self.status_timer.timeout.connect(self.refresh_status)

        try:
            cfg = load_config(self.paths.config)
        except NotSetUp:
            self._show_wizard()
        except KioskError as exc:
            self._show_error(exc.message)
        else:
            self._start(cfg)

    # --- pages ------------------------------------------------------------------

    def _show_error(self, message: str) -> None:
        self.error_page.setText(
            self.tr("This counter cannot start:")
            + "\n\n"
            + message
            + "\n\n"
            + self.tr("Call the manager or IT support.")
        )
        self.stack.setCurrentWidget(self.error_page)

    def _show_wizard(self) -> None:
        self.wizard = SetupWizard(str(self.paths.home), self)
        self.setup_runner.attach(self.wizard)
        self.stack.addWidget(self.wizard)
        self.stack.setCurrentWidget(self.wizard)

    def _build_pages(self) -> None:
        """(Re)create the pages in the current language, keeping format and staff."""
        fmt = self.scan.fmt if self.scan is not None else "2D"
        staff = self.scan.current_staff() if self.scan is not None else self.staff_arg
        for old in (self.scan, self.pin, self.manager):
            if old is not None:
                self.stack.removeWidget(old)
                old.deleteLater()
        self.scan = ScanScreen(self)
        self.pin = PinGate(self)
        self.manager = ManagerView(self)
        for page in (self.scan, self.pin, self.manager):
            self.stack.addWidget(page)
        cfg = self.cfg
        assert cfg is not None
        self.scan.place.setText(f"CinePass · {cfg.cinema}  {cfg.counter}".rstrip())
        self.scan.set_staff_names(cfg.staff_names, staff)
        self.scan.set_format(fmt)
        self.scan.preview.set_state(self.camera_state)
        self.scan.code_entered.connect(lambda text: self.submit_scan(text, "typed"))
        self.scan.format_changed.connect(self._on_format)
        self.scan.staff_changed.connect(lambda _s: self._paint_status())
        self.scan.undo_confirmed.connect(self.undo_last)
        self.scan.manager_requested.connect(self.open_manager)
        self.pin.cancelled.connect(self.show_scan)
        self.manager.back_requested.connect(self.show_scan)
        self.manager.quit_requested.connect(self.quit_program)
        self.manager_flow.attach(self.pin, self.manager)
        self.stack.setCurrentWidget(self.scan)
        self._paint_status()

    def show_scan(self) -> None:
        if self.scan is not None:
            self.stack.setCurrentWidget(self.scan)

    # --- start-up ---------------------------------------------------------------

    def _start(self, cfg: KioskConfig) -> None:
        self.cfg = cfg
        i18n.set_language(cfg.language)
        self.sounds.enabled = cfg.sound
        self.kiosk = self.fullscreen_arg or cfg.kiosk_mode
        self._build_pages()
        from kiosk.engine.service import KioskService

        home = self.paths.home
        self.bridge = ServiceThread(lambda: KioskService.open(home), self)
        self.bridge.opened.connect(self._on_opened)
        self.bridge.open_failed.connect(self._on_open_failed)
        self.bridge.start()
        self._start_camera()
        if self.kiosk:
            self.showFullScreen()

    def _on_opened(self) -> None:
        assert self.bridge is not None
        cfg = self.cfg
        assert cfg is not None
        if not cfg.standalone:
            self.sync_link.start(self.bridge)
        self.service_ready = True
        self.status_timer.start()
        self.refresh_status()
        self.ready.emit()

    @property
    def syncer(self) -> Any:
        """The running :class:`~kiosk.syncer.SyncEngine`, or None (standalone, not yet)."""
        return self.sync_link.syncer

    def _on_open_failed(self, exc: BaseException) -> None:
        self._show_error(failure_text(exc))

    def _start_camera(self) -> None:
        cfg = self.cfg
        assert cfg is not None
        spec = self.camera_arg if self.camera_arg is not None else cfg.camera
        self.camera = CameraController(
            spec,
            decoder=self.decoder_arg or cfg.decoder,
            hold_off=cfg.hold_off,
            loop=self.loop_video,
        )
        self.camera.frame.connect(self._on_frame)
        self.camera.texts.connect(self._on_camera_texts)
        self.camera.state.connect(self._on_camera_state)
        self.camera.start()

    def _stop_camera(self) -> None:
        if self.camera is not None:
            self.camera.stop()
            self.camera = None

    # --- set-up wizard ----------------------------------------------------------

    def _setup_done(self, cfg: KioskConfig) -> None:
        if self.wizard is not None:
            self.stack.removeWidget(self.wizard)
            self.wizard.deleteLater()
            self.wizard = None
        self._start(cfg)

    # --- inputs -----------------------------------------------------------------

    def _hotkey(self, event: QKeyEvent, typing: bool) -> bool:
        if self.scan is None:
            return False
        key = event.key()
        fmt = {Qt.Key.Key_F2: "2D", Qt.Key.Key_F3: "3D"}.get(Qt.Key(key))
        if fmt is None and not typing and self.stack.currentWidget() is self.scan:
            fmt = {"2": "2D", "3": "3D"}.get(event.text())
        if fmt is None:
            return False
        self.scan.set_format(fmt, emit=True)
        return True

    def _on_format(self, fmt: str) -> None:
        if self.camera is not None:
            self.camera.forget()  # the voucher still under the camera is checked again

    def _on_frame(self, image: Any) -> None:
        if self.scan is not None:
            self.scan.preview.set_frame(image)
        if self.camera is not None:
            self.camera.painted()

    def _on_camera_state(self, state: str) -> None:
        self.camera_state = state
        if self.scan is not None:
            self.scan.preview.set_state(state)
        self._paint_status()

    def _on_camera_texts(self, texts: list[str], captured_at: float) -> None:
        for text in texts:
            self.submit_scan(text, "camera", captured_at=captured_at)

    def submit_scan(self, text: str, source: str, *, captured_at: float | None = None) -> None:
        """Any input (camera, scanner, typed) goes the same way: redeem, then paint."""
        if self.scan is None or self.bridge is None or self._closed:
            return
        if self.stack.currentWidget() is not self.scan:
            self.show_scan()
        # before the engine is open the job waits in the worker's queue: no scan is lost
        fmt, staff = self.scan.fmt, self.scan.current_staff()
        received = time.perf_counter()
        t_mono = time.monotonic()
        timing = {"received": received, "captured_at": captured_at or t_mono, "mono": t_mono}

        def job(svc: Any) -> Verdict:
            t0 = time.perf_counter()
            v: Verdict = svc.redeem(text, fmt=fmt, staff=staff, source=source)
            timing["engine_ms"] = (time.perf_counter() - t0) * 1000
            return v

        def failed(exc: BaseException) -> None:  # the bridge has logged it
            self._show_verdict(
                Verdict(reason="not_recorded", detail={"error": type(exc).__name__}), fmt, timing
            )

        self.bridge.submit(job, lambda v: self._show_verdict(v, fmt, timing), failed)

    def _show_verdict(self, verdict: Verdict, fmt: str, timing: dict[str, float]) -> None:
        if self.scan is None or self.cfg is None:
            return
        text = describe(verdict, fmt=fmt, counter=self.cfg.counter)
        self.scan.verdict.show_verdict(text)
        self.scan.preview.flash(TONES[text.tone][0])
        self.scan.set_notice("")
        self.scan.verdict.repaint()  # paint now: the clerk is waiting for exactly this
        timing["painted_mono"] = time.monotonic()
        timing["painted"] = time.perf_counter()
        self.last_timing = timing
        self.last_verdict = verdict
        self.sounds.play(text.tone)
        self.verdict_timer.stop()
        if self.cfg.verdict_timeout > 0:
            self.verdict_timer.start(int(self.cfg.verdict_timeout * 1000))
        if verdict.accepted:
            self.sync_link.notify()
        self.verdict_shown.emit(verdict)
        self.refresh_status()

    def _verdict_timeout(self) -> None:
        if self.scan is not None:
            self.scan.verdict.show_idle()
            self.scan.preview.flash(None)

    def undo_last(self) -> None:
        if self.bridge is None or self.scan is None:
            return
        staff = self.scan.current_staff()

        def done(result: Any) -> None:
            if self.scan is not None:
                self.scan.show_void_result(
                    void_message(result.reason, result.voucher_id), result.ok
                )
            self.refresh_status()

        def failed(exc: BaseException) -> None:
            if self.scan is not None:
                self.scan.set_notice(self.tr("The void could not be recorded."))

        self.bridge.submit(lambda svc: svc.void_last(staff=staff), done, failed)

    # --- manager ----------------------------------------------------------------

    def open_manager(self) -> None:
        """The PIN gate, then the manager view (:mod:`kiosk.ui.manager_flow`)."""
        self.manager_flow.open()

    def apply_config(self, new: KioskConfig) -> None:
        """A config the manager saved (already on disk and in the service): apply it here."""
        old, self.cfg = self.cfg, new
        self._apply_config(old, new)

    def _apply_config(self, old: KioskConfig | None, new: KioskConfig) -> None:
        self.sounds.enabled = new.sound
        if old is not None and old.language != new.language:
            i18n.set_language(new.language)
            on_manager = self.stack.currentWidget() is self.manager
            self._build_pages()
            if on_manager:
                self.manager_flow.enter()
        elif self.scan is not None:
            self.scan.set_staff_names(new.staff_names, self.scan.current_staff())
        if old is not None and (old.camera != new.camera) and self.camera_arg is None:
            self._stop_camera()
            self._start_camera()
        if new.kiosk_mode and not self.isFullScreen():
            self.kiosk = True
            self.showFullScreen()
        elif not new.kiosk_mode and not self.fullscreen_arg and self.isFullScreen():
            self.kiosk = False
            self.showNormal()

    def sync_now(self) -> bool:
        """Start a sync cycle now; False when there is no sync engine (standalone, not yet)."""
        if self.syncer is None:
            return False
        self.sync_link.notify()
        return True

    def quit_program(self) -> None:
        self._allow_close = True
        self.close()

    # --- status -----------------------------------------------------------------

    @property
    def st(self) -> dict[str, QLabel]:
        """The status bar's labels by key (see :data:`kiosk.ui.status_bar.KEYS`)."""
        return self.status_bar.labels

    def _on_sync_status(self, sync: dict[str, Any]) -> None:
        """The sync engine told us of a cycle or a change: paint it, re-read the store's counts."""
        self.sync_status = sync
        self._paint_status()
        self.refresh_status()

    def refresh_status(self) -> None:
        """Re-read the store's status on the engine thread, then paint it.

        One read at a time, so a slow disk cannot pile them up; a request made
        while one is running is remembered and run once after it, so the last
        change is never lost.
        """
        if self.bridge is None or not self.service_ready:
            return
        if self._status_inflight:
            self._status_again = True
            return
        self._status_inflight = True

        def finish() -> None:
            self._status_inflight = False
            if self._status_again and not self._closed:
                self._status_again = False
                self.refresh_status()

        def done(st: dict[str, Any]) -> None:
            self.status = st
            self._paint_status()
            finish()

        def failed(_exc: BaseException) -> None:  # the bridge has logged it
            finish()

        self.bridge.submit(lambda svc: dict(svc.status()), done, failed)

    def _paint_status(self) -> None:
        if self.cfg is None:
            return
        staff = self.scan.current_staff() if self.scan is not None else ""
        self.status_bar.paint(self.cfg, self.status, self.sync_status, self.camera_state, staff)
        if self.stack.currentWidget() is self.manager:
            self._paint_sync_state()

    def _paint_sync_state(self) -> None:
        if self.manager is not None and self.cfg is not None:
            self.manager.show_sync_state(self.sync_summary())

    def sync_summary(self) -> str:
        """The manager view's "Central server" line (see :meth:`StatusBar.sync_summary`)."""
        assert self.cfg is not None
        return self.status_bar.sync_summary(self.cfg, self.status, self.sync_status)

    # --- shutdown ---------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if self.kiosk and not self._allow_close and self.cfg is not None:
            event.ignore()  # kiosk mode: leaving needs the manager PIN
            self.open_manager()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop every worker thread and wait for it (safe to call twice)."""
        if self._closed:
            return
        self._closed = True
        self.status_timer.stop()
        self.verdict_timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.wedge)
        self._stop_camera()
        self.sync_link.stop()
        if self.bridge is not None:
            self.bridge.stop()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if (
            event.type() == QEvent.Type.WindowStateChange
            and self.kiosk
            and not self._allow_close
            and not self.isFullScreen()
        ):
            QTimer.singleShot(0, self.showFullScreen)  # no way out of kiosk mode without the PIN
