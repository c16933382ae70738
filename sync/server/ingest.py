"""Redemption upload: verify, store exactly once, and settle who was first.

The expensive part (two Ed25519 verifications per record, ~250 us) happens in
:func:`prepare`, outside any transaction and before the feed-head lock, so
concurrent uploads only serialize on the cheap part. Issuer signatures are
cached per token: a voucher's signature either matches a key id's public key
or it does not, forever, so the cache cannot go stale and two processes with
different caches cannot disagree.

:func:`store` runs in one transaction under the feed-head lock (see
:mod:`sync.server.feeds`): a batch is applied completely or not at all, and a
record whose uuid is already stored is answered from the database, never
inserted again. Replays and batches cut off halfway therefore neither
duplicate nor lose anything.

Who was first (``valid``, ``duplicate`` or a ``disputed`` ``review``, and
what each counter is told) is decided by :mod:`sync.server.ingest_settle`,
in the same transaction, before the new rows are inserted with their final
status (one write per line).

The steps are named functions: :func:`check_records` (shape and device
signature, via :meth:`sync.records.Record.check_seal`), :func:`resolve_vouchers`
(issuer signature), :func:`fresh_records`, :func:`chain_rows` (chain check and
the rows to insert), settlement, and :func:`answers`. Every "which of these
are stored" read goes through :func:`sync.server.db.rows_in`, the one chunked
``IN`` query.

Chain checks and quarantine
---------------------------
Each device's chain head (last seq, hash and time) is a row in ``device``.
A record whose ``seq`` jumps ahead is flagged ``chain_gap``; one whose
``prev`` does not match, or that reuses a seq already stored under another
uuid, ``chain_fork``. A flagged line is ``review`` (kept, not paid) for the
office to investigate. A record that is malformed, names another device or
fails its device signature is refused *on its own* (:class:`Refused`): it is
answered ``rejected`` with its ``problem``, kept in ``quarantine`` (never in
``redemption``), and the rest of the batch is processed. A record whose
voucher signature does not verify is stored as ``rejected`` (never counted)
so the kiosk stops resending it. Each redeem record is also re-verified
against the voucher and the device (:mod:`sync.server.ingest_checks`).
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, Text, select, type_coerce
from sqlalchemy.orm import Session

from sync.records import GENESIS_HASH, Record, RecordError
from sync.voucher.codec import decode_voucher
from sync.voucher.errors import VoucherError
from sync.voucher.keys import PublicKey

from . import feeds
from .db import rows_in
from .errors import ServerError
from .ingest_checks import MAX_SKEW_MS, DeviceFacts, Freezes, VoucherFacts, ordered, redeem_flags
from .ingest_quarantine import Refused, freeze_history, quarantine
from .ingest_settle import STATE_COLS, settle_vouchers
from .models import Device, IssuerKey, Redemption, Voucher, now_ms

__all__ = [
    "ISSUER_CACHE",
    "Checked",
    "IssuerCache",
    "KnownTokens",
    "Prepared",
    "Refused",
    "Sealed",
    "TokenCheck",
    "VoucherFacts",
    "check_records",
    "issued_tokens",
    "prepare",
    "resolve_vouchers",
    "rows_in",
    "store",
    "trusted_keys",
]

_CACHE_MAX = 200_000
_REDEMPTION_TABLE = cast(Table, Redemption.__table__)  # Core insert: no ORM bookkeeping


@dataclass(frozen=True)
class TokenCheck:
    """What a voucher's QR text proves: its cti, what it allows, or what is wrong with it."""

    cti: bytes
    facts: VoucherFacts | None
    problem: str | None

    @property
    def admissions(self) -> int:
        return self.facts.admissions if self.facts else 1


