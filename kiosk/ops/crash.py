"""Crash handling: the traceback goes to the log and the clerk sees a dialog, not a vanished window.

A Qt app whose slot raises prints the traceback on a console nobody reads
(the shortcut starts it without one) and carries on in an unknown state, or
the process ends and the counter is dark. :func:`install` routes uncaught
exceptions of the main thread (``sys.excepthook``) and of worker threads
(``threading.excepthook``) to the log at CRITICAL, with the redaction of
:mod:`kiosk.ops.logs` applied by the file handler. A main-thread crash also
calls the ``dialog`` it was given, which tells the clerk what happened and
where the log is; worker threads only log (a dialog from a worker thread
would itself crash Qt), and :mod:`kiosk.ops.watchdog` restarts them.

No Qt here: ops run in the CLI too, where no window exists. The window
passes its ``qt_dialog`` (``ui/crash_dialog.py``, which knows when a
``QApplication`` runs); everything else passes nothing and only logs.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger("kiosk.crash")

#: Shows (title, body) to the clerk; called on the thread that crashed (the main one).
Dialog = Callable[[str, str], None]

_installed: dict[str, object] = {}


def crash_text(log_path: str | None) -> tuple[str, str]:
    """Title and body of the dialog, in Chinese then English (the clerk's languages)."""
    where = f"\n\n日志 / log: {log_path}" if log_path else ""
    return (
        "CinePass 出错 / CinePass error",
        "程序遇到意外错误，已记录到日志。请重新启动；如反复出现，请联系技术支持。\n"
        "An unexpected error happened and was written to the log. Restart CinePass; "
        "if it happens again, call support." + where,
    )


def install(*, log_path: str | None = None, dialog: Dialog | None = None) -> None:
    """Install the handlers (idempotent). Without a ``dialog`` it logs only (CLI, tests)."""

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
