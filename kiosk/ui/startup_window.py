"""``cinepass-kiosk`` (no subcommand): :func:`kiosk.ops.startup.prepare`, then the window.

This is the Qt half of the start-up sequence. :func:`prepare` runs first,
handed the crash dialog and the "come forward" signal of this package (ops
stays free of Qt); once the window is built, before its event loop runs,
:func:`attach` starts the local server a second start talks to and an hourly
backup check, and :func:`watch_window` restarts the camera pipeline or the
sync thread if one dies. Everything those start is kept on
:attr:`Startup.keep` and closed, with the lock released, when the window
closes.
"""

from __future__ import annotations

import argparse
from typing import Any

from PySide6.QtCore import QTimer

from kiosk.ops.startup import Startup, prepare
from kiosk.ops.upgrade import UpgradeFailed
from kiosk.ops.watchdog import Watchdog
from kiosk.paths import KioskPaths, resolve_home

from .app import run_window_for
from .crash_dialog import qt_dialog, qt_dialog_anyway
from .instance_server import InstanceServer, bring_to_front, signal_running_instance
from .options import WindowOptions
from .peers_link import start_peers

BACKUP_CHECK_MS = 60 * 60 * 1000
WATCHDOG_MS = 5000


def attach(window: Any, started: Startup) -> None:
    """Wire the second-start signal and the hourly backup check to ``window``."""
    server = InstanceServer(started.paths.home, lambda: bring_to_front(window))
    timer = QTimer(window)
    timer.setInterval(BACKUP_CHECK_MS)
    timer.timeout.connect(started.check_backup)
    timer.start()
    started.keep += [server, timer]


def _camera_alive(window: Any) -> bool:
    """Capture and decode threads run (or there is no camera pipeline to run)."""
    camera = getattr(window, "camera", None)
    pipe = getattr(camera, "pipeline", None)
    return bool(getattr(window, "_closed", False) or pipe is None or pipe.running)


def _sync_alive(window: Any) -> bool:
    engine = getattr(window, "syncer", None)
    return bool(getattr(window, "_closed", False) or engine is None or not engine.crashed)


def watch_window(window: Any, started: Startup) -> Watchdog:
    """Restart the window's camera pipeline and sync thread if they die (a QTimer drives it)."""
    dog = Watchdog()
    dog.watch("camera", lambda: _camera_alive(window), lambda: window.camera.pipeline.start())
    dog.watch("sync", lambda: _sync_alive(window), lambda: window.syncer.start())
    timer = QTimer(window)
    timer.setInterval(WATCHDOG_MS)
    timer.timeout.connect(dog.check)
    timer.start()
    started.keep.append(timer)
    return dog


def run_window_with_startup(args: argparse.Namespace) -> int:
    """The window's start as :mod:`kiosk.cli` runs it: :func:`prepare`, then the window.

    Another instance came forward: exit 0. A failed upgrade: its message in
    a dialog and on stderr, exit 3 (the data was restored; scanning on a
    half-migrated store is never attempted). The demo (``--demo``) does not
    come here: it keeps its own throw-away folder.
    """
    paths = KioskPaths(resolve_home(getattr(args, "home", None)))
    try:
        started = prepare(paths, dialog=qt_dialog, signal=signal_running_instance)
    except UpgradeFailed as exc:
        qt_dialog_anyway("CinePass", exc.message)
        raise
    if started is None:
        return 0

    def wire(window: Any) -> None:
        attach(window, started)
        watch_window(window, started)
        window.ready.connect(lambda: start_peers(window, started.keep))  # docs/lan-peers.md

    try:
        return run_window_for(paths.home, WindowOptions.from_args(args), on_window=wire)
    finally:
        started.close()