class IssuerCache:
    """token -> issuer-signature verdict (pure, see module docstring)."""

    def __init__(self, size: int = _CACHE_MAX) -> None:
        self._size = size
        self._items: OrderedDict[str, TokenCheck] = OrderedDict()

    def check(self, token: str, keys: dict[bytes, PublicKey]) -> TokenCheck:
        hit = self._items.get(token)
        if hit is not None:
            return hit
        try:
            decoded = decode_voucher(token)
        except VoucherError as exc:
            result = TokenCheck(b"", None, f"bad_voucher:{exc.reason}")
        else:
            v = decoded.voucher
            facts = VoucherFacts(
                v.admissions,
                tuple(v.formats),
                None if v.cinemas is None else tuple(v.cinemas),
                v.nbf,
                v.exp,
            )
            key = keys.get(decoded.kid)
            if key is None:
                # unknown today may be known tomorrow: do not cache
                return TokenCheck(v.cti, facts, "unknown_key")
            ok = key.verify(decoded.signature, decoded.signed_bytes())
            result = TokenCheck(v.cti, facts, None if ok else "bad_voucher_signature")
        self._items[token] = result
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return result


ISSUER_CACHE = IssuerCache()


@dataclass(frozen=True)
class Sealed:
    """A record whose device signature checked out, with the hash the chain links."""

    rec: Record
    sig: bytes
    hash: bytes


@dataclass(frozen=True)
class Prepared(Sealed):
    """A sealed record plus what its voucher proves: ready for :func:`store`."""

    facts: VoucherFacts | None
    problem: str | None

    @property
    def admissions(self) -> int:
        return self.facts.admissions if self.facts else 1


Checked = Prepared | Refused


def trusted_keys(session: Session) -> dict[bytes, PublicKey]:
    """Every issuer key ever registered (retired keys still vouch for old vouchers)."""
    keys = {}
    for raw in session.scalars(select(IssuerKey.public_raw)):
        pk = PublicKey.from_raw(bytes(raw))
        keys[pk.kid] = pk
    return keys


KnownTokens = Callable[[Sequence[str]], dict[str, tuple[str, VoucherFacts]]]


def issued_tokens(session: Session, ctis: Sequence[str]) -> dict[str, tuple[str, VoucherFacts]]:
    """cti hex -> (token, what it allows) of vouchers this server issued (see :func:`prepare`).

    ``formats`` and ``cinemas`` are read as their JSON text and parsed through
    :func:`_scope` (a batch's vouchers share a handful of distinct values), not
    by the JSON type per row: that halves the cost of this read.
    """
    query = select(
        Voucher.cti,
        Voucher.token,
        Voucher.admissions,
        type_coerce(Voucher.formats, Text),
        type_coerce(Voucher.cinemas, Text),
        Voucher.nbf,
        Voucher.exp,
    )
    out = {}
    for cti, token, n, formats, cinemas, nbf, exp in rows_in(session, query, Voucher.cti, ctis):
        facts = VoucherFacts(int(n or 1), _scope(formats) or (), _scope(cinemas), nbf, exp)
        out[cti] = (token, facts)
    return out


def _scope(value: Any) -> tuple[str, ...] | None:
    """A JSON list column as a tuple (``None`` for SQL NULL or JSON null)."""
    if value is None:
        return None
    if isinstance(value, str):
        return _parse_scope(value)
    return tuple(value)  # a driver that parsed the JSON itself (psycopg)


@functools.lru_cache(maxsize=1024)
def _parse_scope(text: str) -> tuple[str, ...] | None:
    parsed = json.loads(text)
    return None if parsed is None else tuple(parsed)


def prepare(
    items: Sequence[dict[str, Any]],
    device_id: str,
    device_key: PublicKey,
    keys: dict[bytes, PublicKey],
    cache: IssuerCache = ISSUER_CACHE,
    known: KnownTokens | None = None,
) -> list[Checked]:
    """Parse and verify a batch (no writes): one :class:`Prepared` or :class:`Refused` each.

    Two steps: :func:`check_records` (shape, device, device signature) and
    :func:`resolve_vouchers` (the issuer signature of each voucher).
    """
    checked = check_records(items, device_id, device_key)
    sealed = [c for c in checked if isinstance(c, Sealed)]
    resolved = iter(resolve_vouchers(sealed, keys, cache, known))
    return [next(resolved) if isinstance(c, Sealed) else c for c in checked]


