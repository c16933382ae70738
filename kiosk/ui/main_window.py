"""The counter window: routes inputs to the engine and verdicts to the screen.

It owns the threads (engine worker, camera pipeline, sync engine) and starts
and stops them; it decides nothing about vouchers. Pages: the set-up wizard
(first run), the scan screen, the PIN gate and the manager view. Scans are
always accepted, whichever page is showing: a scan switches back to the scan
screen so its verdict is seen.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QStackedWidget

from kiosk.config import KioskConfig, load_config, parse_config, save_config
from kiosk.engine.verdict import Verdict
from kiosk.errors import ConfigError, KioskError, NotSetUp
from kiosk.paths import KioskPaths
from kiosk.pin import PinError, hash_pin, validate_pin, verify_pin

from . import i18n
from .bridge import ServiceThread
from .camera_view import CameraController
from .keywedge import KeyWedgeFilter
from .manager import ManagerView, PinGate
from .scan_screen import ScanScreen
from .sound import Sounds
from .style import STYLE
from .text import describe, when_text
from .verdict_view import TONES
from .wizard import SetupWizard

log = logging.getLogger(__name__)
STATUS_INTERVAL_MS = 1000
PIN_TRIES = 5
PIN_LOCK_S = 60.0


class MainWindow(QMainWindow):
    """One counter. ``verdict_shown`` fires after a verdict is painted (tests, bench)."""

    verdict_shown = Signal(object)
    ready = Signal()

    def __init__(
        self,
        home: Path,
        *,
        camera: str | None = None,
        staff: str | None = None,
        fullscreen: bool = False,
        decoder: str | None = None,
        loop_video: bool = False,
    ) -> None:
        super().__init__()
        i18n.set_language("zh_CN")  # until the config says otherwise (errors, wizard)
        self.paths = KioskPaths(Path(home))
        self.camera_arg = camera
        self.decoder_arg = decoder
        self.loop_video = loop_video
        self.staff_arg = (staff or "").strip()
        self.fullscreen_arg = fullscreen
        self.cfg: KioskConfig | None = None
        self.bridge: ServiceThread | None = None
        self.camera: CameraController | None = None
        self.syncer: Any = None
        self.service_ready = False
        self.kiosk = fullscreen
        self._allow_close = False
        self._closed = False
        self.last_verdict: Verdict | None = None
        self.last_timing: dict[str, float] = {}
        self.status: dict[str, Any] = {}
        self.camera_state = "off"
        self._status_inflight = False
        self._pin_failures = 0
        self._pin_locked_until = 0.0
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
        self._build_status_bar()

        self.wedge = KeyWedgeFilter(self, hotkey=self._hotkey)
        self.wedge.scanned.connect(lambda text: self.submit_scan(text, "scanner"))
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.wedge)

        self.verdict_timer = QTimer(self)
        self.verdict_timer.setSingleShot(True)
        self.verdict_timer.timeout.connect(self._verdict_timeout)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(STATUS_INTERVAL_MS)
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
        self.wizard.enrol_requested.connect(self._enrol)
        self.wizard.standalone_requested.connect(self._standalone)
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
        self.pin.submitted.connect(self._pin_submitted)
        self.pin.cancelled.connect(self.show_scan)
        self.manager.back_requested.connect(self.show_scan)
        self.manager.quit_requested.connect(self.quit_program)
        self.manager.day_requested.connect(self.load_tally)
        self.manager.export_requested.connect(self.export)
        self.manager.settings_saved.connect(self.save_settings)
        self.manager.pin_change_requested.connect(self.change_pin)
        self.manager.sync_now_requested.connect(self.sync_now)
        self.manager.folder.setText(str(self.paths.home / "reports"))
        self.stack.setCurrentWidget(self.scan)
        self._retranslate_status()

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
            self.bridge.submit(self._make_syncer, self._on_syncer, self._on_syncer_failed)
        self.service_ready = True
        self.status_timer.start()
        self.refresh_status()
        self.ready.emit()

    @staticmethod
    def _make_syncer(svc: Any) -> Any:
        from kiosk.syncer import SyncEngine

        engine = SyncEngine(svc)
        engine.start()
        return engine

    def _on_syncer(self, engine: Any) -> None:
        if self._closed:
            engine.stop()
        else:
            self.syncer = engine

    def _on_syncer_failed(self, exc: BaseException) -> None:
        log.warning("sync engine not started: %s", exc)

    def _on_open_failed(self, exc: BaseException) -> None:
        msg = exc.message if isinstance(exc, KioskError) else f"{type(exc).__name__}: {exc}"
        self._show_error(msg)

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

    def _run_setup(self, job: Any) -> None:
        assert self.wizard is not None
        self.wizard.set_busy(True)
        worker = ServiceThread(lambda: None, self)

        def done(_result: Any) -> None:
            worker.stop()
            try:
                cfg = load_config(self.paths.config)
            except KioskError as exc:
                self._setup_failed(exc)
                return
            if self.wizard is not None:
                self.stack.removeWidget(self.wizard)
                self.wizard.deleteLater()
                self.wizard = None
            self._start(cfg)

        def failed(exc: BaseException) -> None:
            worker.stop()
            self._setup_failed(exc)

        worker.start()
        worker.submit(lambda _none: job(), done, failed)

    def _setup_failed(self, exc: BaseException) -> None:
        if self.wizard is not None:
            reason, message = getattr(exc, "reason", None), getattr(exc, "message", None)
            if isinstance(reason, str) and isinstance(message, str):  # KioskError, KeyFileError
                self.wizard.show_error(self.wizard.explain(reason, message))
            else:
                self.wizard.show_error(f"{type(exc).__name__}: {exc}")

    def _enrol(self, url: str, code: str, counter: str) -> None:
        from kiosk.enrollment import enroll

        home = self.paths.home
        paths = self.paths

        def job() -> None:
            enroll(home, url, code, name=counter or None)
            if counter:
                cfg = load_config(paths.config)
                cfg.counter = counter
                save_config(paths.config, cfg)

        self._run_setup(job)

    def _standalone(self, cinema: str, key_file: str, counter: str) -> None:
        from kiosk.engine.service import init_standalone
        from sync.voucher.keys import load_public_key

        home = self.paths.home

        def job() -> None:
            key = load_public_key(Path(key_file).expanduser())
            init_standalone(home, cinema=cinema, issuer_keys=[key], counter=counter)

        self._run_setup(job)

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

        def failed(exc: BaseException) -> None:
            log.error("redeem failed: %s", type(exc).__name__)
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
        if verdict.accepted and self.syncer is not None:
            self.syncer.notify()
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
            from PySide6.QtCore import QCoreApplication

            from kiosk.engine.service import VOID_MESSAGES

            en = VOID_MESSAGES[result.reason]["en"]
            msg = QCoreApplication.translate("Void", en, result.reason)
            if result.voucher_id:
                msg = f"{msg}: {result.voucher_id}"
            if self.scan is not None:
                self.scan.set_notice(msg)
                self.scan.notice.setStyleSheet(
                    "color: #1b7f3b; font-weight: bold;"
                    if result.ok
                    else "color: #c62828; font-weight: bold;"
                )
                if result.ok:
                    self.scan.verdict.show_idle()
            self.refresh_status()

        def failed(exc: BaseException) -> None:
            if self.scan is not None:
                self.scan.set_notice(self.tr("The void could not be recorded."))

        self.bridge.submit(lambda svc: svc.void_last(staff=staff), done, failed)

    # --- manager ----------------------------------------------------------------

    def open_manager(self) -> None:
        if self.pin is None or self.cfg is None:
            return
        self.pin.prepare(creating=not self.cfg.pin_hash)
        self.stack.setCurrentWidget(self.pin)

    def _pin_submitted(self, pin: str, confirm: str) -> None:
        assert self.pin is not None and self.cfg is not None
        if self.pin.creating:
            try:
                validate_pin(pin)
            except PinError:
                self.pin.prepare(creating=True, message=self._pin_rule())
                return
            if pin != confirm:
                self.pin.prepare(creating=True, message=self.tr("The two PINs differ."))
                return
            self._save_changes({"pin_hash": hash_pin(pin)}, then=self._enter_manager)
            return
        now = time.monotonic()
        if now < self._pin_locked_until:
            self.pin.prepare(creating=False, message=self.tr("Too many wrong PINs: wait a minute."))
            return
        try:
            ok = verify_pin(pin, self.cfg.pin_hash)
        except PinError:
            ok = False
        if not ok:
            self._pin_failures += 1
            if self._pin_failures >= PIN_TRIES:
                self._pin_failures = 0
                self._pin_locked_until = now + PIN_LOCK_S
            self.pin.prepare(creating=False, message=self.tr("Wrong PIN."))
            return
        self._pin_failures = 0
        self._enter_manager()

    def _pin_rule(self) -> str:
        return self.tr("A PIN is 4 to 12 digits.")

    def _enter_manager(self) -> None:
        if self.manager is None or self.cfg is None:
            return
        self.manager.load_settings(self.cfg)
        self.stack.setCurrentWidget(self.manager)
        self.load_tally(self.manager.selected_day())
        self._paint_sync_state()

    def load_tally(self, day: dt.date) -> None:
        if self.bridge is None:
            return

        def job(svc: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            return svc.tally(day).to_json(), svc.conflicts()

        def done(result: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
            if self.manager is not None and self.cfg is not None:
                self.manager.show_tally(result[0], self.cfg.counter)
                self.manager.show_conflicts(result[1])

        self.bridge.submit(job, done)

    def export(self, kind: str, start: dt.date, end: dt.date, folder: str) -> None:
        if self.bridge is None or self.cfg is None or self.manager is None:
            return
        from kiosk import reports

        lang, cfg = self.cfg.language, self.cfg
        out_dir = Path(folder or self.paths.home / "reports").expanduser()

        def job(svc: Any) -> Path:
            meta = reports.ReportMeta(cinema=cfg.cinema, counter=cfg.counter)
            days = reports.date_range(start, end)
            out_dir.mkdir(parents=True, exist_ok=True)
            if kind == "pdf":
                tally = svc.tally(start).to_json()
                dups = [c for c in svc.conflicts() if _on_day(c, start)]
                path = out_dir / f"cinepass-{cfg.cinema}-{start.isoformat()}.pdf"
                return reports.daily_pdf(tally, path, lang, meta, dups)
            tallies = [svc.tally(d).to_json() for d in days]
            name = f"cinepass-{cfg.cinema}-{start.isoformat()}"
            if end != start:
                name += f"_{end.isoformat()}"
            if kind == "csv":
                return reports.export_csv(tallies, out_dir / f"{name}.csv", lang, meta)
            return reports.export_xlsx(tallies, out_dir / f"{name}.xlsx", lang, meta)

        def done(path: Path) -> None:
            if self.manager is not None:
                self.manager.show_export_result(self.tr("Saved: {0}").format(path), True)

        def failed(exc: BaseException) -> None:
            if self.manager is not None:
                msg = exc.message if isinstance(exc, KioskError) else str(exc)
                self.manager.show_export_result(self.tr("Not saved: {0}").format(msg), False)

        self.bridge.submit(job, done, failed)

    def _save_changes(self, changes: dict[str, Any], then: Any = None) -> None:
        """Validate and write config changes on the worker; the service sees them too."""
        if self.bridge is None:
            return
        path = self.paths.config

        def job(svc: Any) -> KioskConfig:
            new = parse_config({**svc.config.to_json(), **changes})
            if not new.cinema:
                raise ConfigError("bad_config", "config.json: 'cinema' is not set")
            save_config(path, new)
            svc.config = new
            return new

        def done(new: KioskConfig) -> None:
            old = self.cfg
            self.cfg = new
            self._apply_config(old, new)
            if then is not None:
                then()

        def failed(exc: BaseException) -> None:
            msg = exc.message if isinstance(exc, KioskError) else str(exc)
            if self.manager is not None:
                self.manager.s_result.setText(self.tr("Not saved: {0}").format(msg))

        self.bridge.submit(job, done, failed)

    def _apply_config(self, old: KioskConfig | None, new: KioskConfig) -> None:
        self.sounds.enabled = new.sound
        if old is not None and old.language != new.language:
            i18n.set_language(new.language)
            on_manager = self.stack.currentWidget() is self.manager
            self._build_pages()
            if on_manager and self.manager is not None:
                self._enter_manager()
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

    def save_settings(self, values: dict[str, Any]) -> None:
        def saved() -> None:
            if self.manager is not None:
                self.manager.s_result.setText(self.tr("Settings saved."))

        self._save_changes(values, then=saved)

    def change_pin(self, new: str, again: str) -> None:
        if self.manager is None:
            return
        try:
            validate_pin(new)
        except PinError:
            self.manager.p_result.setText(self._pin_rule())
            return
        if new != again:
            self.manager.p_result.setText(self.tr("The two PINs differ."))
            return

        def changed() -> None:
            if self.manager is not None:
                self.manager.p_new.clear()
                self.manager.p_again.clear()
                self.manager.p_result.setText(self.tr("PIN changed."))

        self._save_changes({"pin_hash": hash_pin(new)}, then=changed)

    def sync_now(self) -> None:
        if self.syncer is not None:
            self.syncer.notify()
            if self.manager is not None:
                self.manager.show_sync_state(self.tr("Sync started..."))

    def quit_program(self) -> None:
        self._allow_close = True
        self.close()

    # --- status -----------------------------------------------------------------

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setObjectName("statusBar")
        self.st: dict[str, QLabel] = {}
        for key in (
            "online",
            "pending",
            "last_sync",
            "revocations",
            "clock",
            "camera",
            "counter",
            "staff",
        ):
            lab = QLabel(self)
            lab.setObjectName(f"st_{key}")
            lab.setContentsMargins(8, 2, 8, 2)
            self.st[key] = lab
            bar.addPermanentWidget(lab, 1 if key == "staff" else 0)

    def _retranslate_status(self) -> None:
        self._paint_status()

    def refresh_status(self) -> None:
        if self.bridge is None or not self.service_ready or self._status_inflight:
            return  # one status read at a time: a slow disk must not pile them up
        self._status_inflight = True
        syncer = self.syncer

        def job(svc: Any) -> dict[str, Any]:
            st: dict[str, Any] = dict(svc.status())
            if syncer is not None:
                st["sync"] = syncer.status()
            return st

        def done(st: dict[str, Any]) -> None:
            self._status_inflight = False
            self.status = st
            self._paint_status()

        def failed(exc: BaseException) -> None:
            self._status_inflight = False
            log.warning("status read failed: %s", type(exc).__name__)

        self.bridge.submit(job, done, failed)

    def _set(self, key: str, text: str, warn: bool = False) -> None:
        lab = self.st[key]
        lab.setText(text)
        lab.setStyleSheet(
            "background: #c62828; color: white; font-weight: bold; border-radius: 4px;"
            if warn
            else ""
        )

    def _paint_status(self) -> None:
        st, cfg = self.status, self.cfg
        if cfg is None:
            return
        sync = st.get("sync") or {}
        if cfg.standalone:
            self._set("online", self.tr("Standalone"))
        elif st.get("device_revoked") or sync.get("device_revoked"):
            self._set("online", self.tr("Counter revoked by the server"), True)
        else:
            online = sync.get("online", st.get("online"))
            self._set("online", self.tr("Online") if online else self.tr("Offline"), not online)
        self._set("pending", self.tr("Unsynced: {0}").format(st.get("pending", 0)))
        last = st.get("last_sync")
        self._set(
            "last_sync",
            self.tr("Last sync: {0}").format(when_text(last) if last else self.tr("never")),
        )
        age = st.get("revocation_age_s")
        if cfg.standalone:
            self._set("revocations", self.tr("Revocation list: local"))
        elif age is None:
            self._set("revocations", self.tr("Revocation list: never updated"), True)
        else:
            if age < 3600:
                text = self.tr("Revocation list: {0} min old").format(int(age // 60))
            else:
                text = self.tr("Revocation list: {0:.1f} h old").format(age / 3600)
            self._set("revocations", text, bool(st.get("revocations_stale")))
        clock_ok = st.get("clock_ok", True)
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
        }.get(self.camera_state, self.camera_state)
        self._set("camera", cam, self.camera_state in ("lost", "reconnecting", "ended"))
        self._set("counter", self.tr("Counter: {0}").format(cfg.counter or cfg.cinema))
        staff = self.scan.current_staff() if self.scan is not None else ""
        self._set("staff", self.tr("Staff: {0}").format(staff or self.tr("nobody signed in")))
        if self.stack.currentWidget() is self.manager:
            self._paint_sync_state()

    def _paint_sync_state(self) -> None:
        if self.manager is None or self.cfg is None:
            return
        sync = self.status.get("sync") or {}
        if self.cfg.standalone:
            self.manager.show_sync_state(self.tr("No server: export the tally to settle."))
            return
        err = sync.get("last_error")
        text = self.tr("Online") if sync.get("online") else self.tr("Offline")
        text += "  ·  " + self.tr("Unsynced: {0}").format(self.status.get("pending", 0))
        if err:
            text += "\n" + self.tr("Last error: {0}").format(err)
        self.manager.show_sync_state(text)

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
        if self.syncer is not None:
            self.syncer.stop()
            self.syncer = None
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


def _on_day(conflict: dict[str, Any], day: dt.date) -> bool:
    at = (conflict.get("local") or {}).get("at")
    if not isinstance(at, int):
        return True
    return dt.datetime.fromtimestamp(at / 1000).date() == day
