"""Online API figures: p50/p95 of check, hold and confirm, beside a bare HMAC + SQLite insert.

Run: ``.venv/bin/python bench/online.py`` (200 requests/s for 60 s), ``--smoke``
(30 requests/s for 2 s: what CI runs so the script cannot rot; its figures
mean little). ``--db URL`` benches another database (SQLite file in a temp
folder by default), ``--pg`` a throwaway PostgreSQL cluster (scripts/pg.sh),
and ``--servers N`` starts N server processes on N ports, the orders spread
over them (issue 14: 1 and 4). ``--cpu N`` measures instead the server's CPU
time per request, N requests of each kind one at a time (``/proc/PID/stat``
before and after each batch), beside the bare ``/api/v1/health``: what the
API's own work costs, free of queueing.

Each order is the partner's three signed calls, in turn, through the
reference client (:mod:`sync.partner_client`, which keeps one connection per
thread, as an integrator should):
``check``, ``hold``, ``confirm`` of a fresh voucher. Orders are started at a
fixed rate (a third of the request rate) by a thread pool, so the latencies
are what a partner sees under that load, queueing included. The floor beside
them: ``hmac.new`` over the same message and one ``INSERT`` committed in a
WAL, ``synchronous=FULL`` SQLite file, per call.

Goal (issue 14): p95 <= 30 ms and no error. This is not a test: it prints
figures (and PASS/MISS).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import hmac
import http.client
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

from syncsupport import Central, fresh_pg_database, setup_central, stop_pg  # noqa: E402

from sync.office.partners import add_partner  # noqa: E402
from sync.partner_client import PartnerApiError, PartnerClient, signature  # noqa: E402
from sync.server.db import migrate  # noqa: E402
from sync.server.embedded import free_port  # noqa: E402
from sync.voucher import PrivateKey, decode_voucher  # noqa: E402

CALLS = ("check", "hold", "confirm")


def serve(db: str, n: int) -> tuple[list[str], list[subprocess.Popen[bytes]]]:
    """``n`` real server processes (``python -m sync.server.main``) on one database."""
    urls, procs = [], []
    for _ in range(n):
        port = free_port()
        cmd = [sys.executable, "-m", "sync.server.main", "--db", db, "--port", str(port)]
        procs.append(subprocess.Popen([*cmd, "--log-level", "warning"], cwd=ROOT))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health", timeout=1):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"server {url} did not start") from None
                time.sleep(0.1)
    return urls, procs


def order(client: PartnerClient, code: str, n: int) -> dict[str, float | str]:
    """One order's three calls; call -> seconds, or ``error`` -> the code."""
    out: dict[str, float | str] = {"started": time.perf_counter()}
    try:
        t = time.perf_counter()
        client.check(code, "CIN-A", "2D")
        out["check"] = time.perf_counter() - t
        t = time.perf_counter()
        h = client.hold(code, "CIN-A", "2D", f"bench-{n}", key=f"bench-{n}")
        out["hold"] = time.perf_counter() - t
        t = time.perf_counter()
        client.confirm(h["hold_id"])
        out["confirm"] = time.perf_counter() - t
    except (PartnerApiError, OSError) as exc:
        out["error"] = getattr(exc, "error", type(exc).__name__)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(url: str, pid: int, client: PartnerClient, codes: list[str]) -> None:
    """Server CPU per request, one request at a time: health, then check, hold, confirm.

    Each kind runs as a batch of ``len(codes)`` requests; the figure is the
    server process's CPU time over the batch divided by its requests, so
    client time and waiting do not count. The bare health endpoint is the
    floor (HTTP, middleware, routing): what is above it is the API's own work.
    """
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=10)

    def health() -> None:
        conn.request("GET", "/api/v1/health")
        conn.getresponse().read()

    for _ in range(20):  # warm up: imports, caches, connections
        health()
    client.check(codes[-1], "CIN-A", "2D")
    codes = codes[:-1]
    holds: list[str] = []
    steps: list[tuple[str, Callable[[int, str], object]]] = [
        ("health", lambda _i, _c: health()),
        ("check", lambda _i, c: client.check(c, "CIN-A", "2D")),
        (
            "hold",
            lambda i, c: holds.append(
                client.hold(c, "CIN-A", "2D", f"cpu-{i}", key=f"cpu-{i}")["hold_id"]
            ),
        ),
        ("confirm", lambda i, _c: client.confirm(holds[i])),
    ]
    for name, step in steps:
        before, t = cpu_seconds(pid), time.perf_counter()
        for i, code in enumerate(codes):
            step(i, code)
        cpu, wall = cpu_seconds(pid) - before, time.perf_counter() - t
        n = len(codes)
        print(
            f"  {name:<8} server CPU {cpu / n * 1000:6.2f} ms/request   "
            f"wall {wall / n * 1000:6.2f} ms/request   ({n} requests)"
        )
    conn.close()


