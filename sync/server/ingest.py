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

Who was first
-------------
Per voucher, the live redemptions (kind ``redeem``, not voided, not rejected)
are ordered by the time they happened (``at``, then uuid as a stable
tie-break). The first ``admissions`` of them (1 for an ordinary voucher) are
``valid``; the rest are ``duplicate`` with ``duplicate_of`` = the first valid
record. This is recomputed whenever a record for the voucher arrives, so a
late upload with an *earlier* time takes over: it becomes ``valid`` and the
previous holder becomes ``duplicate``. Every record whose status changes
after it was acknowledged gets a ``status`` feed event addressed to its
device, and the owner of a valid record is told when a duplicate of it
appears, so both counters hear about the conflict on their next sync.

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

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from sync.records import GENESIS_HASH, Record, RecordError
from sync.voucher.codec import decode_voucher
from sync.voucher.errors import VoucherError
from sync.voucher.keys import PublicKey

from . import feeds
from .errors import ServerError
from .models import Device, IssuerKey, Redemption, Voucher, now_ms

_CACHE_MAX = 200_000
_REDEMPTION_TABLE = cast(Table, Redemption.__table__)  # Core insert: no ORM bookkeeping


@dataclass(frozen=True)
class _TokenCheck:
    cti: bytes
    admissions: int
    problem: str | None