def check_records(
    items: Sequence[dict[str, Any]], device_id: str, device_key: PublicKey
) -> list[Sealed | Refused]:
    """Step 1: each item is a well-formed record of this device, sealed by its key.

    A record that is malformed, from another device, or not signed by this
    device's key was not produced by this counter's software as written: it
    is :class:`Refused` on its own (quarantined), so one tampered row cannot
    hold up the rest of the queue. Only an item with no uuid to answer by
    refuses the whole batch (422): no kiosk sends one.
    """
    out: list[Sealed | Refused] = []
    for i, item in enumerate(items):
        uuid = item.get("uuid") if isinstance(item, dict) else None
        if not isinstance(uuid, str) or not 0 < len(uuid) <= 36:
            raise ServerError("bad_record", f"record {i} has no uuid to answer by", 422)
        raw_seq = item.get("seq")
        seq = raw_seq if isinstance(raw_seq, int) and not isinstance(raw_seq, bool) else None
        try:
            rec, sig = Record.from_json(item)
        except RecordError as exc:
            out.append(Refused(uuid, seq, "bad_record", f"record {i}: {exc.message}", item))
            continue
        if rec.device != device_id:
            why = f"record {i} belongs to device {rec.device!r}, not this one"
            out.append(Refused(uuid, seq, "wrong_device", why, item))
            continue
        digest = rec.check_seal(device_key, sig)
        if digest is None:
            why = f"record {i} ({rec.uuid}) is not signed by this device's key"
            out.append(Refused(uuid, seq, "bad_device_signature", why, item))
            continue
        out.append(Sealed(rec, sig, digest))
    return out


def resolve_vouchers(
    sealed: Sequence[Sealed],
    keys: dict[bytes, PublicKey],
    cache: IssuerCache = ISSUER_CACHE,
    known: KnownTokens | None = None,
) -> list[Prepared]:
    """Step 2: what each record's voucher proves (admissions, or why it is rejected).

    A token that is byte-for-byte the one stored in the ``voucher`` table at
    issuing time (``known``) was signed by us and checked then, so it is not
    decoded and verified again; any other token (issued by another office, or
    altered) goes through the codec and the issuer keys. That halves the
    Ed25519 work per record on the usual path.
    """
    issued = known(sorted({s.rec.voucher.hex() for s in sealed})) if known else {}
    out: list[Prepared] = []
    for s in sealed:
        hit = issued.get(s.rec.voucher.hex())
        if hit is not None and hit[0] == s.rec.token:
            out.append(Prepared(s.rec, s.sig, s.hash, hit[1], None))
            continue
        check = cache.check(s.rec.token, keys)
        problem = check.problem
        if problem is None and check.cti != s.rec.voucher:
            problem = "voucher_mismatch"
        out.append(Prepared(s.rec, s.sig, s.hash, check.facts, problem))
    return out


