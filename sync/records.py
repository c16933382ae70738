"""The redemption record: the one format the kiosk writes and the server ingests.

Each kiosk keeps an append-only chain of records. A record's canonical bytes
are deterministic CBOR of its fields (below); its hash is SHA-256 over those
bytes, and the next record's ``prev`` holds that hash, so removing, inserting
or altering any record breaks the chain. Each record is also signed (Ed25519)
by the device's own key over the canonical bytes, so the server can prove
that a record came from that counter and was not changed on the way.

Canonical CBOR map (text keys, RFC 8949 deterministic order)::

    "v"       int   format version, 1
    "uuid"    text  record id (UUID4, lower-case hex with dashes): idempotency key
    "device"  text  device id given at enrolment ("" on a standalone kiosk)
    "seq"     int   per-device sequence number, 1, 2, 3, ...
    "kind"    text  "redeem" or "void"
    "voucher" bstr  the voucher's 10-byte cti
    "token"   text  the full QR text of the voucher (so the server re-verifies it)
    "cinema"  text  cinema code
    "format"  text  "2D" or "3D" (as chosen at the counter)
    "staff"   text  clerk's sign-in name ("" if none)
    "at"      int   UTC time of the event, milliseconds since 1970
    "voids"   text  for kind "void": the uuid of the voided record, else ""
    "prev"    bstr  SHA-256 of the previous record's canonical bytes (32 zero bytes first)

In JSON (the upload API) bytes travel as lower-case hex; ``sig`` is the
device signature, hex.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from typing import Any

import cbor2

from sync.errors import CinePassError
from sync.voucher.keys import PrivateKey, PublicKey

RECORD_VERSION = 1
GENESIS_HASH = bytes(32)
KINDS = ("redeem", "void")


class RecordError(CinePassError):
    """A record (from JSON or the wire) has the wrong shape; ``reason`` is a code."""

    http_status = 422


@dataclass(frozen=True)
class Record:
    uuid: str
    device: str
    seq: int
    kind: str
    voucher: bytes
    token: str
    cinema: str
    format: str
    staff: str
    at: int
    voids: str
    prev: bytes
    v: int = RECORD_VERSION

    def canonical_bytes(self) -> bytes:
        # a shallow field dict: same CBOR as asdict(), without its per-field deepcopy
        # (which cost more than the Ed25519 check on the server's ingest path)
        d = {name: getattr(self, name) for name in _FIELDS}
        return bytes(cbor2.dumps(d, canonical=True))

    def hash(self) -> bytes:
        return hashlib.sha256(self.canonical_bytes()).digest()

    def sign(self, key: PrivateKey) -> bytes:
        return key.sign(self.canonical_bytes())

    def seal(self, key: PrivateKey) -> tuple[bytes, bytes]:
        """``(hash, signature)`` from one encoding: what the chain links, what the server checks.

        The kiosk seals each record it writes and the server re-checks it with
        :meth:`check_seal`; both go through the same canonical bytes, once.
        """
        canonical = self.canonical_bytes()
        return hashlib.sha256(canonical).digest(), key.sign(canonical)

    def check_seal(self, key: PublicKey, signature: bytes) -> bytes | None:
        """The record's hash if ``signature`` is the device's over it, else ``None``."""
        canonical = self.canonical_bytes()
        if not key.verify(signature, canonical):
            return None
        return hashlib.sha256(canonical).digest()

    def verify(self, key: PublicKey, signature: bytes) -> bool:
        return key.verify(signature, self.canonical_bytes())

    def to_json(self, signature: bytes) -> dict[str, Any]:
        d = asdict(self)
        d["voucher"] = self.voucher.hex()
        d["prev"] = self.prev.hex()
        d["sig"] = signature.hex()
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> tuple[Record, bytes]:
        """Parse one uploaded record; raise :class:`RecordError` on any defect."""
        try:
            rec = Record(
                uuid=_str(d, "uuid", 36),
                device=_str(d, "device", 64),
                seq=_int(d, "seq"),
                kind=_str(d, "kind", 8),
                voucher=bytes.fromhex(_str(d, "voucher", 20)),
                token=_str(d, "token", 2048),
                cinema=_str(d, "cinema", 64),
                format=_str(d, "format", 8),
                staff=_str(d, "staff", 64),
                at=_int(d, "at"),
                voids=_str(d, "voids", 36),
                prev=bytes.fromhex(_str(d, "prev", 64)),
                v=_int(d, "v"),
            )
            sig = bytes.fromhex(_str(d, "sig", 128))
        except ValueError as exc:
            if isinstance(exc, RecordError):
                raise
            raise RecordError("bad_record", f"bad hex field: {exc}") from exc
        if rec.v != RECORD_VERSION:
            raise RecordError("bad_record", f"unsupported record version {rec.v}")
        if rec.kind not in KINDS:
            raise RecordError("bad_record", f"unknown record kind {rec.kind!r}")
        if len(rec.voucher) != 10 or len(rec.prev) != 32 or len(sig) != 64:
            raise RecordError("bad_record", "voucher, prev or sig has the wrong length")
        return rec, sig


_FIELDS = tuple(f.name for f in fields(Record))


def _str(d: dict[str, Any], name: str, max_len: int) -> str:
    value = d.get(name)
    if not isinstance(value, str) or len(value) > max_len:
        raise RecordError("bad_record", f"field {name!r} must be text of at most {max_len}")
    return value


def _int(d: dict[str, Any], name: str) -> int:
    value = d.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise RecordError("bad_record", f"field {name!r} must be a non-negative integer")
    return value