def bare(folder: Path, n: int) -> list[float]:
    """HMAC over a request-sized message plus one committed SQLite insert, per call."""
    con = sqlite3.connect(folder / "bare.sqlite3", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE s (sig TEXT PRIMARY KEY, at INT)")
    body = b'{"code":"ABCD-EFGH-JKMN-PQRS","cinema":"CIN-A","format":"2D","order_ref":"x"}'
    times = []
    for i in range(n):
        t = time.perf_counter()
        sig = signature("secret", "POST", "/api/v1/online/holds", str(i), body)
        hmac.compare_digest(sig, hashlib.sha256(body).hexdigest())
        con.execute("INSERT INTO s VALUES (?, ?)", (sig, i))
        times.append(time.perf_counter() - t)
    con.close()
    return times


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="30 requests/s for 2 s")
    ap.add_argument("--rate", type=float, default=200.0, help="requests per second")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--db", help="database URL (default: a SQLite file in a temp folder)")
    ap.add_argument(
        "--pg", action="store_true", help="a throwaway PostgreSQL (scripts/pg.sh), stopped after"
    )
    ap.add_argument("--servers", type=int, default=1, help="server processes")
    ap.add_argument(
        "--cpu",
        type=int,
        metavar="N",
        help="instead: server CPU per request of N sequential requests of each kind",
    )
    args = ap.parse_args(argv)
    rate, seconds = (30.0, 2.0) if args.smoke else (args.rate, args.seconds)
    n_orders = args.cpu + 1 if args.cpu else max(1, int(rate * seconds / len(CALLS)))
    if args.pg and not args.db:
        try:
            return run(args, rate, n_orders, fresh_pg_database())
        finally:
            stop_pg()
    return run(args, rate, n_orders, args.db)


def run(args: argparse.Namespace, rate: float, n_orders: int, url: str | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key = PrivateKey.generate()
        db = url or f"sqlite:///{folder / 'central.sqlite3'}"
        engine = migrate(db)
        setup_central(engine, key, folder / "keys")
        central = Central(engine, None, key, db, folder / "keys", db)
        codes = [decode_voucher(t).voucher.short_code for t in central.issue(n_orders)]
        with central.session() as s:
            partner, secret = add_partner(s, "bench")
            pid = partner.id
        urls, procs = serve(db, 1 if args.cpu else args.servers)
        if args.cpu:
            try:
                print(f"server CPU per request on {db.split(':', 1)[0]}, one request at a time:")
                cpu_per_request(urls[0], procs[0].pid, PartnerClient(urls[0], pid, secret), codes)
                load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"  machine: {os.cpu_count()} CPU(s), load average {load} (1/5/15 min)")
            finally:
                procs[0].terminate()
                procs[0].wait(10)
                engine.dispose()
            return 0
        try:
            clients = [PartnerClient(u, pid, secret) for u in urls]
            # the bench's own heap (voucher texts, codes) out of its full collections: a
            # pause of the measuring process is not the server's latency (the server
            # freezes its own, sync.server.main.freeze_heap)
            gc.collect()
            gc.freeze()
            gap = len(CALLS) / rate
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=32) as pool:
                futures = []
                for i, code in enumerate(codes):
                    delay = start + i * gap - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(pool.submit(order, clients[i % len(clients)], code, i))
                results = [f.result() for f in futures]
            wall = time.perf_counter() - start
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(10)
            engine.dispose()
        floor = bare(folder, max(50, n_orders))
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for r in results:
        for call in CALLS:
            value = r.get(call)
            if isinstance(value, float):
                times[call].append(value)
        if "error" in r:
            errors[str(r["error"])] += 1
    backend = db.split(":", 1)[0]
    print(
        f"online API on {backend}, {args.servers} server process(es): {n_orders} orders "
        f"({n_orders * len(CALLS)} requests) in {wall:.1f} s at {rate:.0f} requests/s target"
    )
    ok = not errors
    for call in CALLS:
        p50, p95 = pct(times[call], 50), pct(times[call], 95)
        ok = ok and p95 <= 30
        print(f"  {call:<8} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(times[call])} calls)")
    slices: dict[int, list[float]] = defaultdict(list)
    for r in results:
        for call in CALLS:
            value = r.get(call)
            if isinstance(value, float):
                slices[int((float(r["started"]) - start) // 10)].append(value)
    print(
        "  p95 of every call by 10 s of the run: "
        + "  ".join(f"{pct(v, 95):.0f}" for _k, v in sorted(slices.items()))
        + " ms"
    )
    print(f"  bare HMAC + SQLite insert: p50 {pct(floor, 50):.2f} ms   p95 {pct(floor, 95):.2f} ms")
    print(f"  errors: {dict(errors) or 'none'}")
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"  machine: {os.cpu_count()} CPU(s), load average {load} (1/5/15 min) at the end")
    print(f"goal p95 <= 30 ms and no error: {'PASS' if ok else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
