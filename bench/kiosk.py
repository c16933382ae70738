"""Kiosk engine figures, each beside the bare library call on the same inputs, same run.

Run: ``.venv/bin/python bench/kiosk.py`` (``--quick`` for a smaller run,
``--smoke`` for a tiny one of a few seconds that CI runs so the bench never
rots: same sections and bare baselines, figures too small to judge goals by).
Prints:

* decode ms per 1280x720 frame (median, p95; frames with a code and empty
  ones): our ZxingDecoder vs bare ``zxingcpp.read_barcodes`` (same options,
  and library defaults), and pyzbar;
* verify+checks per second (decode, signature, revocation, earlier uses,
  window, cinema, format against a real store) vs bare Ed25519 verify;
* durable commit ms (median, p95) of a redemption vs a bare sqlite3 insert
  with the same WAL + synchronous=FULL settings;
* frame-to-verdict latency (frame pushed -> decoded -> redeemed, durable);
* revocation lookup with 1,000,000 entries vs a bare sqlite3 SELECT;
* decode rate on ``tests/data/qr-photos`` (ours vs bare).

Goals (issue 3): frame-to-verdict p95 <= 20 ms; our decode within 1.25x of
bare zxing-cpp; verify+checks >= 50% of bare verify; durable commit p95 <=
3 ms; revocation lookup <= 50 us; photo rate >= 166/179.
This is not a test: it prints figures (and PASS/MISS per goal).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import zxingcpp  # noqa: E402
from helpers_qr import camera_frame, photo_corpus, synthetic_set, voucher_token  # noqa: E402

from kiosk.engine.clock import Clock  # noqa: E402
from kiosk.engine.decode import PyzbarDecoder, ZxingDecoder  # noqa: E402
from kiosk.engine.facts import RevocationEntry  # noqa: E402
from kiosk.engine.pipeline import FrameInfo, ScanPipeline  # noqa: E402
from kiosk.engine.service import KioskService, init_standalone  # noqa: E402
from kiosk.engine.verify import verify  # noqa: E402
from sync.voucher import PrivateKey, decode_voucher  # noqa: E402

results: list[tuple[str, str, bool | None]] = []


def pct(xs: Sequence[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def goal(name: str, figure: str, ok: bool | None) -> None:
    results.append((name, figure, ok))
    mark = "" if ok is None else ("PASS" if ok else "MISS")
    print(f"  {mark:4} {name}: {figure}")


def row(label: str, ms: Sequence[float], extra: str = "") -> None:
    print(
        f"    {label:38} median {statistics.median(ms):7.2f} ms  p95 {pct(ms, 95):7.2f} ms {extra}"
    )


def bench_decode(token: str, reps: int, frames: int | None = None) -> None:
    print("\n== decode, 1280x720 frames ==")
    hits = synthetic_set(token)[:frames]
    empty = [camera_frame(None, seed=i, noise=4.0 * (i % 3)) for i in range(8)][: frames or 8]
    ours = ZxingDecoder()
    zb = PyzbarDecoder()
    same = {
        "formats": zxingcpp.BarcodeFormat.QRCode,
        "text_mode": zxingcpp.TextMode.Plain,
        "try_rotate": False,
        "try_downscale": False,
        "try_invert": True,
    }
    rates: dict[str, int] = {}
    calls: dict[str, Callable[[np.ndarray], list[str]]] = {
        "ours (ZxingDecoder)": ours.decode,
        "bare zxingcpp, same options": lambda f: [
            b.text for b in zxingcpp.read_barcodes(f, **same)
        ],
        "bare zxingcpp, same options, gray in": lambda f: [
            b.text for b in zxingcpp.read_barcodes(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), **same)
        ],
        "bare zxingcpp, defaults": lambda f: [b.text for b in zxingcpp.read_barcodes(f)],
        "pyzbar (PyzbarDecoder)": zb.decode,
    }
    # interleaved: every decoder on the same frame in turn, so load swings hit all alike
    # (the order rotates per frame: whoever goes first pays for a cold cache)
    figures: dict[str, dict[str, list[float]]] = {name: {"hit": [], "empty": []} for name in calls}
    hit_count = dict.fromkeys(calls, 0)
    order = list(calls.items())
    k = 0
    for _ in range(reps):
        for kind, frames in (("hit", [f for _l, f in hits]), ("empty", empty)):
            for f in frames:
                k += 1
                for name, fn in order[k % len(order) :] + order[: k % len(order)]:
                    t0 = time.perf_counter()
                    got = fn(f)
                    figures[name][kind].append((time.perf_counter() - t0) * 1000)
                    if kind == "hit":
                        hit_count[name] += token in got
    for name in calls:
        rates[name] = hit_count[name] // reps
        print(f"  {name}: decoded {rates[name]}/{len(hits)} synthetic frames")
        row("with a code", figures[name]["hit"])
        row("empty", figures[name]["empty"])
    tilted = [f for n, f in hits if n.startswith("tilt")]
    print(
        f"  tilted phone screens: zxing {sum(token in ours.decode(f) for f in tilted)}/{len(tilted)},"
        f" pyzbar {sum(token in zb.decode(f) for f in tilted)}/{len(tilted)}"
    )
    o = statistics.median(
        figures["ours (ZxingDecoder)"]["hit"] + figures["ours (ZxingDecoder)"]["empty"]
    )
    b = statistics.median(
        figures["bare zxingcpp, same options"]["hit"]
        + figures["bare zxingcpp, same options"]["empty"]
    )
    gray = figures["bare zxingcpp, same options, gray in"]
    g = statistics.median(gray["hit"] + gray["empty"])
    goal(
        "our decode vs bare zxing-cpp (same frames)",
        f"{o / b:.2f}x of bare on BGR, {o / g:.2f}x of bare on gray"
        f" ({o:.2f} vs {b:.2f} / {g:.2f} ms)",
        o <= 1.25 * min(b, g),
    )


def bench_photos(limit: int | None = None) -> None:
    print("\n== real photos (tests/data/qr-photos) ==")
    corpus = photo_corpus()
    imgs = [(cv2.imread(str(p)), want) for p, want in corpus[:limit]]
    ours = ZxingDecoder()
    zb = PyzbarDecoder()
    calls: dict[str, Callable[[np.ndarray], list[str]]] = {
        "ours (ZxingDecoder)": ours.decode,
        "bare zxingcpp, defaults": lambda f: [b.text for b in zxingcpp.read_barcodes(f)],
        "pyzbar (PyzbarDecoder)": zb.decode,
    }
    got: dict[str, int] = {}
    for name, fn in calls.items():
        ms: list[float] = []
        ok = 0
        for img, want in imgs:
            t0 = time.perf_counter()
            texts = fn(img)
            ms.append((time.perf_counter() - t0) * 1000)
            ok += want in texts
        got[name] = ok
        row(f"{name}: {ok}/{len(imgs)}", ms)
    n = len(imgs)
    goal(
        "photo rate (ours vs bare zxing-cpp)",
        f"{got['ours (ZxingDecoder)']}/{n} vs {got['bare zxingcpp, defaults']}/{n}",
        got["ours (ZxingDecoder)"] >= max(round(166 * n / 179), got["bare zxingcpp, defaults"]),
    )


def make_home(tmp: Path, key: PrivateKey) -> KioskService:
    home = tmp / f"home{time.monotonic_ns()}"
    init_standalone(home, cinema="SH01", issuer_keys=[key.public])
    return KioskService.open(home)


def bench_verify(tmp: Path, key: PrivateKey, n: int, revoked: int = 10_000) -> None:
    print("\n== verify + checks ==")
    svc = make_home(tmp, key)
    now = int(time.time())
    toks = [voucher_token(key, now=now - 60) for _ in range(min(200, n + 20))]
    # some state to look through: revocations and earlier redemptions
    svc.store.apply_revocations(
        [RevocationEntry(os.urandom(10), "freeze", "lost", 1) for _ in range(revoked)], "1"
    )
    for t in toks[:20]:
        svc.redeem(t, fmt="2D")
    st = svc.state()
    now_ms = Clock().now_ms()
    fresh = toks[20:]
    d = decode_voucher(fresh[0])
    msg, sig, pub = d.signed_bytes(), d.signature, key.public
    # interleaved rounds, best round per side (timeit's rule): this box is shared
    # and its load swings between a run of ours and a run of the bare call
    per = max(1, n // 10)
    best_ours = best_bare = float("inf")
    for _ in range(10):
        t0 = time.perf_counter()
        for i in range(per):
            v = verify(fresh[i % len(fresh)], st, fmt="2D", now_ms=now_ms)
        best_ours = min(best_ours, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(per):
            pub.verify(sig, msg)
        best_bare = min(best_bare, time.perf_counter() - t0)
    assert v.accepted
    ours, bare = per / best_ours, per / best_bare
    print(f"    ours: {ours:8.0f} verdicts/s   bare Ed25519 verify: {bare:8.0f} /s")
    goal("verify+checks vs bare Ed25519 verify", f"{100 * ours / bare:.0f}%", ours >= 0.5 * bare)
    svc.close()


def bench_commit(tmp: Path, key: PrivateKey, n: int) -> None:
    print("\n== durable commit (WAL, synchronous=FULL) ==")
    svc = make_home(tmp, key)
    now = int(time.time())
    toks = [voucher_token(key, now=now - 60) for _ in range(n)]
    commit_ms: list[float] = []
    redeem_ms: list[float] = []
    bare_ms: list[float] = []
    raw = sqlite3.connect(tmp / "bare.sqlite3", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute("CREATE TABLE IF NOT EXISTS r(id INTEGER PRIMARY KEY, token TEXT, sig BLOB)")
    # interleaved, one of ours then one bare, so both see the same disk and load
    for t in toks:
        cti = decode_voucher(t).voucher.cti
        t0 = time.perf_counter()
        with svc.store.transaction() as w:
            w.append_record(
                key=svc.device_key,
                kind="redeem",
                voucher=cti,
                token=t,
                cinema="SH01",
                fmt="2D",
                staff="bench",
                at_ms=svc.clock.now_ms(),
                device="",
            )
            w.log_attempt(
                at_ms=1, reason="accepted", short_code=None, fmt="2D", staff="", source="camera"
            )
        commit_ms.append((time.perf_counter() - t0) * 1000)  # chain + sign + insert + fsync
        t0 = time.perf_counter()
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("INSERT INTO r(token, sig) VALUES (?, ?)", (t, b"x" * 64))
        raw.execute("COMMIT")
        bare_ms.append((time.perf_counter() - t0) * 1000)
    raw.close()
    toks2 = [voucher_token(key, now=now - 60) for _ in range(n)]
    for t in toks2:
        t0 = time.perf_counter()
        v = svc.redeem(t, fmt="2D", staff="bench")
        redeem_ms.append((time.perf_counter() - t0) * 1000)
        assert v.accepted
    svc.close()
    row("ours: record + attempt, committed", commit_ms)
    row("ours: whole redeem (verify+sign+commit)", redeem_ms)
    row("bare sqlite3 insert + COMMIT", bare_ms)
    goal(
        "durable commit p95",
        f"{pct(commit_ms, 95):.2f} ms (bare sqlite3 p95 {pct(bare_ms, 95):.2f} ms on the"
        f" same disk; whole redeem p95 {pct(redeem_ms, 95):.2f} ms)",
        pct(commit_ms, 95) <= 3.0,
    )


def bench_frame_to_verdict(tmp: Path, key: PrivateKey, n: int) -> None:
    print("\n== frame to verdict (720p frame pushed -> decoded -> redeemed, durable) ==")
    svc = make_home(tmp, key)
    now = int(time.time())
    frames = [
        camera_frame(voucher_token(key, now=now - 60), size=260 + (i % 5) * 30) for i in range(n)
    ]
    lat: list[float] = []
    done = threading.Event()

    def on_texts(texts: list[str], info: FrameInfo) -> None:
        for t in texts:
            v = svc.redeem(t, fmt="2D", staff="bench", source="camera")
            lat.append((time.monotonic() - info.captured_at) * 1000)
            assert v.accepted, v.reason
        done.set()

    pipe = ScanPipeline(None, ZxingDecoder(), on_texts=on_texts, hold_off=3.0)
    pipe.start()
    for f in frames:
        done.clear()
        pipe.push(f)
        done.wait(2)
        time.sleep(1 / 30)  # a 30 fps camera
    pipe.stop()
    svc.close()
    row(f"frame -> accepted ({len(lat)}/{n})", lat)
    goal("frame-to-verdict p95", f"{pct(lat, 95):.2f} ms", pct(lat, 95) <= 20.0)


def bench_revocations(tmp: Path, key: PrivateKey, n: int) -> None:
    print(f"\n== revocation list of {n:,} ==")
    svc = make_home(tmp, key)
    ids = [os.urandom(10) for _ in range(n)]
    t0 = time.perf_counter()
    svc.store.replace_revocations([RevocationEntry(c, "freeze", "lost", 1) for c in ids], "1")
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    svc.store.apply_revocations(
        [RevocationEntry(os.urandom(10), "freeze", "stolen", 2) for _ in range(1000)], "2"
    )
    delta = time.perf_counter() - t0
    k = min(5000, n)
    probe = [ids[i * 7919 % n] for i in range(k)] + [os.urandom(10) for _ in range(k)]
    random.shuffle(probe)
    us = []
    raw = sqlite3.connect(svc.store.path)
    bare = []
    for c in probe:  # interleaved, so both see the same load
        t0 = time.perf_counter()
        svc.store.revocation(c)
        us.append((time.perf_counter() - t0) * 1e6)
        t0 = time.perf_counter()
        raw.execute("SELECT reason FROM revocations WHERE cti = ?", (c,)).fetchone()
        bare.append((time.perf_counter() - t0) * 1e6)
    raw.close()
    tok = voucher_token(key, now=int(time.time()) - 60)
    vt = timed(lambda: svc.check(tok, fmt="2D"), min(500, k))
    svc.close()
    print(f"    load {load:.1f} s, delta of 1,000 {delta * 1000:.0f} ms")
    print(
        f"    ours lookup median {statistics.median(us):.1f} us  p95 {pct(us, 95):.1f} us;"
        f" bare SELECT median {statistics.median(bare):.1f} us  p95 {pct(bare, 95):.1f} us"
    )
    print(f"    a whole check() with {n:,} revocations: median {statistics.median(vt):.3f} ms")
    goal(f"revocation lookup with {n:,}", f"p95 {pct(us, 95):.1f} us", pct(us, 95) <= 50.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (and 1M still)")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny run of a few seconds (CI: the bench still runs)",
    )
    ap.add_argument(
        "--only",
        choices=("decode", "photos", "verify", "commit", "latency", "revocations"),
        action="append",
        help="run only these sections",
    )
    args = ap.parse_args()
    only = set(args.only or ())

    def want(name: str) -> bool:
        return not only or name in only

    reps = 1 if args.quick or args.smoke else 3
    # (smoke, quick, full) sizes of each section
    size = 0 if args.smoke else 1 if args.quick else 2
    frames = (4, None, None)[size]
    photos = (6, None, None)[size]
    verify_n = (200, 2000, 5000)[size]
    commit_n = (20, 200, 500)[size]
    latency_n = (10, 60, 150)[size]
    revocations_n = (20_000, 1_000_000, 1_000_000)[size]
    key = PrivateKey.generate()
    token = voucher_token(key, holder="张*明", cinemas=("SH01", "SH02"), campaign="spring")
    print(
        f"cinepass kiosk bench  (voucher QR text {len(token)} chars; {os.cpu_count()} cpus;"
        f" load {os.getloadavg()[0]:.1f}){'  SMOKE: tiny sizes, goals not judged' if args.smoke else ''}"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if want("decode"):
            bench_decode(token, reps, frames)
        if want("photos"):
            bench_photos(photos)
        if want("verify"):
            bench_verify(tmp, key, verify_n, 10_000 if size else 1000)
        if want("commit"):
            bench_commit(tmp, key, commit_n)
        if want("latency"):
            bench_frame_to_verdict(tmp, key, latency_n)
        if want("revocations"):
            bench_revocations(tmp, key, revocations_n)
    print("\n== goals ==")
    for name, fig, ok in results:
        print(f"  {'PASS' if ok else 'MISS'}  {name}: {fig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