def store(session: Session, device_id: str, batch: Sequence[Checked]) -> list[dict[str, Any]]:
    """Apply a prepared batch in the caller's transaction; per-record results in order.

    The steps after :func:`prepare`, all under the feed-head lock: keep the
    refused records in quarantine (:func:`quarantine`), find the records
    already stored (:func:`fresh_records`), chain-check, re-verify and insert
    the new ones (:func:`chain_rows`), settle every voucher they touch
    (:func:`sync.server.ingest_settle.settle_vouchers`), and answer each
    record sent, stored now or before (:func:`answers`).
    """
    feeds.lock_head(session)
    device = session.get(Device, device_id)
    if device is None or device.status != "active":
        raise ServerError("device_revoked", "this counter was disconnected (device revoked)", 403)
    t = now_ms()
    device.last_contact = t
    refused = [c for c in batch if isinstance(c, Refused)]
    quarantine(session, device_id, refused, t)
    new = fresh_records(session, [c for c in batch if isinstance(c, Prepared)])
    redeemed = {p.rec.voucher.hex() for p in new if p.rec.kind == "redeem"}
    rows = chain_rows(session, device, new, t, freeze_history(session, redeemed))
    before = stored_rows(session, affected_vouchers(session, rows))
    admissions = {p.rec.voucher.hex(): p.admissions for p in new if p.problem is None}
    final = settle_vouchers(session, before, rows, admissions)
    for row in rows:  # inserted already settled: no second write per line
        row["status"], row["duplicate_of"], row["flags"] = final[row["uuid"]]
    if rows:
        session.execute(_REDEMPTION_TABLE.insert(), rows)
    for r in refused:
        final[r.uuid] = ("rejected", None, [])
    problems = {r.uuid: r.problem for r in refused}
    uuids = [c.uuid if isinstance(c, Refused) else c.rec.uuid for c in batch]
    return answers(session, uuids, rows, final, problems)


def fresh_records(session: Session, batch: Sequence[Prepared]) -> list[Prepared]:
    """Step 3: the records not stored yet (first copy of each uuid), in chain order."""
    uuids = [p.rec.uuid for p in batch]
    existing = {u for (u,) in rows_in(session, select(Redemption.uuid), Redemption.uuid, uuids)}
    fresh: dict[str, Prepared] = {}
    for p in batch:
        if p.rec.uuid not in existing and p.rec.uuid not in fresh:
            fresh[p.rec.uuid] = p
    return sorted(fresh.values(), key=lambda p: p.rec.seq)


def chain_rows(
    session: Session, device: Device, new: Sequence[Prepared], t: int, freezes: Freezes
) -> list[dict[str, Any]]:
    """Step 4: the rows to insert, chain-checked against the device's head (advanced here).

    Each redeem row also gets the flags of :func:`sync.server.ingest_checks.redeem_flags`
    (the record's claims against the voucher, the device and the office).
    """
    facts = DeviceFacts.of(device, t)
    # the stored neighbours of records at or below the head: forks, and the previous time
    low = [p.rec.seq for p in new if p.rec.seq <= device.chain_seq]
    near = set(low) | {s - 1 for s in low}
    query = select(Redemption.seq, Redemption.hash, Redemption.at, Redemption.at_server).where(
        Redemption.device == device.id
    )
    taken = {
        int(seq): (h, int(at if at_server is None else at_server))
        for seq, h, at, at_server in rows_in(session, query, Redemption.seq, near)
    }
    head_seq, head_hash, head_at = device.chain_seq, device.chain_hash, device.chain_at
    rows: list[dict[str, Any]] = []
    for p in new:
        flags: list[str] = []
        rec = p.rec
        prev_at: int | None = None
        ahead = rec.seq > head_seq
        if ahead:
            if rec.seq == head_seq + 1:
                if rec.prev.hex() != head_hash:
                    flags.append("chain_fork")
            else:
                flags.append("chain_gap")
            prev_at = head_at if head_seq else None
        elif rec.seq in taken:
            flags.append("chain_fork")  # a second record claiming an already used position
        elif rec.seq == 1 and rec.prev != GENESIS_HASH:
            flags.append("chain_fork")
        elif rec.seq - 1 in taken:
            prev_hash, prev_at = taken[rec.seq - 1]
            if prev_hash != rec.prev.hex():
                flags.append("chain_fork")
        if rec.kind == "redeem" and p.problem is None:
            history = freezes.get(rec.voucher.hex(), ())
            flags += redeem_flags(rec, p.facts, facts, prev_at=prev_at, freezes=history)
        if ahead:
            head_seq, head_hash = rec.seq, p.hash.hex()
            at_server = rec.at + facts.offset_ms
            if at_server <= t + MAX_SKEW_MS:  # a time in the future must not hold back the next
                head_at = max(head_at, at_server)
        rows.append(_row(p, t, ordered(flags), facts.offset_ms))
    device.chain_seq, device.chain_hash, device.chain_at = head_seq, head_hash, head_at
    return rows


