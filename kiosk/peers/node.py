"""One counter on the LAN: whom it trusts, whom it asks, and how it answers them.

:class:`Peers` is what a counter knows (its identity, the listed keys, the
addresses to ask) and what it says when asked (:meth:`Peers.handle`): claims
go to :func:`kiosk.peers.claims.witness`, pushed use notices into the store,
``heads`` / ``pull`` serve the exchange after a partition. The CLI's
``redeem`` uses it without listening; ``serve`` and the window add
:class:`PeerServer` and :meth:`Peers.exchange_once` in a loop.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kiosk.engine.db import now_ms
from kiosk.engine.peerstore import LISTEN_META, PeerUse
from kiosk.engine.service import KioskService
from kiosk.peers import claims
from kiosk.peers.client import BUDGET_S, Identity, ask_all
from kiosk.peers.wire import (
    MAX_MESSAGE,
    PATH,
    Message,
    PeerError,
    check_use,
    open_envelope,
    seal,
    use_from_json,
    use_to_json,
)
from sync.records import Record
from sync.voucher.keys import PublicKey

log = logging.getLogger("cinepass.peers")

#: the most use notices one ``pull`` answer carries
PULL_LIMIT = 500


def settings(home: Path) -> dict[str, Any]:
    """config.json as a plain object ({} when unreadable): the LAN keys kiosk.config does not know.

    ``peers`` (a list of HOST:PORT texts, for LANs where the feed's addresses
    do not work) and ``peer_listen`` (where the window listens).
    """
    try:
        data = json.loads((home / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def settings_peers(home: Path) -> list[str]:
    value = settings(home).get("peers")
    return [str(a) for a in value if isinstance(a, str)] if isinstance(value, list) else []


def settings_listen(home: Path) -> str:
    value = settings(home).get("peer_listen")
    return value if isinstance(value, str) else ""


def settings_discovery(home: Path) -> bool:
    """``peer_discovery`` (default true): false turns mDNS off where multicast is unwelcome."""
    return settings(home).get("peer_discovery") is not False


def notice_of(rec: Record, svc: KioskService) -> PeerUse:
    """Our record as the use notice our peers get (no token), signed with our device key."""
    u = PeerUse(
        rec.uuid,
        rec.device,
        rec.seq,
        rec.kind,
        rec.voucher,
        rec.cinema,
        rec.staff,
        rec.at,
        rec.voids,
    )
    return replace(u, sig=svc.device_key.sign(u.canonical()))


class Peers:
    """This counter's LAN side over an open :class:`KioskService`."""

    def __init__(
        self, svc: KioskService, extra: Sequence[str] = (), *, push_wait_s: float = 0.0
    ) -> None:
        self.svc = svc
        #: how long :meth:`push` waits for the peers (a CLI exits right after; the window
        #: and ``serve`` do not wait: the exchange repairs a push that did not arrive)
        self.push_wait_s = push_wait_s
        self.me = Identity(svc.config.device_id, svc.device_key, svc.config.cinema)
        self.extra = [*extra, *settings_peers(svc.paths.home)]
        self.book = claims.ClaimBook(svc.paths.home)
        self._pushes: list[threading.Thread] = []

    # -- whom we trust and ask -------------------------------------------------

    def keys(self) -> dict[str, PublicKey]:
        """device -> key of the active counters of our cinema (the server's list)."""
        return {
            p.device: PublicKey.from_raw(p.public_key)
            for p in self.svc.store.peers()
            if p.status == "active" and len(p.public_key) == 32
        }

    def names(self) -> dict[str, str]:
        return {p.device: p.name for p in self.svc.store.peers()}

    def targets(self) -> dict[str, str]:
        """address -> the device that must answer there ("" = any listed counter).

        ``--peer``, the settings and the server's addresses first; then what mDNS
        found, only for a device the server lists for our cinema with a key
        (read now: a counter revoked since is dropped even if it still
        advertises), and bound to that device.
        """
        own = self.svc.store.get_meta(LISTEN_META) or ""
        listed = [
            p.address
            for p in self.svc.store.peers()
            if p.address and p.status == "active" and p.device != self.me.device
        ]
        out: dict[str, str] = {a: "" for a in [*self.extra, *listed] if a and a != own}
        keys = self.keys()
        for device, address in self.found():
            if device in keys and device != self.me.device and address not in (own, *out):
                out[address] = device
        return out

    def found(self) -> list[tuple[str, str]]:
        """What this counter's mDNS discovery found (none when the claims file fails)."""
        try:
            return self.book.found()
        except sqlite3.Error:
            return []

    def addresses(self) -> list[str]:
        return list(self.targets())

    @property
    def enabled(self) -> bool:
        """A counter takes part only when enrolled (it has an id the others can list)."""
        return bool(self.me.device) and bool(self.addresses())

    def ask(self, type: str, body: dict[str, Any], budget_s: float | None = None) -> list[Message]:
        budget = BUDGET_S if budget_s is None else budget_s
        targets = self.targets()
        got = ask_all(
            self.me, list(targets), type, body, self.keys, budget_s=budget, expect=targets
        )
        return list(got.values())

    # -- after an acceptance ---------------------------------------------------

    def push(self, rec: Record) -> None:
        """Tell every peer of our new record, in the background (the exchange repairs a miss)."""
        body = {"uses": [use_to_json(notice_of(rec, self.svc))]}
        addresses, keys = self.addresses(), self.keys()  # read now: the store may close first
        t = threading.Thread(
            target=ask_all,
            args=(self.me, addresses, "use", body, lambda: keys),
            kwargs={"budget_s": 1.0},
            daemon=True,
        )
        t.start()
        self._pushes.append(t)
        if self.push_wait_s > 0:
            self.flush(self.push_wait_s)

    def flush(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) for pushes in flight: a CLI exits right after."""
        end = time.monotonic() + timeout
        for t in self._pushes:
            t.join(max(0.0, end - time.monotonic()))
        self._pushes = [t for t in self._pushes if t.is_alive()]

    # -- answering -------------------------------------------------------------

    def handle(self, data: bytes) -> bytes:
        """The signed answer to one request (PeerError when it is not to be believed)."""
        msg = open_envelope(
            data, self.keys(), cinema=self.me.cinema, me=self.me.device, now_ms=now_ms()
        )
        body = self._answer(msg)
        out, _ = seal(
            self.me.key,
            type="reply",
            sender=self.me.device,
            to=msg.sender,
            cinema=self.me.cinema,
            at=now_ms(),
            body=body,
            nonce=msg.nonce,
        )
        return out

    def _answer(self, msg: Message) -> dict[str, Any]:
        b = msg.body
        if msg.type == "claim":
            try:
                c = claims.Claim(bytes.fromhex(str(b["cti"])), msg.sender, msg.nonce, int(b["t"]))
                admissions = int(b.get("admissions", 1))
            except (KeyError, ValueError, TypeError) as exc:
                raise PeerError("bad_message", "bad claim") from exc
            if len(c.cti) != 10:
                raise PeerError("bad_message", "bad claim")
            me = self.me.device
            blocker = claims.witness(
                self.book,
                c,
                me,
                lambda cti: self.svc.store.known_uses(cti, me),
                admissions,
                now_ms(),
            )
            if blocker is None:
                return {"answer": "free"}
            return {**blocker.to_json(), "counter": self.counter_name(blocker.device)}
        if msg.type == "use":
            return {"stored": self.take_uses(b.get("uses"))}
        if msg.type == "heads":
            return {"heads": self.heads()}
        if msg.type == "pull":
            device, after = str(b.get("device", "")), int(b.get("after", 0))
            return {"uses": [use_to_json(u) for u in self.uses_after(device, after)]}
        raise PeerError("bad_message", f"nothing to answer to {msg.type}")

    def close(self) -> None:
        self.flush(0.2)
        self.book.close()

    def counter_name(self, device: str) -> str:
        if device == self.me.device:
            return self.svc.config.counter or device
        return self.names().get(device) or device

    def take_uses(self, raw: Any) -> int:
        """Store the notices signed by listed counters of our cinema (relayed ones too)."""
        if not isinstance(raw, list):
            return 0
        keys = self.keys()
        good = []
        for d in raw[:PULL_LIMIT]:
            u = use_from_json(d)
            if u.device != self.me.device and check_use(u, keys, self.me.cinema):
                good.append(u)
        return self.svc.store.add_peer_uses(good)

    def heads(self) -> dict[str, int]:
        heads = self.svc.store.peer_heads()
        heads[self.me.device] = self.svc.store.head_seq()
        return heads

    def uses_after(self, device: str, after: int) -> list[PeerUse]:
        if device != self.me.device:
            return self.svc.store.peer_uses_after(device, after, PULL_LIMIT)
        rows = self.svc.store.read(
            "SELECT uuid FROM records WHERE seq > ? ORDER BY seq LIMIT ?", (after, PULL_LIMIT)
        )
        recs = [self.svc.store.record(r[0]) for r in rows]
        return [notice_of(r, self.svc) for r in recs if r is not None]

    # -- the exchange after a partition -------------------------------------

    def exchange_once(self) -> int:
        """Ask every peer for its chain heads, then pull what we miss; returns new notices."""
        got = 0
        mine = self.heads()
        for answer in self.ask("heads", {}, budget_s=1.0):
            theirs = answer.body.get("heads")
            if not isinstance(theirs, dict):
                continue
            for device, seq in theirs.items():
                if device == self.me.device or not isinstance(seq, int):
                    continue
                after = mine.get(device, 0)
                if seq > after:
                    got += self._pull(answer.sender, device, after)
        return got

    def _pull(self, peer: str, device: str, after: int) -> int:
        got = 0
        for a in self.ask("pull", {"device": device, "after": after}, budget_s=1.0):
            if a.sender == peer:
                got += self.take_uses(a.body.get("uses"))
        return got


class _Handler(BaseHTTPRequestHandler):
    server: PeerServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length") or 0)
        if self.path != PATH or not 0 < length <= MAX_MESSAGE:
            return self._send(404 if self.path != PATH else 413, b'{"error":"refused"}')
        data = self.rfile.read(length)
        try:
            out = self.server.peers.handle(data)
        except PeerError as exc:  # an unknown or forged sender learns nothing else
            log.info("peer message refused: %s", exc.reason)
            return self._send(403, b'{"error":"refused"}')
        except Exception:  # noqa: BLE001 - one bad request must not stop the service
            log.exception("peer request failed")
            return self._send(500, b'{"error":"internal"}')
        self._send(200, out)

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug(format, *args)


class PeerServer(ThreadingHTTPServer):
    """The LAN listener (a thread per request; answers are one short transaction)."""

    daemon_threads = True

    def __init__(self, peers: Peers, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.peers = peers

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        return f"{text}:{port}"

    def start(self) -> PeerServer:
        threading.Thread(target=self.serve_forever, name="cinepass-peers", daemon=True).start()
        return self
