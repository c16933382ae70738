"""The crash and start-up error boxes: the Qt half of :mod:`kiosk.ops.crash`.

:mod:`kiosk.ops` stays free of Qt (the CLI commands use it without a
display), so the window hands :func:`qt_dialog` to
:func:`kiosk.ops.crash.install` and :func:`kiosk.ops.startup.prepare`.
"""

from __future__ import annotations

import logging
import sys

# The crash handler's logger: one name in the log for both halves.
log = logging.getLogger("kiosk.crash")


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
            from .app import ensure_app

            ensure_app()
        qt_dialog(title, text)
    except Exception:  # noqa: BLE001 - no display: the message still goes to stderr and the log
        log.exception("could not show the error dialog")
