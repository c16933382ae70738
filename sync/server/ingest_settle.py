"""Who was first: the settlement status of every record of the vouchers a batch touches.

Split from :mod:`sync.server.ingest` (which verifies, chain-checks and
inserts); this module decides ``valid`` / ``duplicate`` / ``void`` and
announces what changed, inside the same transaction.

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync.voucher.codec import decode_voucher
from sync.voucher.errors import VoucherError

from . import feeds
from .models import Redemption


def settle(rows: list[dict[str, Any]], admissions: int) -> dict[str, tuple[str, str | None]]:
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


def settle_vouchers(
    session: Session,
    before: dict[str, list[dict[str, Any]]],
    rows: list[dict[str, Any]],
    admissions: dict[str, int],
) -> dict[str, tuple[str, str | None]]:
    """Re-settle every voucher touched by the just inserted ``rows``; uuid -> (status, dup).

    ``before`` holds each affected voucher's rows as stored before the insert
    (so a change of holder can be told); status changes are written back,
    and the status and revocation feed events appended, in the caller's
    transaction.
    """
    after = {cti: list(recs) for cti, recs in before.items()}
    new_by_cti: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        after.setdefault(r["voucher"], []).append(r)
        new_by_cti.setdefault(r["voucher"], []).append(r)
    out = _Outcome()
    for cti, recs in after.items():
        n = admissions.get(cti) or _stored_admissions(session, cti)
        _resettle(out, cti, recs, before.get(cti, []), new_by_cti.get(cti, []), n)
    if out.changes:
        session.execute(update(Redemption), out.changes)
    feeds.append(
        session,
        out.events + [feeds.Event("revocation", e["action"], e["cti"], e) for e in out.revocations],
    )
    return out.final


@dataclass
class _Outcome:
    """What settling a batch's vouchers decided: final statuses, row updates, feed entries."""

    final: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    events: list[feeds.Event] = field(default_factory=list)
    revocations: list[dict[str, Any]] = field(default_factory=list)


def _resettle(
    out: _Outcome,
    cti: str,
    recs: list[dict[str, Any]],
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    n: int,
) -> None:
    """Settle one voucher (``recs`` = ``old`` stored rows + ``new`` ones) into ``out``."""
    settled = settle(recs, n)
    out.final.update(settled)
    new_uuids = {r["uuid"] for r in new}
    for r in recs:
        status, dup = settled[r["uuid"]]
        if (status, dup) == (r["status"], r["duplicate_of"]):
            continue
        out.changes.append({"uuid": r["uuid"], "status": status, "duplicate_of": dup})
        if r["uuid"] not in new_uuids:
            first_row = next((x for x in recs if x["uuid"] == dup), None) if dup else None
            out.events.append(_status_event(r, status, dup, None, first_row))
    # tell the owner of the valid record about each new duplicate of it
    for r in new:
        status, dup = settled[r["uuid"]]
        if status == "duplicate" and dup is not None:
            owner = next(x for x in recs if x["uuid"] == dup)
            out.events.append(_status_event(owner, "valid", None, r["uuid"]))
    valid = [r for r in recs if settled[r["uuid"]][0] == "valid"]
    used_before = _used_up(old, n)
    used_after = len(valid) >= n
    first = min(valid, key=lambda r: (r["at"], r["uuid"])) if valid else None
    if used_after and first is not None and (not used_before or _first_valid(old) != first["uuid"]):
        out.revocations.append(
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
        out.revocations.append(feeds.revocation_entry(cti, "unredeemed"))


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
