"""Counters find each other by DNS-SD/mDNS (issue 15, docs/lan-peers.md § Discovery).

Real multicast on loopback: this container's ``lo`` carries no MULTICAST
flag, yet Linux delivers a datagram sent to 224.0.0.251 with
``IP_MULTICAST_IF`` 127.0.0.1 to every socket that joined the group on
127.0.0.1, so python-zeroconf bound to 127.0.0.1 (what a counter listening
on 127.0.0.1 does) really advertises, probes and browses there. The
counters run ``cinepass-kiosk serve`` as separate processes, with NO
``--peer`` and no address in the server's list: mDNS is the only way they
can know where the others are. The central server is stopped once they are
enrolled, and comes back only to revoke one of them.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lan_support import Cinema, build_cinema, env, free_port, sync_once
from peers_support import make_counters
from waitfor import wait_for
from zeroconf import IPVersion, ServiceInfo, Zeroconf

from kiosk.engine.service import KioskService
from kiosk.ops.logs import log_files
from kiosk.paths import KioskPaths
from kiosk.peers.claims import ClaimBook
from kiosk.peers.discovery import SERVICE_TYPE, Discovery, instance_name, txt
from kiosk.peers.node import Peers
from kiosk.peers.wire import seal
from sync.voucher import PrivateKey

pytestmark = pytest.mark.timeout(240)

NAMES = {"G": "1号窗口", "H": "2号窗口", "K": "3号窗口"}


def found(cinema: Cinema, name: str) -> dict[str, str]:
    """address -> device, as the counter's running discovery kept them."""
    book = ClaimBook(cinema.homes[name])
    try:
        return {a: d for d, a in book.found()}
    finally:
        book.close()


def log_text(cinema: Cinema, name: str) -> str:
    return "".join(p.read_text(errors="replace") for p in log_files(KioskPaths(cinema.homes[name])))


def sees(cinema: Cinema, me: str, other: str) -> bool:
    return found(cinema, me).get(cinema.addr[other]) == cinema.ids[other]


@pytest.fixture(scope="module")
def cinema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cinema]:
    plan = {n: ("CIN-A", NAMES[n]) for n in "GHK"}
    c = build_cinema(tmp_path_factory.mktemp("mdns"), plan)  # no listen address listed
    for name in "GHK":
        c.serve(name)  # no --peer either: only mDNS can tell where the others are
    wait_for(lambda: all(sees(c, a, b) for a in "GHK" for b in "GHK" if a != b), timeout=30)
    yield c
    c.stop_all()
    c.central.engine.dispose()


class Forger:
    """An advertiser and a peer answering ``used`` to every claim, signed with its own key."""

    def __init__(self, device: str, cinema: str) -> None:
        self.device, self.key, self.asked = device, PrivateKey.generate(), 0
        forger = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                data = self.rfile.read(int(self.headers["Content-Length"]))
                m = json.loads(json.loads(data)["msg"])
                forger.asked += 1
                body = {"answer": "used", "device": forger.device, "at": 1, "staff": "x"}
                out, _ = seal(forger.key, type="reply", sender=forger.device, to=m["from"],
                              cinema=cinema, at=m["at"], body=body, nonce=m["nonce"])  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.http.server_address[1]}"
        self.info = ServiceInfo(
            SERVICE_TYPE,
            f"forged-{device}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton("127.0.0.1")],
            port=int(self.http.server_address[1]),
            properties=txt(device, cinema),
            server=f"forged-{device}.local.",
        )

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def test_the_feed_gives_no_address_mdns_finds_them_all(cinema: Cinema) -> None:
    with KioskService.open(cinema.homes["G"]) as svc:
        assert {p.device for p in svc.store.peers()} == {cinema.ids[n] for n in "GHK"}
        assert {p.address for p in svc.store.peers()} == {""}  # the server knows no address
    assert found(cinema, "H") == {cinema.addr[n]: cinema.ids[n] for n in "GK"}


def test_a_voucher_used_at_one_counter_is_refused_at_the_next_within_a_second(
    cinema: Cinema,
) -> None:
    tok = cinema.tokens[0]
    # H's scanner: its own process, up before the scan at G, scanning the moment G has accepted
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(cinema.homes["H"])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env(),
    )  # fmt: skip
    try:
        assert driver.stdout is not None and driver.stdin is not None
        assert driver.stdout.readline().strip() == "ready"
        first = cinema.redeem("G", tok)  # no --peer: the addresses G's serve found by mDNS
        t0 = time.monotonic()
        driver.stdin.write(tok + "\n")
        driver.stdin.flush()
        second = json.loads(driver.stdout.readline())
        assert time.monotonic() - t0 < 1.0
    finally:
        driver.kill()
        driver.wait(10)
    assert first["reason"] == "accepted"
    assert second["reason"] == "already_redeemed"
    assert second["detail"]["where"] == "peer" and second["detail"]["device"] == cinema.ids["G"]
    assert second["detail"]["counter"] == "1号窗口"
    # and the CLI at the third counter, asking only whom mDNS found, refuses as well
    third = cinema.redeem("K", tok)
    assert third["reason"] == "already_redeemed" and third["message"] == "此券已在 1 号窗口使用"


