"""DNS-SD / mDNS discovery of the counters of this cinema (python-zeroconf; docs/lan-peers.md).

A running counter (the window or ``cinepass-kiosk serve``) advertises
``_cinepass._tcp.local.`` on the interface of its listen address, with TXT
records ``device``, ``cinema`` and ``v`` (the wire version): nothing secret,
no QR text. It browses for the same service. What it hears is only a hint
of *where* a counter is, never whom to trust: an instance becomes a peer
candidate only when its device id is an active counter of our cinema in the
server's list with a key, and it is then asked bound to that device
(:func:`kiosk.peers.client.ask_all`'s ``expect``), so an answer signed by any
other key counts as none. A revoked counter is dropped at the next round
(:meth:`kiosk.peers.node.Peers.targets` re-reads the list each time), even
if it still advertises.

Candidates go into the counter's claims file (:meth:`ClaimBook.remember`),
so a CLI ``redeem`` on the same home asks them too without browsing itself:
browsing costs seconds, and the verdict must not wait. Everything here runs
on zeroconf's threads and one of ours, never on the window's. A network
without multicast is logged once (then retried quietly every
:data:`RETRY_S`): the server's addresses, ``--peer`` and the settings still
work there.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zeroconf import (
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

from kiosk.engine.db import now_ms
from kiosk.peers.client import split_address
from kiosk.peers.wire import VERSION

if TYPE_CHECKING:
    from kiosk.peers.node import Peers

log = logging.getLogger("cinepass.peers")

SERVICE_TYPE = "_cinepass._tcp.local."
#: seconds between quiet retries when the interface has no multicast (yet)
RETRY_S = 30.0
#: how long one resolution of a found instance may take (on a browser thread, ms)
RESOLVE_MS = 1500


@dataclass(frozen=True)
class Advert:
    """One resolved instance of ``_cinepass._tcp``: what it says about itself."""

    name: str
    device: str
    cinema: str
    version: str
    addresses: tuple[str, ...]


def txt(device: str, cinema: str) -> dict[str, str]:
    """The TXT records a counter advertises (public facts only: docs/lan-peers.md)."""
    return {"device": device, "cinema": cinema, "v": str(VERSION)}


def instance_name(device: str) -> str:
    """The DNS-SD instance label for ``device`` (at most 63 bytes, as DNS wants)."""
    return f"cinepass-{device}".encode()[:63].decode("utf-8", "ignore")


def advert_of(info: ServiceInfo) -> Advert:
    props = {
        k.decode("utf-8", "replace"): (v or b"").decode("utf-8", "replace")
        for k, v in info.properties.items()
    }
    addresses = tuple(f"{ip}:{info.port}" for ip in info.parsed_addresses(IPVersion.V4Only))
    return Advert(
        info.name, props.get("device", ""), props.get("cinema", ""), props.get("v", ""), addresses
    )


def interface_of(address: str) -> str | None:
    """The IPv4 address to advertise and browse on, for a reported listen address.

    A name is resolved; an IPv6 address gives None (discovery is IPv4 only).
    """
    host = split_address(address, listen=True)[0].strip("[]")
    try:
        socket.inet_aton(host)
        return host
    except OSError:
        pass
    if ":" in host:
        return None
    try:
        return socket.gethostbyname(host)
    except OSError:
        return None


class Discovery:
    """Advertise this counter and keep the listed counters heard on the LAN (start/stop)."""

    def __init__(self, peers: Peers, address: str, *, retry_s: float = RETRY_S) -> None:
        self.peers = peers
        self.address = address
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._zc: Zeroconf | None = None
        self._info: ServiceInfo | None = None
        self._thread: threading.Thread | None = None
        #: set once advertising and browsing run (tests and the bench wait on it)
        self.running = threading.Event()
        self.attempts = 0

    def start(self) -> Discovery:
        self._thread = threading.Thread(target=self._run, name="cinepass-mdns", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self._close()
        try:
            self.peers.book.forget()
        except Exception:  # noqa: BLE001 - closing down: the claims file may be gone already
            log.debug("found peers not cleared")

    def accepts(self, ad: Advert) -> bool:
        """A candidate: a listed, active counter of our cinema with a key, not us."""
        me = self.peers.me
        return (
            ad.cinema == me.cinema
            and ad.version == str(VERSION)
            and ad.device != me.device
            and ad.device in self.peers.keys()
            and bool(ad.addresses)
        )

    # -- on our thread -----------------------------------------------------------

    def _run(self) -> None:
        iface = interface_of(self.address)
        if iface is None:
            log.warning(
                "局域网自动发现未启用（仅支持 IPv4 监听地址 %s）/ LAN discovery off: "
                "mDNS runs on IPv4 listen addresses only (%s)",
                self.address,
                self.address,
            )
            return
        warned = False
        while not self._stop.is_set():
            self.attempts += 1
            try:
                self._open(iface)
                self.running.set()
                return
            except Exception as exc:  # noqa: BLE001 - any failure here means: no multicast
                self._close()
                level = logging.DEBUG if warned else logging.WARNING
                log.log(
                    level,
                    "局域网自动发现不可用（%s 无组播？），改用服务器名单与 --peer 地址 / "
                    "LAN discovery unavailable on %s (no multicast?): %s; the server's "
                    "addresses, --peer and the settings still work; retrying every %.0f s",
                    iface,
                    iface,
                    exc,
                    self.retry_s,
                )
                warned = True
            self._stop.wait(self.retry_s)

    def _open(self, iface: str) -> None:
        me = self.peers.me
        port = split_address(self.address, listen=True)[1]
        zc = Zeroconf(interfaces=[iface], ip_version=IPVersion.V4Only)
        self._zc = zc
        name = instance_name(me.device)
        info = ServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(iface)],
            port=port,
            properties=txt(me.device, me.cinema),
            server=f"{name}.local.",
        )
        zc.register_service(info, allow_name_change=True)
        self._info = info
        ServiceBrowser(zc, SERVICE_TYPE, handlers=[self._changed])
        log.info("LAN discovery: advertising %s on %s", info.name, iface)

    def _close(self) -> None:
        zc, self._zc = self._zc, None
        if zc is None:
            return
        try:
            if self._info is not None:
                zc.unregister_service(self._info)  # a goodbye: peers forget us at once
            zc.close()
        except Exception:  # noqa: BLE001 - closing down
            log.debug("zeroconf not closed cleanly")
        self._info = None

    # -- on zeroconf's browser thread ---------------------------------------------

    def _changed(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        try:
            if state_change is ServiceStateChange.Removed:
                self.peers.book.forget(name)
                return
            info = zeroconf.get_service_info(service_type, name, timeout=RESOLVE_MS)
            if info is None:
                return
            ad = advert_of(info)
            if self.accepts(ad):
                self.peers.book.remember(name, ad.device, ad.addresses, now_ms())
                log.info("LAN discovery: counter %s at %s", ad.device, ", ".join(ad.addresses))
            else:
                self.peers.book.forget(name)
                if ad.device != self.peers.me.device:
                    log.info("LAN discovery: ignored %s (not a listed counter of ours)", name)
        except Exception:  # noqa: BLE001 - a bad advertisement or a closing zeroconf
            log.debug("LAN discovery: %s not resolved", name, exc_info=True)


def self_check() -> str:
    """The self-test's check (``cinepass-kiosk --self-test``): zeroconf's compiled parts work.

    It packs this counter's advertisement into a real mDNS answer and parses
    it back, with no network: a bundle missing one of zeroconf's native
    modules fails here, not at the first counter that tries to advertise.
    """
    # the packet classes zeroconf re-exports only for compatibility (pinned version)
    from zeroconf import __version__
    from zeroconf._protocol.incoming import DNSIncoming
    from zeroconf._protocol.outgoing import DNSOutgoing

    name = instance_name("selftest")
    info = ServiceInfo(
        SERVICE_TYPE,
        f"{name}.{SERVICE_TYPE}",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=8711,
        properties=txt("selftest", "SELFTEST"),
        server=f"{name}.local.",
    )
    out = DNSOutgoing(0x8400)  # a response, authoritative (RFC 6762 section 18)
    text, service = info.dns_text(), info.dns_service()
    for record in [*info.dns_addresses(), info.dns_pointer(), service, text]:
        out.add_answer_at_time(record, 0)
    answers = DNSIncoming(out.packets()[0]).answers()
    texts = [a.text for a in answers if isinstance(a, type(text))]
    ports = [a.port for a in answers if isinstance(a, type(service))]
    if texts != [info.text] or ports != [8711]:
        raise RuntimeError("an mDNS answer did not survive packing and parsing")
    return f"zeroconf {__version__}"
