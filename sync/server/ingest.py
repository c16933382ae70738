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

Who was first (``valid`` or ``duplicate``, and what each counter is told) is
decided by :mod:`sync.server.ingest_settle`, in the same transaction.

The steps are named functions: :func:`check_records` (shape and device
signature, via :meth:`sync.records.Record.check_seal`), :func:`resolve_vouchers`
(issuer signature), :func:`fresh_records`, :func:`chain_rows` (chain check and
the rows to insert), settlement, and :func:`answers`. Every "which of these
are stored" read goes through :func:`rows_in`, the one chunked ``IN`` query.

Chain checks
------------
Each device's chain head (last seq and hash) is a row in ``device``. A record
whose ``seq`` jumps ahead is stored with ``chain_gap``; one whose ``prev``
does not match, or that reuses a seq already stored under another uuid, is
stored with ``chain_fork``. Flags are for the office to investigate; the
redemption still counts, because the voucher and device signatures are
sound. A record whose voucher signature does not verify is stored as
``rejected`` (never counted) so the kiosk stops resending it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVarTuple, cast

from sqlalchemy import Row, Select, Table, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from sync.records import GENESIS_HASH, Record, RecordError
from sync.voucher.codec import decode_voucher
from sync.voucher.errors import VoucherError
from sync.voucher.keys import PublicKey

from . import feeds
from .errors import ServerError
from .ingest_settle import settle_vouchers
from .models import Device, IssuerKey, Redemption, Voucher, now_ms

_CACHE_MAX = 200_000
_CHUNK = 500  # values per IN (...): well under every database's bound-parameter limit
_REDEMPTION_TABLE = cast(Table, Redemption.__table__)  # Core insert: no ORM bookkeeping


Ts = TypeVarTuple("Ts")


def rows_in(
    session: Session,
    query: Select[*Ts],
    column: InstrumentedAttribute[Any],
    values: Collection[Any],
) -> Iterator[Row[*Ts]]:
    """The rows of ``query`` whose ``column`` is one of ``values``, asked in chunks.

    A batch of 1,000 records can name 1,000 uuids or vouchers; one ``IN``
    list that long would hit SQLite's parameter limit on older builds and
    makes PostgreSQL plan badly, so every "which of these exist" question of
    ingest goes through here.
    """
    wanted = list(values)
    for i in range(0, len(wanted), _CHUNK):
        yield from session.execute(query.where(column.in_(wanted[i : i + _CHUNK])))


@dataclass(frozen=True)
class TokenCheck:
    """What a voucher's QR text proves: its cti, its admissions, or what is wrong with it."""

    cti: bytes
    admissions: int
    problem: str | None


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
            result = TokenCheck(b"", 1, f"bad_voucher:{exc.reason}")
        else:
            key = keys.get(decoded.kid)
            if key is None:
                # unknown today may be known tomorrow: do not cache
                return TokenCheck(decoded.voucher.cti, decoded.voucher.admissions, "unknown_key")
            ok = key.verify(decoded.signature, decoded.signed_bytes())
            result = TokenCheck(
                decoded.voucher.cti,
                decoded.voucher.admissions,
                None if ok else "bad_voucher_signature",
            )
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

    admissions: int
    problem: str | None


def trusted_keys(session: Session) -> dict[bytes, PublicKey]:
    """Every issuer key ever registered (retired keys still vouch for old vouchers)."""
    keys = {}
    for raw in session.scalars(select(IssuerKey.public_raw)):
        pk = PublicKey.from_raw(bytes(raw))
        keys[pk.kid] = pk
    return keys


KnownTokens = Callable[[Sequence[str]], dict[str, tuple[str, int]]]


def issued_tokens(session: Session, ctis: Sequence[str]) -> dict[str, tuple[str, int]]:
    """cti hex -> (token, admissions) of vouchers this server issued (see :func:`prepare`)."""
    query = select(Voucher.cti, Voucher.token, Voucher.admissions)
    return {cti: (token, int(n)) for cti, token, n in rows_in(session, query, Voucher.cti, ctis)}


def prepare(
    items: Sequence[dict[str, Any]],
    device_id: str,
    device_key: PublicKey,
    keys: dict[bytes, PublicKey],
    cache: IssuerCache = ISSUER_CACHE,
    known: KnownTokens | None = None,
) -> list[Prepared]:
    """Parse and verify a batch (no writes). Any defect refuses the whole batch.

    Two steps: :func:`check_records` (shape, device, device signature) and
    :func:`resolve_vouchers` (the issuer signature of each voucher).
    """
    return resolve_vouchers(check_records(items, device_id, device_key), keys, cache, known)


