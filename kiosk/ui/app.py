"""Entry point of the scan window: ``cinepass-kiosk`` without a subcommand.

:func:`run_window_for` is the one way to open the window (the CLI's start in
:mod:`kiosk.ui.startup_window` and the demo call it); :func:`create_window`
builds it inside an existing QApplication for tests, the bench and the
screenshot script. Nothing here imports :mod:`kiosk.demo`: the CLI chooses
between the demo and a counter, and the demo calls this module, never the
other way round.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .options import WindowOptions

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)


def ensure_app() -> object:
    """The QApplication (created once, with the bundled font and organisation names)."""
    from PySide6.QtWidgets import QApplication

    from . import i18n

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("CinePass")
        app.setOrganizationName("CinePass")
    assert isinstance(app, QApplication)
    if not getattr(app, "_cinepass_font", False):
        from PySide6.QtGui import QIcon

        from .assets import icon_path

        i18n.load_font(app)
        app.setWindowIcon(QIcon(str(icon_path())))
        app._cinepass_font = True  # type: ignore[attr-defined]
    return app


def create_window(
    home: Path,
    *,
    camera: str | None = None,
    staff: str | None = None,
    fullscreen: bool = False,
    decoder: str | None = None,
    loop_video: bool = False,
) -> object:
    """Build (not show) the main window for ``home`` in the running QApplication."""
    options = WindowOptions(camera, staff, fullscreen, decoder, loop_video)
    return window_for(home, options)


def window_for(home: Path, options: WindowOptions) -> object:
    """:func:`create_window` with the options as one value (the CLI, the demo)."""
    ensure_app()
    from .main_window import MainWindow

    return MainWindow(Path(home), options)


def run_window_for(
    home: Path,
    options: WindowOptions | None = None,
    *,
    on_window: Callable[[MainWindow], None] | None = None,
) -> int:
    """Open the counter window for ``home`` and run until it closes; returns the exit code.

    ``options.camera`` overrides the configured camera (an index, a video or
    an image; the demo passes its video with ``loop_video=True``). A data
    folder that is not set up yet opens the set-up wizard. ``on_window`` is
    called with the built window before the event loop starts (the start-up
    sequence attaches its servers and timers to it there).
    """
    from PySide6.QtWidgets import QApplication

    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    app = ensure_app()
    assert isinstance(app, QApplication)
    window = window_for(home, options or WindowOptions())
    from .main_window import MainWindow

    assert isinstance(window, MainWindow)
    if on_window is not None:
        try:
            on_window(window)
        except BaseException:
            window.shutdown()  # its threads are running: join them before the error goes up
            raise
    if not window.isFullScreen():
        window.show()
    # Ctrl+C in the terminal closes the window properly (threads joined) instead of hanging
    signal.signal(signal.SIGINT, lambda *_: window.quit_program())
    from PySide6.QtCore import QTimer

    tick = QTimer(window)  # lets Python run its signal handlers while Qt's loop waits
    tick.start(250)
    tick.timeout.connect(lambda: None)
    code = app.exec()
    window.shutdown()
    return int(code)
