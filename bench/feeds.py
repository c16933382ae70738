"""A counter loading a revocation snapshot in pages, beside the bare sqlite3 insert, same run.

    .venv/bin/python bench/feeds.py [-n 1000000] [--server N] [--smoke]

Rows (docs/feeds.md):

* **kiosk load**: ``n`` revocations as the server sends them (packed pages of
  :data:`kiosk.snapshots.SNAPSHOT_PAGE`, built by the server's own
  ``sync.server.feeds.packed`` and JSON-encoded) through the sync engine's
  own loader, :func:`kiosk.snapshots.pull_snapshot`, with the HTTP call
  replaced by a lookup of the page's JSON bytes: ``json.loads``, validation
  and unpacking (:func:`kiosk.snapshots.parse_page`, one page ahead on its
  thread), staging (:meth:`~kiosk.engine.feeds.FeedStore.stage_snapshot`)
  and the swap;
  while a thread runs ``check()`` on a voucher every 5 ms (redemptions go on
  meanwhile: its p95 and max latency are printed); then the revocation lookup
  in the loaded pages (hits and misses, after the first touch of each page;
  the ids it holds in memory);
* **bare**: the same rows by one ``executemany`` into a WITHOUT ROWID table
  with the store's settings (the floor);
* **before paging**: the one-answer snapshot as entries (pydantic per entry,
  ``replace_revocations``), on a tenth of ``n`` and scaled, for comparison;
* ``--server N``: end to end through a real server on loopback (SQLite
  central database with ``N`` frozen vouchers), pages over HTTP included.

Goal (issue 16): 1,000,000 in at most 3 s (kiosk load). ``--smoke`` (CI) runs
every row at a tiny size and holds nothing to the goal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from kiosk import snapshots  # noqa: E402
from kiosk.engine.service import KioskService, init_standalone  # noqa: E402
from kiosk.engine.store import Store  # noqa: E402
from sync.server import feeds  # noqa: E402
from sync.voucher import PrivateKey, encode_voucher, make_voucher  # noqa: E402

GOAL_S = 3.0


def pages_for(n: int) -> tuple[list[bytes], list[str]]:
    """``n`` frozen vouchers as the server's packed snapshot pages (JSON bytes), cti order."""
    ctis = sorted(os.urandom(10).hex() for _ in range(n))
    size = snapshots.SNAPSHOT_PAGE
    out = []
    for i in range(0, n, size):
        rows = [("freeze", c, "lost", 0, "", "", "") for c in ctis[i : i + size]]
        last = i + size >= n
        body = {
            "feed": "revocation",
            "cursor": 7,
            "more": not last,
            "snapshot": True,
            "next": None if last else f"7:f:{rows[-1][1]}",
            "entries": [],
            "packed": feeds.packed("revocation", rows),
        }
        out.append(json.dumps(body).encode())
    return out, ctis


def home(tmp: Path, key: PrivateKey) -> KioskService:
    h = tmp / f"home{time.monotonic_ns()}"
    init_standalone(h, cinema="SH01", issuer_keys=[key.public])
    return KioskService.open(h)


def kiosk_load(tmp: Path, key: PrivateKey, n: int) -> float:
    pages, ctis = pages_for(n)
    svc = home(tmp, key)
    token = encode_voucher(make_voucher("BENCH", now=int(time.time()) - 60), key)
    lat: list[float] = []
    stop = threading.Event()

    def scans() -> None:
        with KioskService.open(svc.paths.home) as other:  # another connection, like the window
            while not stop.wait(0.005):
                t0 = time.perf_counter()
                other.check(token, fmt="2D")
                lat.append((time.perf_counter() - t0) * 1000)

    scanner = threading.Thread(target=scans, daemon=True)
    scanner.start()
    by_token = {"": pages[0]}  # the page each ``after`` token asks for, as the server's
    for body, following in zip(pages, pages[1:], strict=False):
        by_token[json.loads(body)["next"]] = following

    def get(_path: str, params: dict[str, object] | None) -> object:
        return json.loads(by_token[str((params or {}).get("after", ""))])

    t0 = time.perf_counter()
    store = svc.store
    snapshots.pull_snapshot(get, store, "revocation")  # the sync engine's loader, HTTP aside
    took = time.perf_counter() - t0
    stop.set()
    scanner.join()
    count = store.counts()["revocations"]
    assert count == n, (count, n)
    mb = sum(len(p) for p in pages) / 2**20
    lat.sort()
    p95 = lat[int(len(lat) * 0.95)] if lat else 0.0
    print(
        f"kiosk load of {n:,} in {len(pages)} packed pages ({mb:.0f} MB of JSON): {took:.2f} s"
        f" ({n / took:,.0f}/s); check() meanwhile: {len(lat)} scans, p95 {p95:.1f} ms,"
        f" max {max(lat, default=0):.1f} ms"
    )
    lookups(store, ctis)
    svc.close()
    return took


