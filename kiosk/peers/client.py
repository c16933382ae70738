"""Asking peers: one signed POST each, all at once, never waiting past the budget.

Each request runs on its own daemon thread with a socket timeout of the
remaining budget, and the caller waits on a queue until every answer is in or
the deadline passes: a dead, slow or unreachable peer costs at most the
budget (:data:`BUDGET_S`, 150 ms), never more, and a CLI can exit without
joining a thread stuck on a black-holed address.
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.peers.wire import PATH, Message, PeerError, open_envelope, seal
from sync.voucher.keys import PrivateKey, PublicKey

BUDGET_S = 0.150


@dataclass(frozen=True)
class Identity:
    """Who we are on the LAN: device id, key, cinema."""

    device: str
    key: PrivateKey
    cinema: str


def split_address(address: str, *, listen: bool = False) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT``; a listen address may say port 0 (any free one)."""
    host, _, port = address.strip().rpartition(":")
    if not host or not port.isdigit() or not (0 if listen else 1) <= int(port) < 65536:
        raise ValueError(f"not HOST:PORT: {address!r}")
    return host, int(port)


def post(address: str, data: bytes, timeout: float) -> bytes:
    """One POST of ``data`` to a peer; the answer's body (raises OSError/HTTPException)."""
    host, port = split_address(address)
    conn = http.client.HTTPConnection(host, port, timeout=max(timeout, 0.001))
    try:
        conn.request("POST", PATH, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise http.client.HTTPException(f"HTTP {resp.status}")
        return body
    finally:
        conn.close()


def ask_all(
    me: Identity,
    addresses: Sequence[str],
    type: str,
    body: Mapping[str, Any],
    keys: Callable[[], Mapping[str, PublicKey]],
    *,
    budget_s: float = BUDGET_S,
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    expect: Mapping[str, str] | None = None,
) -> dict[str, Message]:
    """address -> the checked answer of each peer that answered in time (others are absent).

    An answer counts only if a listed counter of our cinema signed it for us,
    repeating our nonce: a forged or replayed answer is the same as none.
    ``expect`` binds an address to the one device that may answer there (an
    address mDNS found for that device): an answer signed by another key,
    even a listed one, is no answer.
    """
    bound = expect or {}
    if not addresses:
        return {}
    deadline = time.monotonic() + budget_s
    answers: queue.Queue[tuple[str, Message | None]] = queue.Queue()

    def one(address: str) -> None:
        msg: Message | None = None
        try:
            data, nonce = seal(
                me.key,
                type=type,
                sender=me.device,
                to="",
                cinema=me.cinema,
                at=now_ms(),
                body=body,
            )
            raw = post(address, data, deadline - time.monotonic())
            msg = open_envelope(raw, keys(), cinema=me.cinema, me=me.device, now_ms=now_ms())
            if msg.type != "reply" or msg.nonce != nonce:
                msg = None
            elif bound.get(address) not in (None, "", msg.sender):
                msg = None
        except (OSError, http.client.HTTPException, PeerError, ValueError):
            msg = None
        answers.put((address, msg))

    for a in addresses:
        threading.Thread(target=one, args=(a,), name="cinepass-peer-ask", daemon=True).start()
    got: dict[str, Message] = {}
    for _ in addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            address, msg = answers.get(timeout=left)
        except queue.Empty:
            break
        if msg is not None:
            got[address] = msg
    return got