def affected_vouchers(session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Step 5a: the vouchers whose settlement the new rows can change (theirs and voided ones)."""
    affected: set[str] = {r["voucher"] for r in rows}
    targets = [r["voids"] for r in rows if r["kind"] == "void" and r["voids"]]
    query = select(Redemption.voucher)
    affected.update(cti for (cti,) in rows_in(session, query, Redemption.uuid, targets))
    return affected


def stored_rows(session: Session, ctis: Collection[str]) -> dict[str, list[dict[str, Any]]]:
    """Step 5b: cti -> the records stored so far for it (read before the new ones go in)."""
    by_cti: dict[str, list[dict[str, Any]]] = {}
    for row in rows_in(session, select(*STATE_COLS), Redemption.voucher, ctis):
        d = dict(row._mapping)
        by_cti.setdefault(d["voucher"], []).append(d)
    return by_cti


def _row(p: Prepared, t: int, flags: list[str], offset_ms: int) -> dict[str, Any]:
    rec = p.rec
    return {
        "uuid": rec.uuid,
        "v": rec.v,
        "device": rec.device,
        "seq": rec.seq,
        "kind": rec.kind,
        "voucher": rec.voucher.hex(),
        "token": rec.token,
        "cinema": rec.cinema,
        "format": rec.format,
        "staff": rec.staff,
        "at": rec.at,
        "voids": rec.voids,
        "prev": rec.prev.hex(),
        "hash": p.hash.hex(),
        "sig": p.sig.hex(),
        "status": "rejected" if p.problem else ("void" if rec.kind == "void" else "valid"),
        "duplicate_of": None,
        "problem": p.problem,
        "received_at": t,
        "chain_gap": "chain_gap" in flags,
        "chain_fork": "chain_fork" in flags,
        "flags": flags,
        "at_server": rec.at + offset_ms,
        "decision": None,
    }


Final = dict[str, tuple[str, str | None, list[str]]]


def answers(
    session: Session,
    uuids: Sequence[str],
    rows: Sequence[dict[str, Any]],
    final: Final,
    refused: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Step 6: one result per record sent, in order; a replayed one is answered from the rows."""
    final = dict(final)
    problems: dict[str, str | None] = {r["uuid"]: r["problem"] for r in rows}
    problems.update(refused or {})
    missing = [u for u in uuids if u not in final]
    query = select(
        Redemption.uuid,
        Redemption.status,
        Redemption.duplicate_of,
        Redemption.problem,
        Redemption.flags,
    )
    for u, status, dup, problem, flags in rows_in(session, query, Redemption.uuid, missing):
        final[u] = (status, dup, list(flags or []))
        problems[u] = problem
    firsts = first_uses(session, {d for _s, d, _f in final.values() if d})
    out = []
    for u in uuids:
        status, dup, flags = final[u]
        first = firsts.get(dup) if dup else None
        out.append(
            {
                "uuid": u,
                "status": status,
                "flags": flags,
                "duplicate_of": dup,
                "first": first,
                "problem": problems.get(u),
            }
        )
    return out


def first_uses(session: Session, uuids: Collection[str]) -> dict[str, dict[str, Any]]:
    """uuid -> {uuid, cinema, device, staff, at} of the given (valid) records."""
    query = select(
        Redemption.uuid, Redemption.cinema, Redemption.device, Redemption.staff, Redemption.at
    )
    return {row.uuid: dict(row._mapping) for row in rows_in(session, query, Redemption.uuid, uuids)}
