"""Load test: thousands of counters syncing plus partner traffic, against 1 and N server processes.

Run: ``.venv/bin/python bench/load.py`` (2,000 counters, 60 s per server
configuration, ``--workers 1,4``), ``--smoke`` (20 counters, 3 s, 1 and 2
processes: what CI runs so the script cannot rot; its figures mean little).
Loopback only and bounded: at most ``--counters`` counters (≤ 5,000) for
``--seconds`` (≤ 600) per configuration. PostgreSQL: ``--db URL``, else a
throwaway database on the test cluster (``tests/syncsupport.py``).

What a simulated counter is: a real Ed25519 device key enrolled through
``POST /api/v1/enrol``, one keep-alive HTTP/1.1 connection (as the kiosk's
``requests.Session``), and every ``--interval`` seconds (±20 %) the kiosk's
sync cycle (``kiosk.syncer``): ``device/hello``, ``records`` with a new
redemption record signed with its key half of the time, the ``keys``
snapshot, and the ``revocation``, ``roster`` and ``status`` feeds from its
cursors. Beside them, ``--partner-rate`` online orders a second through the
reference partner client (:mod:`sync.partner_client`: check, hold, confirm).
The client is asyncio with a minimal HTTP/1.1 writer and reader, so the
client's own CPU stays small beside the server's; it is measured anyway.

Printed per configuration: syncs and requests per second, p50/p95 of a
request and of a whole sync, errors (any non-2xx answer or broken
connection), and where the CPU went in the window: this client, the server
processes, PostgreSQL, and everything else on the machine (other users).
Goal (issue 16): no error, and N processes give ≥ 1.7× the throughput of 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from serverproc import ServerProcess, children  # noqa: E402
from syncsupport import Central, fresh_pg_database, setup_central, stop_pg  # noqa: E402

from sync.office.devices import device_code  # noqa: E402
from sync.office.partners import add_partner  # noqa: E402
from sync.partner_client import PartnerApiError, PartnerClient  # noqa: E402
from sync.records import GENESIS_HASH, Record  # noqa: E402
from sync.server.db import migrate  # noqa: E402
from sync.voucher import PrivateKey, decode_voucher  # noqa: E402

API = "/api/v1"
GOAL = 1.7
TICK = os.sysconf("SC_CLK_TCK")


class HttpBroken(Exception):
    """The connection closed or answered something that is not HTTP."""


class Conn:
    """One keep-alive HTTP/1.1 connection to the server (reopened when it closes)."""

    def __init__(self, port: int, token: str = "") -> None:
        self.port, self.token = port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        for attempt in (0, 1):  # a keep-alive connection the server closed: once more, fresh
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                return await self._send(method, path, body)
            except (HttpBroken, ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _send(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
        if data:
            head += "Content-Type: application/json\r\n"
        if self.token:
            head += f"Authorization: Bearer {self.token}\r\n"
        self.writer.write(head.encode() + b"\r\n" + data)
        line = await self.reader.readline()
        if not line.startswith(b"HTTP/1.1 "):
            raise HttpBroken(line[:40])
        status = int(line.split()[1])
        length, close = 0, False
        while True:
            h = await self.reader.readline()
            if h in (b"\r\n", b""):
                break
            name, _, value = h.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


@dataclass
class Figures:
    """What one configuration measured."""

    requests: list[float] = field(default_factory=list)
    syncs: list[float] = field(default_factory=list)
    #: when each sync, request, order ended (monotonic): rates count the window only
    ended: list[float] = field(default_factory=list)
    request_ended: list[float] = field(default_factory=list)
    order_ended: list[float] = field(default_factory=list)
    orders: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    abandoned: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass
class Counter_:
    """A simulated counter: its key, token, record chain, cursors and vouchers."""

    id: str
    cinema: str
    key: PrivateKey
    token: str
    vouchers: list[tuple[bytes, str]]
    seq: int = 0
    prev: bytes = GENESIS_HASH
    used: int = 0
    cursors: dict[str, int] = field(
        default_factory=lambda: {"revocation": 0, "roster": 0, "status": 0}
    )

    def record(self) -> dict[str, Any]:
        cti, token = self.vouchers[self.used % len(self.vouchers)]
        self.used += 1
        self.seq += 1
        rec = Record(
            uuid=str(uuid.uuid4()),
            device=self.id,
            seq=self.seq,
            kind="redeem",
            voucher=cti,
            token=token,
            cinema=self.cinema,
            format="2D",
            staff="load",
            at=int(time.time() * 1000),
            voids="",
            prev=self.prev,
        )
        self.prev = rec.hash()
        return rec.to_json(rec.sign(self.key))


async def sync_once(c: Counter_, conn: Conn, fig: Figures) -> None:
    """The kiosk's cycle: hello, upload, keys, the three feeds (each request timed)."""
    t_sync = time.perf_counter()
    steps: list[tuple[str, str, Any]] = [("POST", f"{API}/device/hello", {"health": {}})]
    if random.random() < 0.5:
        steps.append(("POST", f"{API}/records", {"records": [c.record()]}))
    steps.append(("GET", f"{API}/feeds/keys/snapshot", None))
    for feed in ("revocation", "roster", "status"):
        steps.append(("GET", f"{API}/feeds/{feed}?since={c.cursors[feed]}&limit=1000", None))
    for method, path, body in steps:
        t = time.perf_counter()
        try:
            status, payload = await conn.call(method, path, body)
        except (OSError, HttpBroken, asyncio.IncompleteReadError) as exc:
            fig.errors[type(exc).__name__] += 1
            return
        fig.requests.append(time.perf_counter() - t)
        fig.request_ended.append(time.monotonic())
        if status != 200:
            fig.errors[f"{status} {path.split('?')[0]}"] += 1
            return
        if "/records" in path:
            for r in json.loads(payload)["results"]:
                fig.statuses[r["status"]] += 1
        elif "?since=" in path:
            feed = path.split("/feeds/")[1].split("?")[0]
            c.cursors[feed] = int(json.loads(payload)["cursor"])
    fig.syncs.append(time.perf_counter() - t_sync)
    fig.ended.append(time.monotonic())


