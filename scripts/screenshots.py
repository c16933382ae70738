"""Take the README's screenshots of the real window under Xvfb.

Builds a throw-away standalone kiosk with real signed vouchers, opens the
real window on a virtual X display (``xvfb-run``; no window manager, so the
window is exactly the screen), drives it like a clerk and saves
``docs/screenshots/``: scan-accepted, scan-already-used, scan-rejected,
manager, wizard (1280x800) and scan-1024x768. Each shot is taken with
ImageMagick's ``import -window root`` (what X really shows); without it,
``QWidget.grab()``.

    .venv/bin/python scripts/screenshots.py [--out DIR]

``--out`` writes the shots elsewhere (to compare a change with the README's
without touching them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
W, H = 1280, 800


def _reexec_under_xvfb() -> int:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        print("xvfb-run not found: apt-get install xvfb xauth", file=sys.stderr)
        return 3
    env = dict(os.environ, CINEPASS_SHOTS_INNER="1", QT_QPA_PLATFORM="xcb")
    cmd = [xvfb, "-a", "-s", f"-screen 0 {W}x{H}x24", sys.executable, __file__, *sys.argv[1:]]
    return subprocess.call(cmd, env=env)


def main() -> int:
    global OUT
    if os.environ.get("CINEPASS_SHOTS_INNER") != "1":
        return _reexec_under_xvfb()
    if "--out" in sys.argv:
        OUT = Path(sys.argv[sys.argv.index("--out") + 1]).resolve()
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    from helpers_qr import camera_frame, write_video
    from PySide6.QtWidgets import QApplication
    from ui_helpers import make_home

    from kiosk.ui.app import create_window, ensure_app
    from kiosk.ui.main_window import MainWindow
    from sync.voucher import PrivateKey

    tmp = Path(tempfile.mkdtemp(prefix="cinepass-shots-"))
    kiosk = make_home(tmp, PrivateKey.generate())
    frames = [camera_frame(None)] * 10 + [camera_frame(kiosk.text("valid"), size=320)] * 200
    video = write_video(tmp / "camera.avi", frames, fps=25)
    app = ensure_app()
    assert isinstance(app, QApplication)
    OUT.mkdir(parents=True, exist_ok=True)
    use_import = shutil.which("import") is not None

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def wait(cond: object, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:  # type: ignore[operator]
            pump(0.02)
        if not cond():  # type: ignore[operator]
            raise SystemExit("screenshot step timed out")

    def shot(window: MainWindow, name: str) -> None:
        pump(0.4)
        path = OUT / name
        if use_import and window.width() == W:
            subprocess.run(["import", "-window", "root", str(path)], check=True)
        else:
            window.grab().save(str(path))
        print("wrote", path)

    w = create_window(kiosk.home, camera=str(video), staff="王芳", loop_video=True)
    assert isinstance(w, MainWindow)
    w.move(0, 0)
    w.resize(W, H)
    w.show()
    shown: list[object] = []
    w.verdict_shown.connect(shown.append)
    wait(lambda: len(shown) >= 1)
    shot(w, "scan-accepted.png")
    w.submit_scan(kiosk.text("valid"), "scanner")
    wait(lambda: len(shown) >= 2)
    shot(w, "scan-already-used.png")
    w.submit_scan(kiosk.text("expired"), "scanner")
    wait(lambda: len(shown) >= 3)
    shot(w, "scan-rejected.png")
    w.scan.set_format("3D")
    w.submit_scan(kiosk.text("valid2"), "scanner")
    wait(lambda: len(shown) >= 4)
    w.resize(1024, 768)
    pump(0.5)
    w.grab().save(str(OUT / "scan-1024x768.png"))
    print("wrote", OUT / "scan-1024x768.png")
    w.resize(W, H)
    w.open_manager()
    w.pin.pin.setText("2468")
    w.pin.confirm.setText("2468")
    w.pin.ok.click()
    wait(lambda: w.stack.currentWidget() is w.manager)
    pump(1.0)
    shot(w, "manager.png")
    w.quit_program()
    w.shutdown()
    w.deleteLater()
    pump(0.3)

    wiz = create_window(tmp / "new-counter", camera="")
    assert isinstance(wiz, MainWindow)
    wiz.move(0, 0)
    wiz.resize(W, H)
    wiz.show()
    pump(0.5)
    shot(wiz, "wizard.png")
    wiz.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
