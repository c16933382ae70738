"""Soak: the real counter window for M minutes under Xvfb, watched for leaks.

A counter PC runs for months; a leak of 1 MB an hour is 700 MB by the
quarter's end. This runs what a counter runs, for as long as asked, and
watches the process the way an operator's ``top`` would:

* a real ``cinepass-server`` process on a SQLite file on a loopback port;
* a kiosk enrolled with it (``kiosk.enrollment.enroll``, the wizard's path),
  syncing every 2 s (its ``sync_interval``);
* the real window (``kiosk.ui.app.create_window``) on a virtual X display
  (``xvfb-run``, as ``scripts/screenshots.py``), its camera a 1280x720 30 fps
  MJPG video played in a loop (``loop_video``), a voucher's QR every 2 s:
  fresh, used, forged and frozen ones, plus a fresh voucher every 10 s
  through the scanner path (the looping file cannot show new ones forever);
* the office meanwhile freezes one voucher and issues five every 30 s, so
  every sync also pulls feed deltas.

Every few seconds it samples the process's RSS, OS threads, Python threads
and open descriptors; every window (60 s) it prints one line with those, the
camera verdicts' latency p50/p95 (frame captured -> verdict painted) and the
verdicts and sync cycles; at the end the goal checks of issue 16 after a
warm-up (RSS slope < 10 MB/h, no thread died, fds flat, p95 flat), each
defined in docs/soak.md.

Run: ``.venv/bin/python bench/soak.py --minutes 60`` (exit 1 when a goal is
missed). ``--smoke`` (CI) runs 2 minutes with a 30 s warm-up: too short to
judge growth, it fails only when verdicts or sync cycles are missing, a
thread died or an error was logged. Without ``xvfb-run`` it falls back to
Qt's offscreen platform and says so. Details: docs/soak.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

FPS = 30
SLOT_FRAMES = 2 * FPS  # one code every 2 s
MAX_SLOTS = 150  # a 5-minute loop: ~200 MB of MJPG, written in about a minute
SCANNER_EVERY_S = 10.0
OFFICE_EVERY_S = 30.0
RSS_GOAL_MB_H = 10.0
FD_SLACK = 2


def _reexec_under_xvfb(argv: list[str]) -> int | None:
    """Run this script again inside ``xvfb-run`` (None: already inside, or no Xvfb)."""
    if os.environ.get("CINEPASS_SOAK_INNER") == "1":
        return None
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        print("xvfb-run not found: running on Qt's offscreen platform instead", flush=True)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return None
    env = dict(os.environ, CINEPASS_SOAK_INNER="1", QT_QPA_PLATFORM="xcb")
    cmd = [xvfb, "-a", "-s", "-screen 0 1280x800x24", sys.executable, __file__, *argv]
    return subprocess.call(cmd, env=env)


# -- sampling ------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, in value per hour."""
    if len(points) < 2:
        return float("nan")
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return float("nan")
    return sum((t - mt) * (v - mv) for t, v in points) / den * 3600


@dataclass
class Sample:
    t: float
    rss: float
    threads: int
    fds: int
    names: frozenset[str]


@dataclass
class Window:
    start: float
    latencies: list[float] = field(default_factory=list)
    verdicts: Counter[str] = field(default_factory=Counter)
    scanner: int = 0
    cycles: int = 0
    max_fds: int = 0
    closed: bool = False


class ErrorLog(logging.Handler):
    """Counts ERROR records (any logger) and keeps the first few to show."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < 10:
            self.first.append(f"{record.name}: {record.getMessage()}")


# -- the world: server, office, counter, video ------------------------------------------


def start_server(db: str, port: int) -> subprocess.Popen[bytes]:
    """``cinepass-server`` as its own process: its memory is not the counter's."""
    import requests
    from waitfor import wait_for

    cmd = [sys.executable, "-m", "sync.server.main", "--db", db, "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"], cwd=ROOT)

    def up() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_for(up, 60, 0.1)
    except AssertionError:
        proc.kill()
        raise SystemExit("server did not start") from None
    return proc


