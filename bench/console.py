"""Console figures: each page's time with 100,000 vouchers and 100,000 redemptions stored.

Run: ``.venv/bin/python bench/console.py`` (``--quick`` for a tenth of the sizes,
``--smoke`` for a hundredth: a few seconds, what CI runs so the script cannot
rot; its figures mean little but are printed the same way).
The real server app (``EmbeddedServer``: uvicorn on a free loopback port) on a
SQLite file, a logged-in ``admin`` session over loopback HTTP. Rows are
inserted in bulk (the tokens are placeholders: no page verifies a signature),
then counted once into the running counts (:func:`sync.office.tally.rebuild`)
as the ledger would have counted them one by one.
For each page it prints p50/p95 of the time from request to the last byte,
beside a bare ``SELECT count(*)`` of the voucher and redemption tables on the
same file (sqlite3), the floor any page sits on.

Goal (issue 12): every page's p95 <= 200 ms at full size. This is not a test:
it prints figures (and PASS/MISS per page).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import requests  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from sync.issuing import DISPLAY_TZ  # noqa: E402
from sync.office import tally, users  # noqa: E402
from sync.server.db import migrate, session_scope  # noqa: E402
from sync.server.embedded import EmbeddedServer  # noqa: E402
from sync.server.models import Cinema, Device, Redemption, Voucher, now_ms  # noqa: E402
from sync.voucher.shortcode import encode_short_code  # noqa: E402

GOAL_MS = 200.0
PASSWORD = "bench password 1"


def seed(url: str, vouchers: int, redemptions: int, cinemas: int = 50) -> list[str]:
    """Cinemas, 4 counters each, vouchers, redemptions over this month; returns some ctis."""
    engine = migrate(url)
    now = now_ms()
    month_start = int(
        datetime.now(DISPLAY_TZ).replace(day=1, hour=0, minute=0, second=0).timestamp() * 1000
    )
    rng = random.Random(12)
    codes = [f"C{i:03d}" for i in range(cinemas)]
    ctis = [rng.randbytes(10) for _ in range(vouchers)]
    with session_scope(engine) as s:
        s.execute(
            insert(Cinema), [{"code": c, "name": f"影院 {c}", "created_at": now} for c in codes]
        )
        s.execute(
            insert(Device),
            [
                {
                    "id": f"dev-{c}-{k}",
                    "cinema": c,
                    "name": "",
                    "public_raw": b"\0" * 32,
                    "token_hash": uuid.uuid4().hex,
                    "status": "active",
                    "enrolled_at": now,
                    "last_contact": now - rng.randrange(0, 3 * 3600_000),
                    "chain_seq": 0,
                    "chain_hash": "0" * 64,
                }
                for c in codes
                for k in range(4)
            ],
        )
        users.add_user(s, "bench", "admin", PASSWORD, actor="bench")
    for start in range(0, vouchers, 5000):
        rows = [
            {
                "cti": cti.hex(),
                "short_code": encode_short_code(cti),
                "issuer_code": "BENCH",
                "kid": "0" * 16,
                "member_ref": f"M{start + i:07d}",
                "holder": f"会员{(start + i) % 9973}",
                "formats": ["2D", "3D"],
                "cinemas": None,
                "admissions": 1,
                "campaign": "bench",
                "iat": now // 1000,
                "nbf": now // 1000,
                "exp": now // 1000 + 365 * 86400,
                "token": "CP1:bench",
                "batch": f"B{(start + i) // 1000}",
                "issued_at": now,
                "status": "active",
            }
            for i, cti in enumerate(ctis[start : start + 5000])
        ]
        with session_scope(engine) as s:
            s.execute(insert(Voucher), rows)
    for start in range(0, redemptions, 5000):
        rows = []
        for i in range(start, min(start + 5000, redemptions)):
            c = codes[i % cinemas]
            rows.append(
                {
                    "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                    "v": 1,
                    "device": f"dev-{c}-{i % 4}",
                    "seq": i,
                    "kind": "redeem",
                    "voucher": ctis[i % vouchers].hex(),
                    "token": "CP1:bench",
                    "cinema": c,
                    "format": "2D" if i % 3 else "3D",
                    "staff": "bench",
                    "at": rng.randrange(month_start, now),
                    "voids": "",
                    "prev": "0" * 64,
                    "hash": "0" * 64,
                    "sig": "0" * 128,
                    "status": "valid" if i < vouchers else "duplicate",
                    "received_at": now,
                    "chain_gap": False,
                    "chain_fork": False,
                }
            )
        with session_scope(engine) as s:
            s.execute(insert(Redemption), rows)
    with session_scope(engine) as s:  # inserted in bulk, past the ledger: count them once
        tally.rebuild(s)
    engine.dispose()
    return [c.hex() for c in ctis[:50]]


def login(base: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{base}/console/login", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
    assert csrf is not None
    r = s.post(
        f"{base}/console/login",
        data={"username": "bench", "password": PASSWORD, "csrf": csrf.group(1)},
        timeout=30,
        allow_redirects=False,
    )
    assert r.status_code == 303, r.status_code
    return s


def timed(s: requests.Session, url: str, n: int) -> list[float]:
    """``n`` timed requests after one untimed one (the first after seeding reads a cold file)."""
    s.get(url, timeout=120)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = s.get(url, timeout=120)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return out


def p95(xs: Sequence[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    scale = 0.01 if args.smoke else 0.1 if args.quick else 1.0
    n_v = n_r = int(100_000 * scale)
    reps = 5 if args.smoke else 20
    with tempfile.TemporaryDirectory(prefix="cinepass-bench-console-") as tmp:
        db = Path(tmp) / "central.sqlite3"
        t0 = time.perf_counter()
        ctis = seed(f"sqlite:///{db}", n_v, n_r)
        print(f"seeded {n_v:,} vouchers, {n_r:,} redemptions in {time.perf_counter() - t0:.1f} s")
        con = sqlite3.connect(db)
        bare = []
        for _ in range(reps):
            t1 = time.perf_counter()
            con.execute("SELECT count(*) FROM voucher").fetchone()
            con.execute("SELECT count(*) FROM redemption").fetchone()
            bare.append((time.perf_counter() - t1) * 1000)
        con.close()
        engine = migrate(f"sqlite:///{db}")
        srv = EmbeddedServer(engine).start()
        try:
            s = login(srv.url)
            month = datetime.now(DISPLAY_TZ).strftime("%Y-%m")
            with session_scope(engine) as sess:
                short = sess.get(Voucher, ctis[0])
                code = short.short_code.lower().replace("-", "") if short else ""
            pages: dict[str, str] = {
                "overview": "/console/overview",
                "overview/live (every 2 s)": "/console/overview/live",
                "vouchers: short code": f"/console/vouchers?q={code}",
                "vouchers: holder search": "/console/vouchers?q=会员77",
                "voucher page": f"/console/vouchers/{ctis[1]}",
                "issue (batches)": "/console/issue",
                "counters": "/console/counters",
                "settlement month": f"/console/settlement?month={month}",
                "settlement one cinema": f"/console/settlement/C001?month={month}",
                "audit": "/console/audit",
                "campaigns": "/console/campaigns",
                "alerts": "/console/alerts",
            }
            print(
                f"{'bare SELECT count(*) x2':32s} p50 {statistics.median(bare):8.2f} ms  p95 {p95(bare):8.2f} ms"
            )
            misses = 0
            for name, path in pages.items():
                xs = timed(s, f"{srv.url}{path}", reps)
                ok = p95(xs) <= GOAL_MS
                misses += not ok
                print(
                    f"{name:32s} p50 {statistics.median(xs):8.2f} ms  p95 {p95(xs):8.2f} ms  "
                    f"{'PASS' if ok else 'MISS'} (goal {GOAL_MS:.0f} ms)"
                )
        finally:
            srv.stop()
            engine.dispose()
    if args.smoke:
        print("(smoke size: the figures only show the script still runs)")
    print(f"{misses} page(s) over the goal" if misses else "every page within the goal")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LANG", "C.UTF-8")
    sys.exit(main())