class IssuerCache:
    """token -> issuer-signature verdict (pure, see module docstring)."""

    def __init__(self, size: int = _CACHE_MAX) -> None:
        self._size = size
        self._items: OrderedDict[str, _TokenCheck] = OrderedDict()

    def check(self, token: str, keys: dict[bytes, PublicKey]) -> _TokenCheck:
        hit = self._items.get(token)
        if hit is not None:
            return hit
        try:
            decoded = decode_voucher(token)
        except VoucherError as exc:
            result = _TokenCheck(b"", 1, f"bad_voucher:{exc.reason}")
        else:
            key = keys.get(decoded.kid)
            if key is None:
                # unknown today may be known tomorrow: do not cache
                return _TokenCheck(decoded.voucher.cti, decoded.voucher.admissions, "unknown_key")
            ok = key.verify(decoded.signature, decoded.signed_bytes())
            result = _TokenCheck(
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
class Prepared:
    rec: Record
    sig: bytes
    hash: bytes
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
    out: dict[str, tuple[str, int]] = {}
    for i in range(0, len(ctis), 500):
        for cti, token, admissions in session.execute(
            select(Voucher.cti, Voucher.token, Voucher.admissions).where(
                Voucher.cti.in_(ctis[i : i + 500])
            )
        ):
            out[cti] = (token, int(admissions))
    return out


def prepare(
    items: Sequence[dict[str, Any]],
    device_id: str,
    device_key: PublicKey,
    keys: dict[bytes, PublicKey],
    cache: IssuerCache = ISSUER_CACHE,
    known: KnownTokens | None = None,
) -> list[Prepared]:
    """Parse and verify a batch (no writes). Any defect refuses the whole batch.

    A malformed record, one from another device, or a bad device signature
    means the batch was not produced by this counter's software as written:
    refusing it (422) keeps the kiosk's copy pending for a human to look at,
    instead of storing something unproven.

    The issuer signature: a token that is byte-for-byte the one stored in the
    ``voucher`` table at issuing time (``known``) was signed by us and checked
    then, so it is not decoded and verified again; any other token (issued by
    another office, or altered) goes through the codec and the issuer keys.
    That halves the Ed25519 work per record on the usual path.
    """
    parsed: list[tuple[Record, bytes, bytes]] = []
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
        canonical = rec.canonical_bytes()
        if not device_key.verify(sig, canonical):
            raise ServerError(
                "bad_device_signature",
                f"record {i} ({rec.uuid}) is not signed by this device's key",
                422,
            )
        parsed.append((rec, sig, hashlib.sha256(canonical).digest()))
    issued = known(sorted({rec.voucher.hex() for rec, _, _ in parsed})) if known else {}
    out: list[Prepared] = []
    for rec, sig, digest in parsed:
        hit = issued.get(rec.voucher.hex())
        if hit is not None and hit[0] == rec.token:
            out.append(Prepared(rec, sig, digest, hit[1], None))
            continue
        check = cache.check(rec.token, keys)
        problem = check.problem
        if problem is None and check.cti != rec.voucher:
            problem = "voucher_mismatch"
        out.append(Prepared(rec, sig, digest, check.admissions, problem))
    return out


def _settle(rows: list[dict[str, Any]], admissions: int) -> dict[str, tuple[str, str | None]]:
    """uuid -> (status, duplicate_of) for every record of one voucher.

    A void counts only from the counter that made the redemption (a kiosk
    voids its own last redemption; no device can cancel another's), and only
    for a redemption of the same voucher (the kiosk copies the token).
    """
    voids_by = {
        (r["voids"], r["device"]) for r in rows if r["kind"] == "void" and r["status"] != "rejected"
    }
    result: dict[str, tuple[str, str | None]] = {}
    live = []
    for r in rows:
        if r["status"] == "rejected":
            result[r["uuid"]] = ("rejected", None)
        elif r["kind"] == "void" or (r["uuid"], r["device"]) in voids_by:
            result[r["uuid"]] = ("void", None)
        else:
            live.append(r)
    live.sort(key=lambda r: (r["at"], r["uuid"]))
    first = live[0]["uuid"] if live else None
    for n, r in enumerate(live):
        result[r["uuid"]] = ("valid", None) if n < admissions else ("duplicate", first)
    return result


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


def _rows_for(session: Session, ctis: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    by_cti: dict[str, list[dict[str, Any]]] = {}
    ctis = list(ctis)
    for i in range(0, len(ctis), 500):
        for row in session.execute(select(*_COLS).where(Redemption.voucher.in_(ctis[i : i + 500]))):
            d = dict(row._mapping)
            by_cti.setdefault(d["voucher"], []).append(d)
    return by_cti


def store(session: Session, device_id: str, batch: Sequence[Prepared]) -> list[dict[str, Any]]:
    """Apply a prepared batch in the caller's transaction; per-record results in order."""
    feeds.lock_head(session)
    device = session.get(Device, device_id)
    if device is None or device.status != "active":
        raise ServerError("device_revoked", "this counter was disconnected (device revoked)", 403)
    t = now_ms()
    device.last_contact = t
    uuids = [p.rec.uuid for p in batch]
    existing: set[str] = set()
    for i in range(0, len(uuids), 500):
        existing.update(
            session.scalars(select(Redemption.uuid).where(Redemption.uuid.in_(uuids[i : i + 500])))
        )
    fresh: dict[str, Prepared] = {}
    for p in batch:
        if p.rec.uuid not in existing and p.rec.uuid not in fresh:
            fresh[p.rec.uuid] = p
    new = sorted(fresh.values(), key=lambda p: p.rec.seq)

    # chain: seqs at or below the head that some other record already holds are forks
    low = [p.rec.seq for p in new if p.rec.seq <= device.chain_seq]
    taken: dict[int, str] = {}
    for i in range(0, len(low), 500):
        for seq, h in session.execute(
            select(Redemption.seq, Redemption.hash).where(
                Redemption.device == device_id, Redemption.seq.in_(low[i : i + 500])
            )
        ):
            taken[int(seq)] = h
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
        rows.append(
            {
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
        )
    device.chain_seq, device.chain_hash = head_seq, head_hash

    affected: set[str] = {r["voucher"] for r in rows}
    targets = [r["voids"] for r in rows if r["kind"] == "void" and r["voids"]]
    if targets:
        affected.update(
            session.scalars(select(Redemption.voucher).where(Redemption.uuid.in_(targets)))
        )
    before = _rows_for(session, affected) if rows else {}
    if rows:
        session.execute(_REDEMPTION_TABLE.insert(), rows)
    admissions = {p.rec.voucher.hex(): p.admissions for p in new if p.problem is None}
    after = {cti: list(before.get(cti, [])) for cti in affected}
    for r in rows:
        after.setdefault(r["voucher"], []).append(r)

    new_uuids = {r["uuid"] for r in rows}
    new_by_cti: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        new_by_cti.setdefault(r["voucher"], []).append(r)
    changes: list[dict[str, Any]] = []
    events: list[feeds.Event] = []
    revocations: list[dict[str, Any]] = []
    final: dict[str, tuple[str, str | None]] = {}
    for cti, recs in after.items():
        n = admissions.get(cti) or _stored_admissions(session, cti)
        settled = _settle(recs, n)
        final.update(settled)
        old_first = _first_valid(before.get(cti, []))
        for r in recs:
            status, dup = settled[r["uuid"]]
            if (status, dup) == (r["status"], r["duplicate_of"]):
                continue
            changes.append({"uuid": r["uuid"], "status": status, "duplicate_of": dup})
            if r["uuid"] not in new_uuids:
                first_row = next((x for x in recs if x["uuid"] == dup), None) if dup else None
                events.append(_status_event(r, status, dup, None, first_row))
        # tell the owner of the valid record about each new duplicate of it
        for r in new_by_cti.get(cti, ()):
            status, dup = settled[r["uuid"]]
            if status == "duplicate" and dup is not None:
                owner = next(x for x in recs if x["uuid"] == dup)
                events.append(_status_event(owner, "valid", None, r["uuid"]))
        valid = [r for r in recs if settled[r["uuid"]][0] == "valid"]
        used_before = _used_up(before.get(cti, []), n)
        used_after = len(valid) >= n
        first = min(valid, key=lambda r: (r["at"], r["uuid"])) if valid else None
        if used_after and first is not None and (not used_before or old_first != first["uuid"]):
            revocations.append(
                feeds.revocation_entry(
                    cti,
                    "redeemed",
                    at=first["at"],
                    cinema=first["cinema"],
                    device=first["device"],
                    staff=first["staff"],
                )
            )
        elif used_before and not used_after:
            revocations.append(feeds.revocation_entry(cti, "unredeemed"))
    if changes:
        session.execute(update(Redemption), changes)
    feeds.append(
        session, events + [feeds.Event("revocation", e["action"], e["cti"], e) for e in revocations]
    )

    results = []
    by_uuid_problem = {r["uuid"]: r["problem"] for r in rows}
    stored_problems: dict[str, str | None] = {}
    missing = [u for u in uuids if u not in final]
    for i in range(0, len(missing), 500):
        for u, status, dup, problem in session.execute(
            select(
                Redemption.uuid, Redemption.status, Redemption.duplicate_of, Redemption.problem
            ).where(Redemption.uuid.in_(missing[i : i + 500]))
        ):
            final[u] = (status, dup)
            stored_problems[u] = problem
    firsts = first_uses(session, {d for s, d in final.values() if d})
    for u in uuids:
        status, dup = final[u]
        problem = by_uuid_problem.get(u, stored_problems.get(u))
        results.append(
            {
                "uuid": u,
                "status": status,
                "duplicate_of": dup,
                "first": firsts.get(dup) if dup else None,
                "problem": problem,
            }
        )
    return results


def first_uses(session: Session, uuids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """uuid -> {uuid, cinema, device, staff, at} of the given (valid) records."""
    out: dict[str, dict[str, Any]] = {}
    wanted = list(uuids)
    for i in range(0, len(wanted), 500):
        for row in session.execute(
            select(
                Redemption.uuid,
                Redemption.cinema,
                Redemption.device,
                Redemption.staff,
                Redemption.at,
            ).where(Redemption.uuid.in_(wanted[i : i + 500]))
        ):
            out[row.uuid] = dict(row._mapping)
    return out


def _first_valid(rows: list[dict[str, Any]]) -> str | None:
    valid = [r for r in rows if r["status"] == "valid" and r["kind"] == "redeem"]
    return min(valid, key=lambda r: (r["at"], r["uuid"]))["uuid"] if valid else None


def _used_up(rows: list[dict[str, Any]], admissions: int) -> bool:
    return sum(1 for r in rows if r["status"] == "valid" and r["kind"] == "redeem") >= admissions


def _stored_admissions(session: Session, cti: str) -> int:
    """Admissions of a voucher not in this batch's tokens (e.g. a batch of voids)."""
    token = session.scalars(
        select(Redemption.token).where(Redemption.voucher == cti).limit(1)
    ).first()
    if token is None:
        return 1
    try:
        return decode_voucher(token).voucher.admissions
    except VoucherError:
        return 1


def _status_event(
    r: dict[str, Any],
    status: str,
    dup: str | None,
    conflict: str | None,
    first: dict[str, Any] | None = None,
) -> feeds.Event:
    first_use = (
        None
        if first is None
        else {k: first[k] for k in ("uuid", "cinema", "device", "staff", "at")}
    )
    data = {
        "uuid": r["uuid"],
        "status": status,
        "duplicate_of": dup,
        "first": first_use,
        "conflict_with": conflict,
    }
    return feeds.Event("status", status, r["uuid"], data, device=r["device"])
