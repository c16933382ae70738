"""Crash handling: the traceback goes to the log and the clerk sees a dialog, not a vanished window.

A Qt app whose slot raises prints the traceback on a console nobody reads
(the shortcut starts it without one) and carries on in an unknown state, or
the process ends and the counter is dark. :func:`install` routes uncaught
exceptions of the main thread (``sys.excepthook``) and of worker threads
(``threading.excepthook``) to the log at CRITICAL, with the redaction of
:mod:`kiosk.ops.logs` applied by the file handler. On the GUI thread, when a
``QApplication`` exists, a dialog tells the clerk what happened and where
the log is; worker threads only log (a dialog from a worker thread would
itself crash Qt), and :mod:`kiosk.ops.watchdog` restarts them.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger("kiosk.crash")

Dialog = Callable[[str, str], None]

_installed: dict[str, object] = {}


def qt_dialog(title: str, text: str) -> None:
    """Show a modal error box if a QApplication runs (and we are on its thread)."""
    if "PySide6.QtWidgets" not in sys.modules:
        return  # no window was ever opened: nothing to show a dialog in
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return
    box = QMessageBox(QMessageBox.Icon.Critical, title, text)
    box.exec()


def qt_dialog_anyway(title: str, text: str) -> None:
    """An error box before any window exists (a failed upgrade at start)."""
    try:
        from PySide6.QtWidgets import QApplication

        if QApplication.instance() is None:
            from kiosk.ui.app import ensure_app

            ensure_app()
        qt_dialog(title, text)
    except Exception:  # noqa: BLE001 - no display: the message still goes to stderr and the log
        log.exception("could not show the error dialog")


def crash_text(log_path: str | None) -> tuple[str, str]:
    """Title and body of the dialog, in Chinese then English (the clerk's languages)."""
    where = f"\n\n日志 / log: {log_path}" if log_path else ""
    return (
        "CinePass 出错 / CinePass error",
        "程序遇到意外错误，已记录到日志。请重新启动；如反复出现，请联系技术支持。\n"
        "An unexpected error happened and was written to the log. Restart CinePass; "
        "if it happens again, call support." + where,
    )


def install(*, log_path: str | None = None, dialog: Dialog | None = qt_dialog) -> None:
    """Install the handlers (idempotent). ``dialog=None`` logs only (CLI, tests)."""

    def handle(
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.critical("uncaught exception", exc_info=(exc_type, exc, tb))
        if dialog is not None:
            try:
                dialog(*crash_text(log_path))
            except Exception:  # noqa: BLE001 - the crash handler must never crash
                log.exception("the crash dialog could not be shown")

    def thread_handle(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        exc = args.exc_value if args.exc_value is not None else args.exc_type()
        log.critical(
            "uncaught exception in thread %s",
            name,
            exc_info=(args.exc_type, exc, args.exc_traceback),
        )

    if "sys" not in _installed:
        _installed["sys"] = sys.excepthook
        _installed["threading"] = threading.excepthook
    sys.excepthook = handle
    threading.excepthook = thread_handle


def uninstall() -> None:
    """Put back the handlers that were there before :func:`install` (tests)."""
    if "sys" in _installed:
        sys.excepthook = _installed.pop("sys")  # type: ignore[assignment]
        threading.excepthook = _installed.pop("threading")  # type: ignore[assignment]


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
