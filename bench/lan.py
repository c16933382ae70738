"""The claim round's cost on loopback, beside a bare verdict (issue 15, docs/lan-peers.md).

Run: ``.venv/bin/python bench/lan.py`` (``--smoke`` for a tiny run that CI
runs so the bench never rots: same sections, figures too small to judge by).
Three counters of one cinema in this process, each a real store; two of them
serve on loopback (the real :class:`kiosk.peers.node.PeerServer`). Prints, per
redemption (durable commit included):

* bare: ``KioskService.redeem`` with no peers;
* round: the same with the claim round to both peers (signed claims, the
  witnesses' transactions, the push after);
* dead: the round with one peer that refuses connections and one that
  accepts and never answers, beside the budget;
* mdns: all three run the peer service with discovery on
  (:func:`kiosk.peers.serve.start`, python-zeroconf bound to 127.0.0.1), no
  address given anywhere: how long until both peers are found, then the
  round to the peers discovery found.

Goals (issue 15): the round adds at most 30 ms p95 (with discovery on too); an
unreachable peer adds at most 150 ms. This is not a test: it prints figures (and PASS/MISS per goal).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers_qr import voucher_token  # noqa: E402
from peers_support import make_counters  # noqa: E402

from kiosk.engine.service import KioskService  # noqa: E402
from kiosk.peers.client import BUDGET_S  # noqa: E402
from kiosk.peers.hook import PeerHook  # noqa: E402
from kiosk.peers.node import Peers, PeerServer  # noqa: E402
from kiosk.peers.serve import Running, start  # noqa: E402
from sync.voucher import PrivateKey  # noqa: E402


def pct(xs: Sequence[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def timed(svc: KioskService, tokens: list[str]) -> list[float]:
    out = []
    for tok in tokens:
        t0 = time.perf_counter()
        v = svc.redeem(tok, fmt="2D")
        out.append((time.perf_counter() - t0) * 1000)
        assert v.accepted, v.reason
    return out


def line(name: str, ms: list[float]) -> tuple[float, float]:
    med, p95 = statistics.median(ms), pct(ms, 95)
    print(f"  {name:<40} median {med:7.2f} ms   p95 {p95:7.2f} ms   (n={len(ms)})")
    return med, p95


def goal(text: str, ok: bool) -> None:
    print(f"  {'PASS' if ok else 'MISS'}  {text}")


def with_peers(svc: KioskService, addresses: list[str]) -> Callable[[], None]:
    peers = Peers(svc, addresses)
    svc.peers = PeerHook(peers)

    def detach() -> None:
        peers.flush(2.0)
        svc.peers = None

    return detach


def discovered(
    services: Sequence[KioskService], issuer: PrivateKey, n: int
) -> tuple[float, list[float], float] | None:
    """(seconds until the first service found the other two, round ms, bare p95 ms).

    None when they were not found within 30 s (a loopback without multicast).
    """
    me = services[0]
    bare95 = pct(timed(me, [voucher_token(issuer) for _ in range(n)]), 95)
    t0 = time.monotonic()
    running: list[Running] = [start(s, "127.0.0.1:0", discovery=True) for s in services]
    try:
        want = {s.config.device_id for s in services[1:]}
        while {d for d, _ in running[0].peers.found()} != want:
            if time.monotonic() - t0 > 30:
                return None  # no multicast on this machine's loopback
            time.sleep(0.02)
        found_s = time.monotonic() - t0
        return found_s, timed(me, [voucher_token(issuer) for _ in range(n)]), bare95
    finally:
        for r in running:
            r.stop()
        me.peers = None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a tiny run (CI)")
    ap.add_argument("-n", type=int, default=200, help="redemptions per section")
    args = ap.parse_args()
    n = 5 if args.smoke else args.n
    issuer = PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        me, b, c = make_counters(Path(tmp), issuer, ["1", "2", "3"])
        servers = [PeerServer(Peers(s), "127.0.0.1", 0).start() for s in (b, c)]
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            refused = f"127.0.0.1:{s.getsockname()[1]}"
        try:
            print(f"claim round on loopback, {n} redemptions per section")
            bare = timed(me, [voucher_token(issuer) for _ in range(n)])
            _, bare95 = line("bare verdict (no peers)", bare)
            detach = with_peers(me, [srv.address for srv in servers])
            round_ms = timed(me, [voucher_token(issuer) for _ in range(n)])
            detach()
            _, round95 = line("with the round (2 peers)", round_ms)
            detach = with_peers(me, [refused, f"127.0.0.1:{hole.getsockname()[1]}"])
            dead = timed(me, [voucher_token(issuer) for _ in range(max(2, n // 10))])
            detach()
            _, dead95 = line("with 2 unreachable peers", dead)
            print(f"  round adds p95 {round95 - bare95:.2f} ms; unreachable adds p95 "
                  f"{dead95 - bare95:.2f} ms (budget {BUDGET_S * 1000:.0f} ms)")  # fmt: skip
            goal("the round adds <= 30 ms p95", round95 - bare95 <= 30)
            goal("an unreachable peer adds <= 150 ms", dead95 - bare95 <= BUDGET_S * 1000 + 5)
            result = discovered([me, b, c], issuer, n)
            if result is None:
                print("  SKIP  mDNS: the peers were not found in 30 s (no multicast here?)")
                return 0
            found_s, mdns, bare95 = result
            print(f"  mDNS on loopback: both peers found {found_s:.2f} s after start")
            _, mdns95 = line("with the round (2 peers found by mDNS)", mdns)
            goal("with discovery on, the round adds <= 30 ms p95", mdns95 - bare95 <= 30)
        finally:
            hole.close()
            for srv in servers:
                srv.shutdown()
                srv.server_close()
            for svc in (me, b, c):
                svc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