def lookups(store: Store, ctis: list[str]) -> None:
    """``revocation()`` over the loaded pages: every page touched once, then timed."""
    k = min(5000, len(ctis))
    hits = [bytes.fromhex(ctis[i * 7919 % len(ctis)]) for i in range(k)]
    probe = hits + [os.urandom(10) for _ in range(k)]
    random.shuffle(probe)
    for c in hits:  # the first touch of a page loads its ids (once per swap)
        assert store.revocation(c) is not None
    us = []
    for c in probe:
        t0 = time.perf_counter()
        store.revocation(c)
        us.append((time.perf_counter() - t0) * 1e6)
    us.sort()
    held = store.pages.memory()
    print(
        f"revocation lookup in the pages ({k:,} hits, {k:,} misses): median"
        f" {us[len(us) // 2]:.1f} us, p95 {us[int(len(us) * 0.95)]:.1f} us;"
        f" the pages' ids in memory {held / 2**20:.1f} MB"
    )


def bare_insert(tmp: Path, n: int) -> float:
    rows = sorted((os.urandom(10), "lost", 0, "", "", "") for _ in range(n))
    con = sqlite3.connect(tmp / f"bare{time.monotonic_ns()}.sqlite3")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(
        "CREATE TABLE r(cti BLOB PRIMARY KEY, reason TEXT, at INT, cinema TEXT, device TEXT,"
        " staff TEXT) WITHOUT ROWID"
    )
    t0 = time.perf_counter()
    with con:
        con.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?)", rows)
    took = time.perf_counter() - t0
    con.close()
    print(f"bare sqlite3 executemany of {n:,} sorted rows, one transaction: {took:.2f} s")
    return took


def before_paging(tmp: Path, key: PrivateKey, n: int) -> None:
    from kiosk.feedmap import feed_entries
    from sync import protocol as P

    body = json.dumps(
        {
            "feed": "revocation",
            "cursor": 7,
            "more": False,
            "snapshot": True,
            "entries": [
                feeds.revocation_entry(os.urandom(10).hex(), "freeze", reason="lost", at=0)
                for _ in range(n)
            ],
        }
    ).encode()
    svc = home(tmp, key)
    t0 = time.perf_counter()
    page = P.FeedPage.model_validate(json.loads(body))
    entries = feed_entries("revocation", page.entries)
    svc.store.replace_feed("revocation", entries, str(page.cursor))
    took = time.perf_counter() - t0
    svc.close()
    print(f"before paging (one answer of entries): {n:,} in {took:.2f} s ({n / took:,.0f}/s)")


def end_to_end(tmp: Path, n: int) -> None:
    """A real server on loopback with ``n`` frozen vouchers; a counter's first snapshot."""
    from bulkrows import frozen_voucher_rows
    from sqlalchemy import insert

    from kiosk.enrollment import enroll
    from kiosk.syncer import SyncEngine
    from sync.office.cinemas import add_cinema
    from sync.office.devices import device_code
    from sync.office.issuers import add_signing_key
    from sync.server.db import migrate, session_scope
    from sync.server.embedded import EmbeddedServer
    from sync.server.models import Voucher

    key = PrivateKey.generate()
    engine = migrate(f"sqlite:///{tmp / 'central.sqlite3'}")
    with session_scope(engine) as s:
        add_signing_key(s, "BENCH", "Bench", key, tmp / "k.pem")
        add_cinema(s, "SH01", "Cinema")
        rows = frozen_voucher_rows(n, "BENCH", key.public.kid.hex())
        s.execute(insert(Voucher), rows)
        code = device_code(s, "SH01")
    srv = EmbeddedServer(engine).start()
    try:
        h = tmp / "e2e"
        enroll(h, srv.url, code)  # pulls the paged snapshots once enrolled (docs/feeds.md)
        with KioskService.open(h) as svc, svc.store.write() as conn:
            conn.exec_driver_sql("DELETE FROM cursors WHERE feed IN ('revocations', 'roster')")
        e = SyncEngine(h)
        t0 = time.perf_counter()
        result = e.sync_now()
        took = time.perf_counter() - t0
        e.stop()
        assert result.ok, result.error_message
        print(
            f"end to end over loopback HTTP, {n:,} frozen + {n:,} roster entries, one sync:"
            f" {took:.2f} s (server and counter on the same cores)"
        )
    finally:
        srv.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="revocations the kiosk loads")
    ap.add_argument("--server", type=int, metavar="N", help="also end to end with N vouchers")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes for CI (a few seconds)")
    args = ap.parse_args(argv)
    n = 2000 if args.smoke else args.n
    key = PrivateKey.generate()
    with tempfile.TemporaryDirectory(prefix="cinepass-feeds-") as d:
        tmp = Path(d)
        took = kiosk_load(tmp, key, n)
        bare = bare_insert(tmp, n)
        print(f"kiosk load / bare insert = {took / bare:.1f}x")
        before_paging(tmp, key, max(1, n // 10))
        if args.smoke or args.server:
            end_to_end(tmp, 500 if args.smoke else args.server)
    if args.smoke:
        return 0
    ok = n < 1_000_000 or took <= GOAL_S
    print(f"goal {n:,} in <= {GOAL_S} s: {'OK' if ok else 'MISSED'} ({took:.2f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
