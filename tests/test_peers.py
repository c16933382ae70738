"""Counters of one cinema guard each other over the LAN (issue 15, docs/lan-peers.md).

Real parts only: a central server (SQLite) enrols three counters of cinema
CIN-A and one of CIN-B, each syncs once (learning the ``peers`` feed), then
the server is stopped. Each counter runs ``cinepass-kiosk serve`` as its own
process on loopback; scans come from other processes (``cinepass-kiosk
redeem --peer ...``, or a driver firing many redemptions at one instant).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from lan_support import Cinema, build_cinema, env, free_port, sync_once
from waitfor import wait_for

from kiosk.config import load_config, save_config
from kiosk.engine.service import KioskService
from sync.server.embedded import EmbeddedServer

pytestmark = pytest.mark.timeout(240)

NAMES = {"A": "1号窗口", "B": "2号窗口", "C": "3号窗口", "F": "9号窗口"}  # D, E: CIN-C


@pytest.fixture(scope="module")
def cinema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cinema]:
    plan = {n: ("CIN-A", NAMES[n]) for n in "ABC"}
    plan |= {"F": ("CIN-B", NAMES["F"]), "D": ("CIN-C", "D号窗口"), "E": ("CIN-C", "E号窗口")}
    c = build_cinema(tmp_path_factory.mktemp("lan"), plan, listen="ABC")
    for name in "ABC":
        c.serve(name)  # no --peer: the feed's addresses
    yield c
    c.stop_all()
    c.central.engine.dispose()


def test_the_peers_feed_lists_the_counters_of_the_cinema(cinema: Cinema) -> None:
    with KioskService.open(cinema.homes["B"]) as svc:
        listed = {p.device: p for p in svc.store.peers()}
    assert set(listed) == {cinema.ids[n] for n in "ABC"}  # not F: another cinema
    assert listed[cinema.ids["A"]].name == "1号窗口" and listed[cinema.ids["A"]].status == "active"
    assert {listed[cinema.ids[n]].address for n in "ABC"} == {cinema.addr[n] for n in "ABC"}
    with KioskService.open(cinema.homes["F"]) as svc:
        assert [p.device for p in svc.store.peers()] == [cinema.ids["F"]]


def test_a_voucher_used_at_a_is_refused_at_b_naming_a(cinema: Cinema) -> None:
    tok = cinema.tokens[0]
    t0 = time.monotonic()
    first = cinema.redeem("A", tok, "B", "C")
    second = cinema.redeem("B", tok)  # no --peer: the addresses the server listed
    assert time.monotonic() - t0 < 20
    assert first["reason"] == "accepted"
    assert second["reason"] == "already_redeemed" and second["verdict"] == "rejected"
    detail = second["detail"]
    assert isinstance(detail, dict)
    assert detail["where"] == "peer" and detail["device"] == cinema.ids["A"]
    assert detail["counter"] == "1号窗口"
    assert second["message"] == "此券已在 1 号窗口使用"
    assert second["message_en"] == "Already used at counter 1"
    # the push reached C too: it refuses from what it knows, even asking nobody
    wait_for(lambda: cinema.redeem("C", tok, "A")["reason"] == "already_redeemed", timeout=10)


DRIVER = r"""
import json, sys, threading, time
from pathlib import Path
from kiosk.engine.peerstore import LISTEN_META
from kiosk.engine.service import KioskService
from kiosk.peers.hook import PeerHook
from kiosk.peers.node import Peers
home, at, n, token, *peers = sys.argv[1:]
svc = KioskService.open(Path(home))
svc.peers = PeerHook(Peers(svc, peers))
out = []
def one():
    v = svc.redeem(token, fmt="2D", source="scanner")
    out.append([v.reason, v.detail.get("device")])
while time.time() < float(at):
    time.sleep(0.001)