async def run_counters(
    counters: list[Counter_], port: int, seconds: float, every: float
) -> Figures:
    fig = Figures()
    end = time.monotonic() + seconds

    async def one(c: Counter_) -> None:
        conn = Conn(port, c.token)
        await asyncio.sleep(random.uniform(0, every))  # spread the first syncs
        try:
            while time.monotonic() < end:
                started = time.monotonic()
                await sync_once(c, conn, fig)
                pause = every * random.uniform(0.8, 1.2) - (time.monotonic() - started)
                await asyncio.sleep(max(0.0, min(pause, end - time.monotonic())))
        finally:
            await conn.close()

    tasks = [asyncio.ensure_future(one(c)) for c in counters]
    # bounded in time: syncs still under way 10 s after the window are abandoned (counted)
    _, late = await asyncio.wait(tasks, timeout=seconds + 10)
    for t in late:
        t.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    fig.abandoned = len(late)
    return fig


def partner_traffic(
    client: PartnerClient, codes: list[str], rate: float, seconds: float, fig: Figures
) -> None:
    """Online orders at ``rate`` a second (check, hold, confirm), from 4 threads."""
    if rate <= 0 or not codes:
        return
    lock = threading.Lock()
    gap, start = 1.0 / rate, time.monotonic()
    todo = iter(enumerate(codes))

    def worker() -> None:
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                return
            i, code = item
            due = start + i * gap
            if due > start + seconds:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            t = time.perf_counter()
            try:
                client.check(code, "C000", "2D")
                h = client.hold(code, "C000", "2D", f"load-{i}")
                client.confirm(h["hold_id"])
            except (PartnerApiError, OSError) as exc:
                fig.errors[f"partner {getattr(exc, 'error', type(exc).__name__)}"] += 1
                continue
            fig.orders.append(time.perf_counter() - t)
            fig.order_ended.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def cpu_of(pids: list[int], with_children: bool = False) -> float:
    """CPU seconds used by these processes (and, on request, their reaped children)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if with_children:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / TICK


def tree_cpu(root: int) -> float:
    return cpu_of([root], with_children=True) + cpu_of(children(root))


def machine_cpu() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(x) for x in fields) - int(fields[3]) - int(fields[4])  # less idle, iowait
    return busy / TICK


def client_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def postmaster(central: Central) -> int | None:
    """The pid of the PostgreSQL server process (the parent of our backend), if local."""
    from sqlalchemy import text

    with central.engine.connect() as conn:
        backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    try:
        stat = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(stat[1])


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def enrol_all(central: Central, port: int, n: int, per: int) -> list[Counter_]:
    """``n`` counters enrolled through the API with real keys, ``per`` vouchers each."""
    cinemas = [f"C{i:03d}" for i in range(max(1, n // 40))]
    with central.session() as s:
        from sync.office.cinemas import add_cinema

        for code in cinemas:
            add_cinema(s, code, f"Cinema {code}")
        codes = [
            (cinemas[i % len(cinemas)], device_code(s, cinemas[i % len(cinemas)])) for i in range(n)
        ]
    tokens = central.issue(n * per)
    pool = [(decode_voucher(t).voucher.cti, t) for t in tokens]
    keys = [PrivateKey.generate() for _ in range(n)]

    async def enrol(i: int, sem: asyncio.Semaphore) -> Counter_:
        async with sem:
            conn = Conn(port)
            body = {
                "code": codes[i][1],
                "public_key": keys[i].public.raw.hex(),
                "snapshots": "paged",
            }
            status, payload = await conn.call("POST", f"{API}/enrol", body)
            await conn.close()
        if status != 200:
            raise SystemExit(f"enrolment {i} failed: {status} {payload[:200]!r}")
        a = json.loads(payload)
        vouchers = pool[i * per : (i + 1) * per]
        return Counter_(a["device_id"], a["cinema"], keys[i], a["token"], vouchers)

    async def everyone() -> list[Counter_]:
        sem = asyncio.Semaphore(32)
        return list(await asyncio.gather(*(enrol(i, sem) for i in range(n))))

    return asyncio.run(everyone())


def measure(
    central: Central,
    counters: list[Counter_],
    workers: int,
    args: argparse.Namespace,
    partner: tuple[str, str],
    codes: list[str],
    log: Path,
) -> dict[str, Any]:
    server = ServerProcess(central.url_db, "--workers", str(workers), log=log).start(workers)
    pg = postmaster(central)

    def cpu() -> tuple[float, ...]:
        return (client_cpu(), tree_cpu(server.proc.pid), tree_cpu(pg) if pg else 0.0, machine_cpu())

    try:
        fig = Figures()
        client = PartnerClient(server.url, *partner)
        side = threading.Thread(
            target=partner_traffic, args=(client, codes, args.partner_rate, args.seconds, fig)
        )
        marks: list[tuple[float, ...]] = [cpu()]
        window = threading.Timer(args.seconds, lambda: marks.append(cpu()))
        start = time.monotonic()
        window.start()
        side.start()
        main_fig = asyncio.run(run_counters(counters, server.port, args.seconds, args.interval))
        side.join()
        window.join()
        tail = time.monotonic() - start - args.seconds
    finally:
        server.stop()
    main_fig.orders, main_fig.order_ended = fig.orders, fig.order_ended
    main_fig.errors += fig.errors
    end = start + args.seconds
    used = [b - a for a, b in zip(marks[0], marks[1], strict=True)]
    return {
        "workers": workers,
        "wall": args.seconds,
        "tail": tail,
        "fig": main_fig,
        "cpu": used,
        "syncs": sum(1 for t in main_fig.ended if t <= end),
        "requests": sum(1 for t in main_fig.request_ended if t <= end),
        "orders": sum(1 for t in main_fig.order_ended if t <= end),
    }


def report(r: dict[str, Any], cores: int) -> None:
    fig: Figures = r["fig"]
    wall = r["wall"]
    client, server, pg, machine = r["cpu"]
    other = max(0.0, machine - client - server - pg)
    print(
        f"{r['workers']} server process(es): {r['syncs'] / wall:7.1f} syncs/s, "
        f"{r['requests'] / wall:7.1f} requests/s, {r['orders'] / wall:.1f} orders/s "
        f"in the {wall:.0f} s window ({fig.abandoned} syncs still waiting 10 s after it: abandoned)"
    )
    print(
        f"  request p50 {pct(fig.requests, 50):6.1f} ms  p95 {pct(fig.requests, 95):7.1f} ms; "
        f"sync p95 {pct(fig.syncs, 95):7.1f} ms; order p95 {pct(fig.orders, 95):7.1f} ms"
    )
    print(f"  records answered: {dict(fig.statuses)}; errors: {dict(fig.errors) or 'none'}")
    per = 1000 * (server + pg) / r["requests"] if r["requests"] else float("nan")
    print(f"  server + PostgreSQL CPU per request: {per:.1f} ms")
    print(
        f"  CPU of {cores} cores x {wall:.0f} s = {cores * wall:.0f} core-s: client {client:.0f}, "
        f"server {server:.0f}, PostgreSQL {pg:.0f}, others on the machine {other:.0f}, "
        f"idle {max(0.0, cores * wall - machine):.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counters", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60.0, help="per configuration")
    ap.add_argument("--interval", type=float, default=3.0, help="seconds between a counter's syncs")
    ap.add_argument("--workers", default="1,4", help="server process counts to compare")
    ap.add_argument("--partner-rate", type=float, default=5.0, help="online orders per second")
    ap.add_argument("--db", help="PostgreSQL URL (default: a fresh database on the test cluster)")
    ap.add_argument("--smoke", action="store_true", help="20 counters, 3 s, 1 and 2 processes")
    args = ap.parse_args(argv)
    if args.smoke:
        args.counters, args.seconds, args.workers, args.partner_rate = 20, 3.0, "1,2", 2.0
    if not (1 <= args.counters <= 5000 and 0 < args.seconds <= 600):
        raise SystemExit("bounded: --counters 1..5000, --seconds up to 600")
    plan = [int(w) for w in args.workers.split(",")]
    random.seed(16)
    try:
        db = args.db or fresh_pg_database()
        with tempfile.TemporaryDirectory(prefix="cinepass-load-") as tmp:
            folder = Path(tmp)
            key = PrivateKey.generate()
            engine = migrate(db)
            setup_central(engine, key, folder / "keys")
            central = Central(engine, None, key, db, folder / "keys", db)
            t = time.perf_counter()
            setup = ServerProcess(db, log=folder / "setup.log").start()
            try:
                counters = enrol_all(central, setup.port, args.counters, per=12)
            finally:
                setup.stop()
            orders = int(args.partner_rate * args.seconds) + 1
            codes = [
                decode_voucher(t).voucher.short_code for t in central.issue(orders * len(plan))
            ]
            with central.session() as s:
                p, secret = add_partner(s, "load")
                partner = (p.id, secret)
            print(
                f"set up {len(counters)} counters enrolled with real keys and "
                f"{len(counters) * 12 + len(codes):,} signed vouchers in "
                f"{time.perf_counter() - t:.1f} s; each syncs every ~{args.interval:g} s"
            )
            results = []
            for i, w in enumerate(plan):
                mine = codes[i * orders : (i + 1) * orders]
                r = measure(central, counters, w, args, partner, mine, folder / f"server-{w}.log")
                report(r, os.cpu_count() or 1)
                results.append(r)
            engine.dispose()
    finally:
        if not args.db:
            stop_pg()
    errors = sum(sum(r["fig"].errors.values()) for r in results)
    base = results[0]["requests"]
    for r in results[1:]:
        ratio = r["requests"] / base if base else 0.0
        print(
            f"{r['workers']} processes / 1: {ratio:.2f}x the requests per second (goal {GOAL}x;"
            " requests, not whole syncs: under saturation few syncs end inside the window)"
        )
    print(f"errors: {errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
