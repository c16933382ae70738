"""Records refused on their own, and the freeze log ingest compares record times with.

A record that is malformed, names another device or fails its device
signature is :class:`Refused`: answered ``rejected`` with its ``problem``,
kept here in ``quarantine`` (one row per device and uuid; a resend only
counts ``times``) for the office to investigate, never stored as a line,
never settled. ``cinepass-admin devices`` counts them per counter.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .db import rows_in
from .ingest_checks import Freezes
from .models import FeedEvent, Quarantine


@dataclass(frozen=True)
class Refused:
    """A record refused on its own (quarantined): answered ``rejected``, never stored as a line."""

    uuid: str
    seq: int | None
    problem: str
    message: str
    item: dict[str, Any]


#: Bounds, so an enrolled counter gone rogue cannot fill the database with junk.
MAX_KEPT_BYTES = 8192
MAX_PER_DEVICE = 10_000


def kept_record(item: dict[str, Any]) -> dict[str, Any]:
    """The item as uploaded, or only its uuid and size when it is implausibly large."""
    size = len(json.dumps(item, ensure_ascii=False))
    if size <= MAX_KEPT_BYTES:
        return item
    return {"uuid": item.get("uuid"), "truncated": True, "bytes": size}


def quarantine(session: Session, device_id: str, refused: Sequence[Refused], t: int) -> None:
    """Keep each refused record (one row per uuid: a resend only counts ``times``).

    At most :data:`MAX_PER_DEVICE` rows per counter: beyond that a new one is
    still answered ``rejected`` but not kept (the office has plenty to look at).
    """
    if not refused:
        return
    uuids = {r.uuid for r in refused}
    query = select(Quarantine).where(Quarantine.device == device_id)
    held = {q.uuid: q for (q,) in rows_in(session, query, Quarantine.uuid, uuids)}
    count = select(func.count()).select_from(Quarantine).where(Quarantine.device == device_id)
    room = MAX_PER_DEVICE - (session.scalar(count) or 0)
    for r in refused:
        row = held.get(r.uuid)
        if row is None and room <= 0:
            continue
        if row is None:
            room -= 1
            row = Quarantine(
                device=device_id,
                uuid=r.uuid,
                seq=r.seq if r.seq is not None and 0 <= r.seq < 2**63 else None,
                problem=r.problem,
                message=r.message[:300],
                record=kept_record(r.item),
                first_at=t,
                last_at=t,
                times=1,
            )
            session.add(row)
            held[r.uuid] = row
        else:
            row.last_at, row.times = t, row.times + 1
            row.problem, row.message = r.problem, r.message[:300]
    session.flush()


def freeze_history(session: Session, ctis: Collection[str]) -> Freezes:
    """cti -> [(time, "freeze" | "unfreeze")] from the revocation feed, oldest first.

    The feed is the office's own append-only log of freezes, so a record's
    time is compared with when its voucher was frozen without a column of its own.
    """
    query = (
        select(FeedEvent.key, FeedEvent.at, FeedEvent.action)
        .where(FeedEvent.feed == "revocation", FeedEvent.action.in_(("freeze", "unfreeze")))
        .order_by(FeedEvent.seq)
    )
    out: Freezes = {}
    for key, at, action in rows_in(session, query, FeedEvent.key, ctis):
        out.setdefault(key, []).append((int(at), action))
    return out