threads = [threading.Thread(target=one) for _ in range(int(n))]
for t in threads: t.start()
for t in threads: t.join()
svc.peers.peers.flush(1.0)
print(json.dumps(out))
"""


def test_fifty_scans_at_two_counters_at_once_admit_exactly_one(cinema: Cinema) -> None:
    tok = cinema.tokens[1]
    at = time.time() + 3.0  # both drivers are up by then; they fire at this instant
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(cinema.homes[me]), str(at), "25", tok,
             cinema.addr[other], cinema.addr["C"]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
        )
        for me, other in (("A", "B"), ("B", "A"))
    ]  # fmt: skip
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        results += json.loads(out)
    reasons = [r[0] for r in results]
    assert len(reasons) == 50
    assert reasons.count("accepted") == 1, reasons
    assert set(reasons) <= {"accepted", "already_redeemed", "already_redeemed"}


def test_a_forged_peer_is_ignored(cinema: Cinema) -> None:
    tok = cinema.tokens[2]
    # F is a real counter, but of another cinema: A does not list its key
    forged = cinema.redeem("F", tok, "A")  # F pushes its use to A, and claims there first
    assert forged["reason"] == "accepted"  # F itself accepts (its cinema, its store)
    with KioskService.open(cinema.homes["A"]) as svc:
        assert svc.store.read("SELECT count(*) FROM peer_uses WHERE device = ?",
                              (cinema.ids["F"],))[0][0] == 0  # fmt: skip
    assert cinema.redeem("A", tok)["reason"] == "accepted"  # F's push was dropped


def test_an_unreachable_peer_adds_at_most_the_budget(cinema: Cinema) -> None:
    from kiosk.peers.client import BUDGET_S
    from kiosk.peers.hook import PeerHook
    from kiosk.peers.node import Peers

    hole = socket.socket()  # accepts connections (the backlog) and never answers
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    dead = f"127.0.0.1:{free_port()}"  # nobody listens: refused at once
    try:
        with KioskService.open(cinema.homes["C"]) as svc:
            peers = Peers(svc, [dead, f"127.0.0.1:{hole.getsockname()[1]}"])
            svc.peers = PeerHook(peers)
            t0 = time.monotonic()
            answers = peers.ask("claim", {"cti": "00" * 10, "t": 1, "admissions": 1})
            waited = time.monotonic() - t0
            assert {a.sender for a in answers} == {cinema.ids["A"], cinema.ids["B"]}  # the feed's
            assert waited <= BUDGET_S + 0.03, waited
            t0 = time.monotonic()
            v = svc.redeem(cinema.tokens[3], fmt="2D")
            assert v.accepted and time.monotonic() - t0 < BUDGET_S + 0.25
    finally:
        hole.close()


def test_a_counter_that_was_down_learns_what_it_missed(cinema: Cinema) -> None:
    tok = cinema.tokens[4]
    cinema.stop("B")
    try:
        assert cinema.redeem("A", tok)["reason"] == "accepted"  # B is off: the push misses it
    finally:
        cinema.serve("B")
    # B's exchange (heads, then the missing notices) brings A's use in
    ida = cinema.ids["A"]

    def learned() -> bool:
        with KioskService.open(cinema.homes["B"]) as svc:
            rows = svc.store.read("SELECT count(*) FROM peer_uses WHERE device = ?", (ida,))
            return bool(rows[0][0] >= 2)

    wait_for(learned, timeout=10)
    refused = cinema.redeem("B", tok)
    assert refused["reason"] == "already_redeemed"
    assert isinstance(refused["detail"], dict) and refused["detail"]["device"] == ida
    assert refused["detail"]["where"] == "peer"


def test_a_partition_lets_each_side_accept_then_both_learn_and_the_server_flags_it(
    cinema: Cinema,
) -> None:
    from faultproxy import FaultProxy, Faults

    tok = cinema.tokens[5]
    cut = Faults(drop_request=1.0)  # every connection between D and E is cut
    d_port, e_port = free_port(), free_port()
    to_d, to_e = FaultProxy(d_port, cut).start(), FaultProxy(e_port, cut).start()
    proxy = {"D": f"127.0.0.1:{to_d.port}", "E": f"127.0.0.1:{to_e.port}"}
    cinema.addr.update(D=f"127.0.0.1:{d_port}", E=f"127.0.0.1:{e_port}")
    try:
        cinema.serve("D", proxy["E"], discovery=False)
        cinema.serve("E", proxy["D"], discovery=False)
        assert cinema.redeem("D", tok, proxy["E"])["reason"] == "accepted"
        assert cinema.redeem("E", tok, proxy["D"])["reason"] == "accepted"  # cannot know
        to_d.faults = to_e.faults = Faults()  # the LAN heals

        def learned(me: str, other: str) -> bool:
            with KioskService.open(cinema.homes[me]) as svc:
                rows = svc.store.read(
                    "SELECT count(*) FROM peer_uses WHERE device = ?", (cinema.ids[other],)
                )
                return bool(rows[0][0])

        wait_for(lambda: learned("D", "E") and learned("E", "D"), timeout=15)
        again = cinema.redeem("D", tok, proxy["E"])
        assert again["reason"] == "already_redeemed" and again["detail"]["where"] == "peer"
    finally:
        for name in ("D", "E"):
            if name in cinema.procs:
                cinema.stop(name)
        to_d.stop()
        to_e.stop()
    # the central server comes back: each counter uploads its own record, once
    srv = EmbeddedServer(cinema.central.engine).start()
    try:
        for name in ("D", "E"):
            cfg = load_config(cinema.homes[name] / "config.json")
            cfg.server_url = srv.url
            save_config(cinema.homes[name] / "config.json", cfg)
            sync_once(cinema.homes[name])
        sync_once(cinema.homes["D"])  # the status feed tells the first one too
        statuses = []
        for name in ("D", "E"):
            with KioskService.open(cinema.homes[name]) as svc:
                statuses += [r[0] for r in svc.store.read("SELECT server_status FROM records")]
        assert sorted(statuses) == ["duplicate", "valid"]
    finally:
        srv.stop()


def test_a_record_relayed_by_two_counters_reaches_the_server_once(cinema: Cinema) -> None:
    from sqlalchemy import text

    tok = cinema.tokens[7]
    cinema.stop("C")
    try:
        assert cinema.redeem("A", tok)["reason"] == "accepted"  # the push reaches B, not C
    finally:
        cinema.stop("A")  # A is gone before C comes back: C can hear of it only through B
        cinema.serve("C")
    with KioskService.open(cinema.homes["A"]) as svc:
        uuid = str(svc.store.read("SELECT uuid FROM records ORDER BY seq DESC LIMIT 1")[0][0])

    def knows(name: str) -> bool:
        with KioskService.open(cinema.homes[name]) as svc:
            rows = svc.store.read("SELECT count(*) FROM peer_uses WHERE uuid = ?", (uuid,))
            return bool(rows[0][0])

    wait_for(lambda: knows("C"), timeout=15)  # relayed by B (heads, then pull)
    assert knows("B")
    cinema.serve("A")
    srv = cinema.restart_server()
    try:
        for name in "BCA":  # the two relays first: they must not upload A's record
            sync_once(cinema.homes[name])
    finally:
        srv.stop()
    with cinema.central.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT device, status FROM redemption WHERE uuid = :u"), {"u": uuid}
        ).all()
    assert [tuple(r) for r in rows] == [(cinema.ids["A"], "valid")]
