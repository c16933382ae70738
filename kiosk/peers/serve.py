"""A counter's engine without a window: the peer listener, the exchange, the sync.

``cinepass-kiosk serve`` (and the window, through :func:`start`) runs this:
the :class:`~kiosk.peers.node.PeerServer` answering claims and pushes, the
exchange with every peer each ``interval`` seconds (what a partition made us
miss comes back within one interval of the LAN healing), and, on an enrolled
counter, the background sync with the central server.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.engine.peerstore import LISTEN_META
from kiosk.engine.service import KioskService
from kiosk.peers.client import split_address
from kiosk.peers.discovery import Discovery
from kiosk.peers.hook import PeerHook
from kiosk.peers.node import Peers, PeerServer, settings_discovery

log = logging.getLogger("cinepass.peers")

DEFAULT_LISTEN = "0.0.0.0:8711"
EXCHANGE_INTERVAL_S = 1.0


def reported_address(bound: str) -> str:
    """The address peers should use: a wildcard bind is reported as this PC's LAN address."""
    host, port = split_address(bound)
    if host not in ("0.0.0.0", "::", ""):  # noqa: S104 - recognising the wildcard, not binding
        return bound
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the interface
            host = str(s.getsockname()[0])
    except OSError:
        host = "127.0.0.1"
    return f"{host}:{port}"


@dataclass
class Running:
    """A started peer service: stop it with :meth:`stop`."""

    peers: Peers
    server: PeerServer
    address: str
    stop_event: threading.Event
    discovery: Discovery | None = None

    def stop(self) -> None:
        self.stop_event.set()
        if self.discovery is not None:
            self.discovery.stop()
        self.server.shutdown()
        self.server.server_close()
        self.peers.close()
        try:
            self.peers.svc.store.set_meta(LISTEN_META, "")
        except Exception:  # noqa: BLE001 - closing down: the store may be gone already
            log.debug("listen address not cleared")


def start(
    svc: KioskService,
    listen: str = DEFAULT_LISTEN,
    extra: Sequence[str] = (),
    *,
    interval: float = EXCHANGE_INTERVAL_S,
    discovery: bool | None = None,
) -> Running:
    """Listen, attach the claim round to ``svc``, and exchange with peers in the background.

    ``discovery``: advertise and browse by mDNS (None: the ``peer_discovery``
    setting, on by default); it starts on its own thread, so neither this
    call nor any verdict waits for it.
    """
    host, port = split_address(listen, listen=True)
    peers = Peers(svc, extra)
    server = PeerServer(peers, host, port).start()
    address = reported_address(server.address)
    svc.store.set_meta(LISTEN_META, address)
    peers.book.forget()  # what an earlier run found is stale
    if discovery is None:
        discovery = settings_discovery(svc.paths.home)
    found = Discovery(peers, address).start() if discovery and peers.me.device else None
    svc.peers = PeerHook(peers)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                n = peers.exchange_once()
                if n:
                    log.info("learned %d use(s) from peers", n)
            except Exception:  # noqa: BLE001 - the exchange must outlive any one failure
                log.exception("peer exchange failed")

    threading.Thread(target=loop, name="cinepass-peer-exchange", daemon=True).start()
    return Running(peers, server, address, stop, found)
