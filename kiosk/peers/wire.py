"""The LAN message envelope: signed JSON over HTTP (byte by byte in docs/lan-peers.md).

Every request and every answer is ``{"msg": M, "sig": S}`` where ``M`` is a
JSON *text* (so the signed bytes are exactly what travelled, no
re-serialisation) and ``S`` the sender's Ed25519 signature over ``M``'s UTF-8
bytes, hex. ``M`` names its sender (``from``), the receiver when known
(``to``), the cinema, the time and a nonce; an answer repeats the request's
nonce, so an answer cannot be replayed for another question. Only devices
the server lists for this cinema, not revoked, are believed: anything else
is dropped as if it never came.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.engine.peerstore import PeerUse
from kiosk.errors import KioskError
from sync.voucher.keys import PrivateKey, PublicKey

PATH = "/cinepass/peer/v1"
VERSION = 1
#: how far a message's time may be from ours before it is refused as stale or replayed: the
#: clock guard's tolerance (kiosk.engine.clock.Clock.TOLERANCE_MS), so counters whose clocks
#: the guard accepts always hear each other
MAX_SKEW_MS = 5 * 60_000
MAX_MESSAGE = 256 * 1024
TYPES = ("claim", "use", "heads", "pull", "reply")


class PeerError(KioskError):
    """A LAN message that is not to be believed (bad shape, unknown sender, bad signature)."""


@dataclass(frozen=True)
class Message:
    """One checked message: who sent it and what it says."""

    type: str
    sender: str
    to: str
    cinema: str
    at: int
    nonce: str
    body: dict[str, Any]


def new_nonce() -> str:
    return secrets.token_hex(16)


def seal(
    key: PrivateKey,
    *,
    type: str,
    sender: str,
    to: str,
    cinema: str,
    at: int,
    body: Mapping[str, Any],
    nonce: str | None = None,
) -> tuple[bytes, str]:
    """The envelope's bytes to send, and the nonce it carries."""
    nonce = nonce or new_nonce()
    m = {
        "v": VERSION,
        "type": type,
        "from": sender,
        "to": to,
        "cinema": cinema,
        "at": at,
        "nonce": nonce,
        "body": dict(body),
    }
    text = json.dumps(m, ensure_ascii=False, separators=(",", ":"))
    sig = key.sign(text.encode("utf-8")).hex()
    return json.dumps({"msg": text, "sig": sig}, ensure_ascii=False).encode("utf-8"), nonce


def open_envelope(
    data: bytes,
    keys: Mapping[str, PublicKey],
    *,
    cinema: str,
    me: str,
    now_ms: int,
) -> Message:
    """The message in ``data`` if a listed peer of ``cinema`` signed it for us, else PeerError.

    ``keys``: device id -> public key of the active counters of this cinema.
    """
    if len(data) > MAX_MESSAGE:
        raise PeerError("too_large", "message too large")
    try:
        outer = json.loads(data.decode("utf-8"))
        text, sig = outer["msg"], bytes.fromhex(outer["sig"])
        m = json.loads(text)
        sender, to, at, nonce = m["from"], m["to"], m["at"], m["nonce"]
        body, typ = m["body"], m["type"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PeerError("bad_message", f"not a peer message: {type(exc).__name__}") from exc
    if m.get("v") != VERSION or typ not in TYPES or not isinstance(body, dict):
        raise PeerError("bad_message", "unknown version or type")
    if not isinstance(sender, str) or not isinstance(to, str) or not isinstance(nonce, str):
        raise PeerError("bad_message", "bad header field")
    key = keys.get(sender)
    if key is None or sender == me:
        raise PeerError("unknown_peer", "sender is not a listed counter of this cinema")
    if not key.verify(sig, text.encode("utf-8")):
        raise PeerError("bad_signature", "bad signature")
    if m.get("cinema") != cinema or to not in ("", me):
        raise PeerError("wrong_receiver", "message for another cinema or counter")
    if not isinstance(at, int) or abs(at - now_ms) > MAX_SKEW_MS:
        raise PeerError("stale", "message time too far from ours")
    return Message(typ, sender, to, cinema, at, nonce, body)


def use_to_json(u: PeerUse) -> dict[str, Any]:
    return {**u.fields_json(), "sig": u.sig.hex()}


def use_from_json(d: Any) -> PeerUse:
    """A use notice from a message body (its signature is checked by the caller)."""
    try:
        u = PeerUse(
            uuid=str(d["uuid"])[:36],
            device=str(d["device"])[:64],
            seq=int(d["seq"]),
            kind=str(d["kind"]),
            voucher=bytes.fromhex(d["voucher"]),
            cinema=str(d["cinema"])[:64],
            staff=str(d["staff"])[:64],
            at=int(d["at"]),
            voids=str(d["voids"])[:36],
            sig=bytes.fromhex(d["sig"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PeerError("bad_message", f"bad use notice: {type(exc).__name__}") from exc
    if len(u.voucher) != 10 or len(u.sig) != 64 or u.kind not in ("redeem", "void") or u.seq < 1:
        raise PeerError("bad_message", "bad use notice")
    return u


def check_use(u: PeerUse, keys: Mapping[str, PublicKey], cinema: str) -> bool:
    """True if ``u`` was signed by its origin, a listed counter of ``cinema`` (relays too)."""
    key = keys.get(u.device)
    return key is not None and u.cinema == cinema and key.verify(u.sig, u.canonical())