DRIVER = r"""
import json, sys
from pathlib import Path
from kiosk.engine.service import KioskService
from kiosk.peers.hook import PeerHook
from kiosk.peers.node import Peers
svc = KioskService.open(Path(sys.argv[1]))
svc.peers = PeerHook(Peers(svc))  # no address given: what the counter's discovery found
print("ready", flush=True)
for line in sys.stdin:
    v = svc.redeem(line.strip(), fmt="2D", source="scanner")
    print(json.dumps({"reason": v.reason, "detail": v.detail}, ensure_ascii=False), flush=True)
"""


def test_forged_advertisers_are_ignored(cinema: Cinema) -> None:
    unknown = Forger("dev-not-listed", "CIN-A")  # a device id the server never listed
    stolen = Forger(cinema.ids["K"], "CIN-A")  # a listed id, but not the key listed for it
    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        for f in (unknown, stolen):
            zc.register_service(f.info)
        # H heard both: the listed id became a candidate (an address bound to K's key)...
        wait_for(lambda: found(cinema, "H").get(stolen.address) == cinema.ids["K"], timeout=20)
        assert unknown.address not in found(cinema, "H")  # ...the unlisted one never did
        wait_for(lambda: "ignored forged-dev-not-listed" in log_text(cinema, "H"), timeout=10)
        v = cinema.redeem("H", cinema.tokens[1])  # the forger says "used" to every claim
        assert v["reason"] == "accepted"  # ...signed with another key: no answer
        assert stolen.asked >= 1 and unknown.asked == 0
        with KioskService.open(cinema.homes["H"]) as svc:  # the real K still answers
            answers = Peers(svc).ask("heads", {}, budget_s=1.0)
            assert {a.sender for a in answers} == {cinema.ids["G"], cinema.ids["K"]}
    finally:
        zc.close()
        unknown.close()
        stolen.close()


def test_a_revoked_counter_is_dropped_though_it_still_advertises(cinema: Cinema) -> None:
    from sync.office.devices import revoke_device

    with cinema.central.session() as s:
        revoke_device(s, cinema.ids["K"])
    srv = cinema.restart_server()
    try:
        for name in "GH":  # they learn the revocation from the peers feed
            sync_once(cinema.homes[name])
    finally:
        srv.stop()
    assert sees(cinema, "G", "K")  # K still advertises, and G's discovery still hears it
    with KioskService.open(cinema.homes["G"]) as svc:
        targets = Peers(svc).targets()
    assert cinema.addr["K"] not in targets and targets[cinema.addr["H"]] == cinema.ids["H"]
    tok = cinema.tokens[2]
    assert cinema.redeem("K", tok)["reason"] == "accepted"  # K, revoked, is heard by no one
    assert cinema.redeem("G", tok)["reason"] == "accepted"  # G asks H only; K's push dropped
    for name in "GH":
        with KioskService.open(cinema.homes[name]) as svc:
            rows = svc.store.read(
                "SELECT count(*) FROM peer_uses WHERE device = ?", (cinema.ids["K"],)
            )
            assert rows[0][0] == 0


def test_a_stopped_counter_says_goodbye(cinema: Cinema) -> None:
    cinema.stop("K")
    wait_for(lambda: cinema.addr["K"] not in found(cinema, "H"), timeout=20)


def test_no_discovery_neither_advertises_nor_browses(tmp_path: Path) -> None:
    from kiosk.peers.serve import start

    (a,) = make_counters(tmp_path, PrivateKey.generate(), ["1"])
    try:
        running = start(a, "127.0.0.1:0", discovery=False)
        assert running.discovery is None
        running.stop()
        cfg = a.paths.home / "config.json"
        cfg.write_text(cfg.read_text().replace("{", '{"peer_discovery": false,', 1))
        running = start(a, "127.0.0.1:0")  # the setting, for the window
        assert running.discovery is None
        running.stop()
    finally:
        a.close()


def test_a_network_without_multicast_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (a,) = make_counters(tmp_path, PrivateKey.generate(), ["1"])
    caplog.set_level(logging.DEBUG, logger="cinepass.peers")
    d = Discovery(Peers(a), "192.0.2.254:8711", retry_s=0.01).start()  # no such interface here
    try:
        wait_for(lambda: d.attempts >= 5, timeout=20)
    finally:
        d.stop()
        a.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "LAN discovery unavailable" in warnings[0].getMessage()
    assert warnings[0].exc_info is None  # one line, no traceback
    assert not d.running.is_set()


def test_the_advertisement_says_nothing_secret() -> None:
    assert txt("dev-1", "CIN-A") == {"device": "dev-1", "cinema": "CIN-A", "v": "1"}
    assert len(instance_name("x" * 100).encode()) <= 63
    assert free_port() > 0