def slot_texts(central: Any, slots: int) -> list[str]:
    """The code shown in each 2-s slot of the video (see the module docstring)."""
    from helpers_qr import tamper_signature

    fresh = central.issue(slots)
    frozen = [t for i, t in enumerate(fresh) if i % 10 == 5]
    freeze_tokens(central, frozen)
    out: list[str] = []
    for i, t in enumerate(fresh):
        if i % 10 == 0:
            out.append(tamper_signature(t))
        elif i % 7 == 3 and i >= 3:
            out.append(out[i - 3])  # seen 6 s ago (past the 3-s hold-off): already used
        else:
            out.append(t)
    return out


def freeze_tokens(central: Any, tokens: list[str]) -> None:
    from sync.office.vouchers import find_voucher, freeze

    with central.session() as s:
        for t in tokens:
            freeze(s, find_voucher(s, t), "lost")


def write_camera(path: Path, texts: list[str]) -> Path:
    from helpers_qr import camera_frame, write_video

    empty = camera_frame(None)
    frames: list[Any] = []
    for t in texts:
        code = camera_frame(t, size=300)
        frames += [empty] * (FPS // 2) + [code] * FPS + [empty] * (SLOT_FRAMES - FPS - FPS // 2)
    return write_video(path, frames, fps=FPS)


class Office(threading.Thread):
    """The union's office during the soak: freezes one voucher, issues five, every 30 s."""

    def __init__(self, central: Any, scanner: queue.Queue[str], every: float) -> None:
        super().__init__(name="soak-office", daemon=True)
        self.central, self.scanner, self.every = central, scanner, every
        self.stop_event = threading.Event()
        self.frozen = self.issued = 0
        self.error: str | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.wait(self.every):
                new = self.central.issue(6)
                freeze_tokens(self.central, new[:1])
                for t in new[1:]:
                    self.scanner.put(t)
                self.frozen += 1
                self.issued += 5
        except Exception as exc:  # noqa: BLE001 - reported in the summary
            self.error = f"{type(exc).__name__}: {exc}"


# -- the run -------------------------------------------------------------------------------


@dataclass
class Plan:
    minutes: float
    warmup_s: float
    window_s: float
    sample_s: float
    smoke: bool


def run(plan: Plan) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from syncsupport import Central, setup_central

    from kiosk.config import load_config, save_config
    from kiosk.enrollment import enroll
    from kiosk.paths import KioskPaths
    from kiosk.ui.app import create_window, ensure_app
    from kiosk.ui.main_window import MainWindow
    from sync.server.db import migrate
    from sync.server.embedded import free_port
    from sync.voucher import PrivateKey

    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    uncaught: list[str] = []
    threading.excepthook = lambda a: uncaught.append(
        f"{a.thread.name if a.thread else '?'}: {a.exc_type.__name__}: {a.exc_value}"
    )

    tmp = Path(tempfile.mkdtemp(prefix="cinepass-soak-"))
    key = PrivateKey.generate()
    db = f"sqlite:///{tmp / 'central.sqlite3'}"
    engine = migrate(db)
    setup_central(engine, key, tmp / "keys")
    central = Central(engine, None, key, db, tmp / "keys", db)
    # a loop at most half the run (the smoke sees it wrap), at most MAX_SLOTS codes
    slots = max(10, min(MAX_SLOTS, int(plan.minutes * 15)))
    t0 = time.monotonic()
    texts = slot_texts(central, slots)
    scanner: queue.Queue[str] = queue.Queue()
    for t in central.issue(int(plan.minutes * 60 / SCANNER_EVERY_S) + 2):
        scanner.put(t)
    video = write_camera(tmp / "camera.avi", texts)
    print(
        f"camera: {video.stat().st_size / 1e6:.0f} MB, {slots} codes, a {slots * 2 / 60:.1f}-min"
        f" loop at {FPS} fps (written in {time.monotonic() - t0:.0f} s);"
        f" platform {os.environ.get('QT_QPA_PLATFORM')}",
        flush=True,
    )
    port = free_port()
    proc = start_server(db, port)
    home = tmp / "counter"
    enroll(home, f"http://127.0.0.1:{port}", central.code("CIN-A"))
    paths = KioskPaths(home)
    cfg = load_config(paths.config)
    cfg.sync_interval = 2.0
    save_config(paths.config, cfg)

    app = ensure_app()
    assert isinstance(app, QApplication)
    w = create_window(home, camera=str(video), staff="王芳", loop_video=True)
    assert isinstance(w, MainWindow)
    w.move(0, 0)
    w.resize(1280, 800)
    w.show()
    end = time.monotonic() + 30
    while not w.service_ready and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)  # nothing to block on: the event loop is not running yet
    if not w.service_ready:
        raise SystemExit("the window's engine did not open")

    office = Office(central, scanner, OFFICE_EVERY_S if not plan.smoke else 10.0)
    started = time.monotonic()
    samples: list[Sample] = []
    windows: list[Window] = [Window(0.0)]
    totals: Counter[str] = Counter()
    cycles = [0]
    listening = [False]
    baseline: dict[str, frozenset[str]] = {}
    vanished: set[str] = set()

    def now() -> float:
        return time.monotonic() - started

    def on_verdict(v: Any) -> None:
        win = windows[-1]
        totals[v.reason] += 1
        win.verdicts[v.reason] += 1
        tm = w.last_timing
        if tm.get("captured_at") == tm.get("mono"):
            win.scanner += 1  # typed or scanned: no camera frame to time from
        else:
            win.latencies.append((tm["painted_mono"] - tm["captured_at"]) * 1000)

    def on_cycle(_status: Any) -> None:  # the syncer's thread: an int add is enough
        cycles[0] += 1

    w.verdict_shown.connect(on_verdict)

    def print_window(win: Window, s: Sample) -> None:
        reasons = " ".join(f"{k}={n}" for k, n in sorted(win.verdicts.items()))
        print(
            f"{s.t / 60:6.1f} min  rss {s.rss:7.1f} MB  threads {s.threads:3d}  fds {s.fds:4d}"
            f"  camera p50 {pct(win.latencies, 0.5):6.1f} p95 {pct(win.latencies, 0.95):6.1f} ms"
            f" (n={len(win.latencies)}, scanner {win.scanner})  sync cycles {win.cycles:3d}"
            f"  {reasons}",
            flush=True,
        )

    def sample() -> None:
        if not listening[0] and w.syncer is not None:
            w.syncer.add_listener(on_cycle)
            listening[0] = True
        t = now()
        names = frozenset(th.name for th in threading.enumerate())
        s = Sample(t, rss_mb(), os_threads(), open_fds(), names)
        samples.append(s)
        win = windows[-1]
        win.max_fds = max(win.max_fds, s.fds)
        if t >= plan.warmup_s:
            if not baseline:
                baseline["names"] = names
            vanished.update(baseline["names"] - names)
        if t - win.start >= plan.window_s:
            win.cycles, cycles[0], win.closed = cycles[0], 0, True
            print_window(win, s)
            windows.append(Window(t))

    def scan_one() -> None:
        try:
            w.submit_scan(scanner.get_nowait(), "scanner")
        except queue.Empty:
            pass

    sampler, scan_timer = QTimer(), QTimer()
    sampler.timeout.connect(sample)
    scan_timer.timeout.connect(scan_one)
    sampler.start(int(plan.sample_s * 1000))
    scan_timer.start(int(SCANNER_EVERY_S * 1000))

    def finish() -> None:  # stop watching before anything stops: no sample of the shutdown
        sampler.stop()
        scan_timer.stop()
        app.quit()

    QTimer.singleShot(int(plan.minutes * 60 * 1000), finish)
    office.start()
    print(
        f"soak: {plan.minutes:g} min, warm-up {plan.warmup_s:.0f} s, windows of"
        f" {plan.window_s:.0f} s, a sample every {plan.sample_s:g} s",
        flush=True,
    )
    app.exec()
    windows[-1].cycles = cycles[0]  # the unfinished window: counted, not compared
    office.stop_event.set()
    crashed = bool(w.syncer is not None and w.syncer.crashed)
    server_alive = proc.poll() is None
    w.shutdown()
    w.close()
    proc.terminate()
    proc.wait(timeout=30)
    office.join(timeout=30)
    engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)  # the camera video alone is up to ~360 MB
    return summary(
        plan, samples, windows, totals, vanished, errors, uncaught, crashed, server_alive, office
    )


