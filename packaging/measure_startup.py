"""Measure the built app's start time to the scan window: ``python packaging/measure_startup.py``.

Starts a private Xvfb display, sets up a throw-away standalone kiosk with the
built executable itself (``init`` with the self-test's demo key, the camera
pointed at the self-test QR image), then starts the window N times and
times each run from ``exec`` until the X server reports the "CinePass"
window mapped (``xwininfo``), which is when the clerk sees the scan screen.
With ``--drop-caches`` (root) the page cache is emptied before each run, for
a truly cold start as after a reboot.

Why X and not offscreen: offscreen has no window manager to ask; polling the
X server measures what a person sees, without adding a hook to the app.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

from build import executable_path  # noqa: E402


def _window_mapped(display: str) -> bool:
    out = subprocess.run(
        ["xwininfo", "-root", "-tree"],
        env={"DISPLAY": display, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    ).stdout
    return '"CinePass"' in out


def _drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def measure(exe: Path, runs: int, drop: bool) -> list[float]:
    display = f":{90 + os.getpid() % 9}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
    times: list[float] = []
    try:
        time.sleep(0.5)
        with tempfile.TemporaryDirectory(prefix="cinepass-start-") as tmp:
            home = Path(tmp) / "home"
            env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp, "DISPLAY": display}
            assets = ROOT / "resources" / "selftest"
            subprocess.run(
                [str(exe), "--home", str(home), "init", "--cinema", "BENCH",
                 "--issuer-key", str(assets / "demo-issuer.pem")],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
            for _ in range(runs):
                if drop and not _drop_caches():
                    print("cannot drop caches (not root?): warm-cache start", file=sys.stderr)
                    drop = False
                started = time.monotonic()
                proc = subprocess.Popen(
                    [str(exe), "--home", str(home), "--camera", str(assets / "voucher.png")],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                try:
                    while not _window_mapped(display):
                        if proc.poll() is not None:
                            raise SystemExit(
                                f"the app exited with {proc.returncode} before its window"
                            )
                        if time.monotonic() - started > 30:
                            raise SystemExit("no window after 30 s")
                        time.sleep(0.01)
                    times.append(time.monotonic() - started)
                finally:
                    proc.terminate()
                    proc.wait(10)
    finally:
        xvfb.terminate()
        xvfb.wait(10)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exe", type=Path, default=executable_path(ROOT / "dist"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--drop-caches", action="store_true")
    args = parser.parse_args()
    if shutil.which("Xvfb") is None or shutil.which("xwininfo") is None:
        print("needs Xvfb and xwininfo (scripts/system-deps.sh)", file=sys.stderr)
        return 3
    times = measure(args.exe, args.runs, args.drop_caches)
    print(
        f"start to scan window: first {times[0]:.2f} s, median {statistics.median(times):.2f} s, "
        f"max {max(times):.2f} s over {len(times)} runs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