def check_records(
    items: Sequence[dict[str, Any]], device_id: str, device_key: PublicKey
) -> list[Sealed]:
    """Step 1: every item is a well-formed record of this device, sealed by its key.

    A malformed record, one from another device, or a bad device signature
    means the batch was not produced by this counter's software as written:
    refusing it (422) keeps the kiosk's copy pending for a human to look at,
    instead of storing something unproven.
    """
    out: list[Sealed] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ServerError("bad_record", f"record {i} is not a JSON object", 422)
        try:
            rec, sig = Record.from_json(item)
        except RecordError as exc:
            raise ServerError("bad_record", f"record {i}: {exc.message}", 422) from exc
        if rec.device != device_id:
            raise ServerError(
                "wrong_device", f"record {i} belongs to device {rec.device!r}, not this one", 422
            )
        digest = rec.check_seal(device_key, sig)
        if digest is None:
            raise ServerError(
                "bad_device_signature",
                f"record {i} ({rec.uuid}) is not signed by this device's key",
                422,
            )
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
        out.append(Prepared(s.rec, s.sig, s.hash, check.admissions, problem))
    return out


def store(session: Session, device_id: str, batch: Sequence[Prepared]) -> list[dict[str, Any]]:
    """Apply a prepared batch in the caller's transaction; per-record results in order.

    The steps after :func:`prepare`, all under the feed-head lock: find the
    records already stored (:func:`fresh_records`), chain-check and insert the
    new ones (:func:`chain_rows`), settle who was first for every voucher
    they touch (:func:`sync.server.ingest_settle.settle_vouchers`), and answer
    each record sent, stored now or before (:func:`answers`).
    """
    feeds.lock_head(session)
    device = session.get(Device, device_id)
    if device is None or device.status != "active":
        raise ServerError("device_revoked", "this counter was disconnected (device revoked)", 403)
    t = now_ms()
    device.last_contact = t
    new = fresh_records(session, batch)
    rows = chain_rows(session, device, new, t)
    before = stored_rows(session, affected_vouchers(session, rows))
    if rows:
        session.execute(_REDEMPTION_TABLE.insert(), rows)
    admissions = {p.rec.voucher.hex(): p.admissions for p in new if p.problem is None}
    final = settle_vouchers(session, before, rows, admissions)
    return answers(session, [p.rec.uuid for p in batch], rows, final)


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
    session: Session, device: Device, new: Sequence[Prepared], t: int
) -> list[dict[str, Any]]:
    """Step 4: the rows to insert, chain-checked against the device's head (advanced here)."""
    # seqs at or below the head that some other record already holds are forks
    low = [p.rec.seq for p in new if p.rec.seq <= device.chain_seq]
    query = select(Redemption.seq, Redemption.hash).where(Redemption.device == device.id)
    taken = {int(seq): h for seq, h in rows_in(session, query, Redemption.seq, low)}
    head_seq, head_hash = device.chain_seq, device.chain_hash
    rows: list[dict[str, Any]] = []
    for p in new:
        gap = fork = False
        rec = p.rec
        if rec.seq > head_seq:
            if rec.seq == head_seq + 1:
                fork = rec.prev.hex() != head_hash
            else:
                gap = True
            head_seq, head_hash = rec.seq, p.hash.hex()
        elif rec.seq in taken:
            fork = True  # a second record claiming an already used position
        elif rec.seq == 1 and rec.prev != GENESIS_HASH:
            fork = True
        rows.append(_row(p, t, gap=gap, fork=fork))
    device.chain_seq, device.chain_hash = head_seq, head_hash
    return rows


_COLS = (
    Redemption.uuid,
    Redemption.kind,
    Redemption.at,
    Redemption.status,
    Redemption.duplicate_of,
    Redemption.device,
    Redemption.voids,
    Redemption.voucher,
    Redemption.cinema,
    Redemption.staff,
)


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
    for row in rows_in(session, select(*_COLS), Redemption.voucher, ctis):
        d = dict(row._mapping)
        by_cti.setdefault(d["voucher"], []).append(d)
    return by_cti


def _row(p: Prepared, t: int, *, gap: bool, fork: bool) -> dict[str, Any]:
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
        "chain_gap": gap,
        "chain_fork": fork,
    }


def answers(
    session: Session,
    uuids: Sequence[str],
    rows: Sequence[dict[str, Any]],
    final: dict[str, tuple[str, str | None]],
) -> list[dict[str, Any]]:
    """Step 6: one result per record sent, in order; a replayed one is answered from the rows."""
    final = dict(final)
    problems: dict[str, str | None] = {r["uuid"]: r["problem"] for r in rows}
    missing = [u for u in uuids if u not in final]
    query = select(Redemption.uuid, Redemption.status, Redemption.duplicate_of, Redemption.problem)
    for u, status, dup, problem in rows_in(session, query, Redemption.uuid, missing):
        final[u] = (status, dup)
        problems[u] = problem
    firsts = first_uses(session, {d for _s, d in final.values() if d})
    out = []
    for u in uuids:
        status, dup = final[u]
        first = firsts.get(dup) if dup else None
        out.append(
            {
                "uuid": u,
                "status": status,
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