def summary(
    plan: Plan,
    samples: list[Sample],
    windows: list[Window],
    totals: Counter[str],
    vanished: set[str],
    errors: ErrorLog,
    uncaught: list[str],
    crashed: bool,
    server_alive: bool,
    office: Office,
) -> int:
    closed = [win for win in windows if win.closed and win.start >= plan.warmup_s]
    span = max(1, min(5, len(closed) // 2))  # windows compared at each end (5 min in a long run)
    first, last = closed[:span], closed[-span:]
    warm = [s for s in samples if s.t >= plan.warmup_s]
    slope = slope_per_hour([(s.t, s.rss) for s in warm])
    fd_slope = slope_per_hour([(s.t, float(s.fds)) for s in warm])
    all_cycles = sum(win.cycles for win in windows)
    print("\n== summary", flush=True)
    print(f"verdicts: {dict(sorted(totals.items()))}")
    print(
        f"sync cycles: {all_cycles}; office: {office.frozen} frozen,"
        f" {office.issued} issued{'; office error: ' + office.error if office.error else ''}"
    )
    if warm:
        print(
            f"after warm-up: rss {warm[0].rss:.1f} -> {warm[-1].rss:.1f} MB (max"
            f" {max(s.rss for s in warm):.1f}), slope {slope:+.2f} MB/h; threads"
            f" {warm[0].threads} -> {warm[-1].threads}; fds {warm[0].fds} -> {warm[-1].fds}"
            f" (slope {fd_slope:+.1f}/h)"
        )
    checks: list[tuple[str, bool, str]] = []
    checks.append(
        ("RSS grows < 10 MB/hour after warm-up", slope < RSS_GOAL_MB_H, f"{slope:+.2f} MB/h")
    )
    died = sorted(vanished)
    detail = (
        f"vanished {died or 'none'}; sync engine crashed {crashed}; server alive {server_alive};"
        f" ERROR records {errors.count}; uncaught {len(uncaught)}"
    )
    no_death = not died and not crashed and server_alive and not errors.count and not uncaught
    checks.append(("no thread died", no_death, detail))
    if closed:
        fd_first, fd_last = max(w.max_fds for w in first), max(w.max_fds for w in last)
        fd_ok = fd_last <= fd_first + FD_SLACK
        checks.append(("no descriptor leak (fds flat)", fd_ok, f"max {fd_first} -> {fd_last}"))
        p_first = pct([x for w in first for x in w.latencies], 0.95)
        p_last = pct([x for w in last for x in w.latencies], 0.95)
        flat = p_last <= max(1.5 * p_first, p_first + 20.0)
        what = f"{p_first:.1f} -> {p_last:.1f} ms (first {span} window(s) vs last {span})"
        checks.append(("p95 verdict latency flat", flat, what))
    else:
        checks.append(("windows after warm-up", False, "none with camera verdicts"))
    for text in errors.first + uncaught:
        print(f"  error: {text}")
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'MISS'}  {name}: {detail}")
    camera = sum(len(win.latencies) for win in windows)
    working = camera > 0 and all_cycles > 0 and no_death and office.error is None
    if plan.smoke:
        print("(smoke: too short to judge growth; fails only when something stopped working)")
        return 0 if working else 1
    return 0 if working and all(ok for _, ok, _ in checks) else 1


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument(
        "--warmup", type=float, default=None, help="seconds (default 5 min, smoke 30 s)"
    )
    ap.add_argument("--window", type=float, default=None, help="seconds (default 60, smoke 15)")
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--smoke", action="store_true", help="2 minutes: what CI runs")
    args = ap.parse_args(args_in)
    rc = _reexec_under_xvfb(args_in)
    if rc is not None:
        return rc
    minutes = 2.0 if args.smoke else args.minutes
    warmup = (
        args.warmup
        if args.warmup is not None
        else (30.0 if args.smoke else min(300.0, minutes * 12))
    )
    window = args.window if args.window is not None else (15.0 if args.smoke else 60.0)
    sample = min(args.sample, 2.0) if args.smoke else args.sample
    return run(Plan(minutes, warmup, window, sample, args.smoke))


if __name__ == "__main__":
    sys.exit(main())
