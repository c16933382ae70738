"""Sync figures: upload, server ingest and revocation feeds, beside bare SQLite, same run.

Run: ``.venv/bin/python bench/sync.py`` (``--quick`` for a tenth of the sizes,
``--smoke`` for a hundredth: a few seconds, what CI runs so the script cannot
rot; its figures mean little but are printed the same way).
A real server process (``python -m sync.server.main``) on a SQLite file on a
free loopback port, a real enrolled kiosk store, loopback HTTP. Prints:

* 10,000 queued redemptions uploaded and acknowledged by ``SyncEngine``
  (batches of 1,000), wall time;
* server ingest rate: the same kind of records through ``ingest.prepare`` +
  ``ingest.store`` in-process (device + issuer signatures, chain, settlement,
  feed events), records/s;
* a 100,000-entry revocation snapshot pulled and applied by the kiosk;
* a 100-entry revocation delta pulled and applied;
* bare sqlite3: the same 10,000 record rows and 100,000 revocation rows inserted
  in one transaction (WAL, synchronous=FULL), the floor any of the above sits on.

Goals (issue 4): 10,000 uploaded in <= 10 s; a 100-entry delta applied in
<= 200 ms; (issue 10) ingest with every record re-checked >= 3,000 records/s. This is not a test: it prints figures
(and PASS/MISS per goal).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import requests  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from syncsupport import ISSUER, Central, setup_central  # noqa: E402

from kiosk.engine.store import Store  # noqa: E402
from kiosk.enrollment import enroll  # noqa: E402
from kiosk.paths import KioskPaths  # noqa: E402
from kiosk.syncer import SyncEngine  # noqa: E402
from sync.records import GENESIS_HASH, Record  # noqa: E402
from sync.server import feeds, ingest  # noqa: E402
from sync.server.db import migrate, session_scope  # noqa: E402
from sync.server.embedded import free_port  # noqa: E402
from sync.server.models import Device, Voucher  # noqa: E402
from sync.voucher import PrivateKey, decode_voucher, encode_voucher, make_voucher  # noqa: E402
from sync.voucher.keys import load_private_key  # noqa: E402


def issue(central: Central, n: int) -> list[str]:
    """n signed vouchers in the central DB (bulk: the roster feed too)."""
    tokens = []
    rows = []
    for _ in range(n):
        v = make_voucher(ISSUER)
        t = encode_voucher(v, central.issuer_key)
        tokens.append(t)
        rows.append(
            {
                "cti": v.cti.hex(),
                "short_code": v.short_code,
                "issuer_code": ISSUER,
                "formats": list(v.formats),
                "iat": v.iat,
                "nbf": v.nbf,
                "exp": v.exp,
                "token": t,
                "status": "active",
            }
        )
    with central.session() as s:
        s.execute(insert(Voucher), rows)
        feeds.publish_roster(s, [Voucher(cti=r["cti"], token=r["token"]) for r in rows])
    return tokens


def start_server(db: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync.server.main",
            "--db",
            db,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def queue_records(home: Path, tokens: list[str], cinema: str, device: str) -> None:
    key = load_private_key(KioskPaths(home).device_key)
    store = Store.open(KioskPaths(home).store)
    now = int(time.time() * 1000)
    with store.transaction() as w:
        for i, t in enumerate(tokens):
            w.append_record(
                key=key,
                kind="redeem",
                voucher=decode_voucher(t).voucher.cti,
                token=t,
                cinema=cinema,
                fmt="2D",
                staff="bench",
                at_ms=now - len(tokens) + i,
                device=device,
            )
    store.close()


def bare_inserts(folder: Path, n_records: int, n_revocations: int) -> tuple[float, float]:
    con = sqlite3.connect(folder / "bare.sqlite3", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(
        "CREATE TABLE r (uuid TEXT PRIMARY KEY, device TEXT, seq INT, kind TEXT, voucher TEXT,"
        " token TEXT, cinema TEXT, format TEXT, staff TEXT, at INT, voids TEXT, prev TEXT,"
        " hash TEXT, sig TEXT, status TEXT)"
    )
    con.execute("CREATE TABLE v (cti BLOB PRIMARY KEY, reason TEXT, at INT)")
    token = "CP1:" + "X" * 300
    rows = [
        (
            str(uuid.uuid4()),
            "dev",
            i,
            "redeem",
            os.urandom(10).hex(),
            token,
            "C",
            "2D",
            "s",
            i,
            "",
            "0" * 64,
            "0" * 64,
            "0" * 128,
            "valid",
        )
        for i in range(n_records)
    ]
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO r VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.execute("COMMIT")
    t_rec = time.perf_counter() - t0
    revs = [(os.urandom(10), "lost", 0) for _ in range(n_revocations)]
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO v VALUES (?,?,?)", revs)
    con.execute("COMMIT")
    t_rev = time.perf_counter() - t0
    con.close()
    return t_rec, t_rev


def ingest_rate(folder: Path, key: PrivateKey, n: int) -> float:
    """records/s through the server's ingest path on a fresh SQLite DB, batches of 1000."""
    engine = migrate(f"sqlite:///{folder / 'ingest.sqlite3'}")
    setup_central(engine, key, folder / "ikeys")
    central = Central(engine, None, key, "", folder / "ikeys")
    tokens = issue(central, n)
    dev_key = PrivateKey.generate()
    now = int(time.time() * 1000)
    with session_scope(engine) as s:
        s.add(
            Device(
                id="dev-bench",
                cinema="CIN-A",
                public_raw=dev_key.public.raw,
                token_hash="x" * 64,
                enrolled_at=now - 3_600_000,
            )
        )
    prev = GENESIS_HASH
    items = []
    for i, t in enumerate(tokens, start=1):
        rec = Record(
            uuid=str(uuid.uuid4()),
            device="dev-bench",
            seq=i,
            kind="redeem",
            voucher=decode_voucher(t).voucher.cti,
            token=t,
            cinema="CIN-A",
            format="2D",
            staff="s",
            at=now - n + i,  # realistic times: every re-check passes, as at a real counter
            voids="",
            prev=prev,
        )
        prev, sig = rec.seal(dev_key)
        items.append(rec.to_json(sig))
    ingest.ISSUER_CACHE = ingest.IssuerCache()  # cold cache: every issuer signature checked
    t0 = time.perf_counter()
    with session_scope(engine) as s:
        keys = ingest.trusted_keys(s)

    def known(ctis: Sequence[str]) -> dict[str, tuple[str, ingest.VoucherFacts]]:
        with session_scope(engine) as s:
            return ingest.issued_tokens(s, ctis)

    answers: list[dict[str, Any]] = []
    for i in range(0, n, 1000):
        prepared = ingest.prepare(
            items[i : i + 1000], "dev-bench", dev_key.public, keys, ingest.ISSUER_CACHE, known
        )
        with session_scope(engine) as s:
            answers += ingest.store(s, "dev-bench", prepared)
    dt = time.perf_counter() - t0
    assert all(a["status"] == "valid" for a in answers), {a["status"] for a in answers}
    engine.dispose()
    return n / dt


def bare_verify_us(n: int = 2000) -> float:
    key = PrivateKey.generate()
    msg = b"x" * 200
    sig = key.sign(msg)
    pub = key.public
    t0 = time.perf_counter()
    for _ in range(n):
        pub.verify(sig, msg)
    return (time.perf_counter() - t0) / n * 1e6


def freeze_many(central: Central, n: int) -> None:
    rows = []
    for _ in range(n):
        cti = os.urandom(10)
        rows.append(
            {
                "cti": cti.hex(),
                "short_code": cti.hex()[:19],
                "issuer_code": ISSUER,
                "formats": ["2D"],
                "iat": 0,
                "nbf": 0,
                "exp": 1,
                "token": "CP1:x",
                "status": "frozen",
                "freeze_reason": "lost",
            }
        )
    with central.session() as s:
        for i in range(0, n, 10_000):
            s.execute(insert(Voucher), rows[i : i + 10_000])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    size.add_argument("--smoke", action="store_true", help="a hundredth: does it still run?")
    args = ap.parse_args(argv)
    scale = 100 if args.smoke else 10 if args.quick else 1
    n_up, n_snap = 10_000 // scale, 100_000 // scale
    results: list[tuple[str, str, bool | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key = PrivateKey.generate()
        db = f"sqlite:///{folder / 'central.sqlite3'}"
        engine = migrate(db)
        setup_central(engine, key, folder / "keys")
        central = Central(engine, None, key, db, folder / "keys", db)
        port = free_port()
        proc = start_server(db, port)
        try:
            url = f"http://127.0.0.1:{port}"
            home = folder / "kiosk"
            enroll(home, url, central.code("CIN-A"))
            from kiosk.config import load_config

            cfg = load_config(KioskPaths(home).config)
            t0 = time.perf_counter()
            tokens = issue(central, n_up)
            print(f"(setup: {n_up} vouchers issued in {time.perf_counter() - t0:.1f} s)")
            sync = SyncEngine(home, batch_size=1000)
            sync.sync_now()  # the roster delta etc. (not what we time)
            queue_records(home, tokens, cfg.cinema, cfg.device_id)
            store = sync.store
            assert store.counts()["pending"] == n_up

            spent = {"mark_synced": 0.0}
            orig_mark = store.mark_synced

            def timed_mark(results: Any, **kw: Any) -> None:
                t = time.perf_counter()
                orig_mark(results, **kw)
                spent["mark_synced"] += time.perf_counter() - t

            store.mark_synced = timed_mark  # type: ignore[method-assign]
            from kiosk.syncer import SyncResult

            client = sync._http()
            pushed = SyncResult(ok=False)
            t0 = time.perf_counter()
            if os.environ.get("BENCH_PROFILE"):
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.runcall(sync._push, client, pushed)
                pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
            else:
                sync._push(client, pushed)  # the upload step of a cycle, alone
            t_up = time.perf_counter() - t0
            assert pushed.uploaded == n_up and store.counts()["pending"] == 0, pushed.to_json()
            goal = 10.0 / scale
            results.append(
                (f"upload {n_up} redemptions (acknowledged)", f"{t_up:.2f} s", t_up <= goal)
            )
            results.append(
                ("  of which kiosk store.mark_synced", f"{spent['mark_synced']:.2f} s", None)
            )
            t0 = time.perf_counter()
            r = sync.sync_now()  # then the rest of that cycle: pull 10,000 "redeemed" events
            assert r.ok, r.to_json()
            results.append(
                (
                    "  then pull+apply the feeds (own redeemed events)",
                    f"{time.perf_counter() - t0:.2f} s",
                    None,
                )
            )
            store.mark_synced = orig_mark  # type: ignore[method-assign]

            freeze_many(central, n_snap)
            store.set_cursor("revocations", "x")  # force the snapshot path
            t0 = time.perf_counter()
            r = sync.sync_now()
            t_snap = time.perf_counter() - t0
            assert r.ok and store.counts()["revocations"] >= n_snap, r.to_json()
            results.append(
                (
                    f"revocation snapshot {n_snap + n_up} entries pulled+applied (full cycle)",
                    f"{t_snap:.2f} s",
                    None,
                )
            )

            with central.session() as s:
                feeds.publish_revocations(
                    s,
                    [
                        feeds.revocation_entry(os.urandom(10).hex(), "freeze", reason="lost")
                        for _ in range(100)
                    ],
                )
            client = sync._http()
            t0 = time.perf_counter()
            n = sync._pull_feed(client, "revocation")
            t_delta = time.perf_counter() - t0
            assert n == 100
            results.append(
                (
                    "100-entry revocation delta pulled+applied",
                    f"{t_delta * 1000:.0f} ms",
                    t_delta <= 0.2,
                )
            )
            sync.stop()
        finally:
            proc.terminate()
            proc.wait(10)
        rate = ingest_rate(folder, key, n_up)
        results.append(
            (
                f"server ingest ({n_up} records, device sig + re-checks each, issuer via issued token)",
                f"{rate:.0f} records/s",
                rate >= 3000,
            )
        )
        results.append(
            ("bare Ed25519 verify (this machine, now)", f"{bare_verify_us():.0f} us", None)
        )
        t_rec, t_rev = bare_inserts(folder, n_up, n_snap)
        results.append(
            (f"bare sqlite3: {n_up} record rows, one transaction", f"{t_rec:.2f} s", None)
        )
        results.append(
            (f"bare sqlite3: {n_snap} revocation rows, one transaction", f"{t_rev:.2f} s", None)
        )
    for name, figure, ok in results:
        mark = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{name:<62} {figure:>16}  {mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
