"""What the console's pages read: voucher search and trace, today's overview.

Read-only queries over the central tables (changes go through
:mod:`sync.office`). Kept apart from the page handlers so a bench or another
front end (the online API, a future CLI ``trace``) can call them too.
Times are shown in China Standard Time, the calendar the office settles by.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sync.issuing import DISPLAY_TZ
from sync.office import tally
from sync.office.errors import OfficeError
from sync.office.vouchers import find_voucher
from sync.server.models import AuditEntry, Cinema, Device, FeedEvent, Redemption, Voucher, now_ms
from sync.voucher.shortcode import encode_short_code

from .queries_settlement import settlement_table

SEARCH_LIMIT = 50
SILENT_MS = 3600 * 1000


def by_time(column: Any) -> Any:
    """``column || ''``: the same value, but no index lookup on it.

    Without ANALYZE statistics SQLite prefers the (status, kind) index to the
    time range for a day's or a month's rows, and reads most of the table
    (550 ms at 100,000 rows instead of 20 ms from ``ix_redemption_at_counts``).
    """
    return column.concat("")


EXPIRING_S = 30 * 86400


def search(session: Session, text: str) -> tuple[list[Voucher], Voucher | None]:
    """(matches, the one voucher a code names) for what the operator typed.

    A short code is parsed as forgivingly as at the counter (case, dashes,
    I/L/O); a QR text works too. Anything else is looked up as member
    reference, batch, or a part of the holder's name.
    """
    text = text.strip()
    if not text:
        return [], None
    try:
        v = find_voucher(session, text)
        return [v], v
    except OfficeError as exc:
        if exc.reason == "unknown_voucher":
            return [], None
    like = f"%{text.replace('%', '').replace('_', '')}%"
    q = (
        select(Voucher)
        .where(or_(Voucher.member_ref == text, Voucher.batch == text, Voucher.holder.like(like)))
        .order_by(Voucher.issued_at.desc())
        .limit(SEARCH_LIMIT)
    )
    return list(session.scalars(q)), None


def valid_uses(session: Session, cti: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.voucher == cti,
                Redemption.kind == "redeem",
                Redemption.status == "valid",
            )
        )
        or 0
    )


def state_of(session: Session, v: Voucher, now_s: int | None = None) -> str:
    """``frozen``, ``used``, ``expired`` or ``active`` (shown 已冻结/已核销/已过期/有效)."""
    now_s = int(time.time()) if now_s is None else now_s
    if v.status == "frozen":
        return "frozen"
    if valid_uses(session, v.cti) >= max(1, v.admissions):
        return "used"
    if v.exp <= now_s:
        return "expired"
    return "active"


@dataclass
class Event:
    """One line of a voucher's timeline."""

    at: int
    kind: str  # issued | redeem | void | freeze | unfreeze | replaced_by | replaces
    details: dict[str, Any] = field(default_factory=dict)


def trace(session: Session, v: Voucher) -> list[Event]:
    """The voucher's whole life on one timeline, oldest first.

    Freezes and unfreezes come from the revocation feed (so those made with
    ``cinepass-admin`` appear too), with who and why from the audit log when
    the console made them.
    """
    events = [Event(v.issued_at, "issued", {"batch": v.batch, "kid": v.kid})]
    for r in session.scalars(
        select(Redemption).where(Redemption.voucher == v.cti).order_by(Redemption.at)
    ):
        flags = [f for f, on in (("chain_gap", r.chain_gap), ("chain_fork", r.chain_fork)) if on]
        events.append(
            Event(
                r.at,
                r.kind,
                {
                    "cinema": r.cinema,
                    "device": r.device,
                    "staff": r.staff,
                    "format": r.format,
                    "status": r.status,
                    "record": r.uuid,
                    "duplicate_of": r.duplicate_of,
                    "problem": r.problem,
                    "flags": flags,
                },
            )
        )
    notes = [
        a
        for a in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == v.short_code, AuditEntry.action.like("voucher.%"))
            .order_by(AuditEntry.at)
        )
    ]
    for e in session.scalars(
        select(FeedEvent)
        .where(
            FeedEvent.feed == "revocation",
            FeedEvent.key == v.cti,
            FeedEvent.action.in_(("freeze", "unfreeze")),
        )
        .order_by(FeedEvent.seq)
    ):
        details: dict[str, Any] = {"reason": e.data.get("reason")}
        match = next((a for a in notes if a.action == f"voucher.{e.action}"), None)
        if match is not None:
            notes.remove(match)
            details.update(by=match.actor, note=(match.after or {}).get("note", ""))
        events.append(Event(e.at, e.action, details))
    if v.replaced_by:
        new = session.get(Voucher, v.replaced_by)
        events.append(
            Event(
                new.issued_at if new else v.issued_at,
                "replaced_by",
                {
                    "cti": v.replaced_by,
                    "short_code": encode_short_code(bytes.fromhex(v.replaced_by)),
                },
            )
        )
    old = session.scalar(select(Voucher).where(Voucher.replaced_by == v.cti))
    if old is not None:
        events.append(
            Event(v.issued_at, "replaces", {"cti": old.cti, "short_code": old.short_code})
        )
    events.sort(key=lambda e: e.at)
    return events


def day_bounds(now: int | None = None) -> tuple[str, int, int]:
    """Today in China Standard Time: (YYYY-MM-DD, start ms, end ms)."""
    now = now_ms() if now is None else now
    d = datetime.fromtimestamp(now / 1000, DISPLAY_TZ).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    start = int(d.timestamp() * 1000)
    return d.strftime("%Y-%m-%d"), start, start + 86400 * 1000


def overview(session: Session, cinema: str | None = None) -> dict[str, Any]:
    """Today's redemptions by cinema and format and hour, usage, silent counters."""
    day, start, end = day_bounds()
    today = [
        Redemption.at >= start,
        Redemption.at < end,
        by_time(Redemption.kind) == "redeem",
        by_time(Redemption.status) == "valid",
    ]
    if cinema is not None:
        today.append(Redemption.cinema == cinema)
    names = {c.code: c.name for c in session.scalars(select(Cinema))}
    table: dict[str, dict[str, int]] = {}
    hourly = [0] * 24
    # one pass over the covering index: cinema x format x hour (days are whole hours of CST)
    hour = ((Redemption.at - start) // 3600000).label("hour")
    for code, fmt, h, n in session.execute(
        select(Redemption.cinema, Redemption.format, hour, func.count())
        .where(*today)
        .group_by(Redemption.cinema, Redemption.format, hour)
    ):
        row = table.setdefault(code, {})
        row[fmt] = row.get(fmt, 0) + int(n)
        hourly[min(23, max(0, int(h)))] += int(n)
    formats = sorted({f for row in table.values() for f in row} | {"2D", "3D"})
    vq = select(func.count()).select_from(Voucher)
    issued = int(session.scalar(vq) or 0) if cinema is None else None
    if cinema is None:  # vouchers used at all: the running counts (sync.office.tally)
        redeemed = tally.vouchers_used(session)
    else:  # the cinema's own lines (its index), not every valid line of the union
        rq = select(func.count(func.distinct(Redemption.voucher))).where(
            Redemption.cinema == cinema,
            by_time(Redemption.kind) == "redeem",
            by_time(Redemption.status) == "valid",
        )
        redeemed = int(session.scalar(rq) or 0)
    now_s = now_ms() // 1000
    expiring = (
        int(
            session.scalar(
                select(func.count())
                .select_from(Voucher)
                .where(
                    Voucher.status == "active",
                    Voucher.exp > now_s,
                    Voucher.exp <= now_s + EXPIRING_S,
                    ~Voucher.cti.in_(tally.used_cti()),
                )
            )
            or 0
        )
        if cinema is None
        else None
    )
    review_q = select(func.count()).select_from(Redemption).where(Redemption.status == "review")
    if cinema is not None:
        review_q = review_q.where(Redemption.cinema == cinema)
    review = int(session.scalar(review_q) or 0)
    dq = select(Device).where(Device.status == "active").order_by(Device.cinema, Device.id)
    if cinema is not None:
        dq = dq.where(Device.cinema == cinema)
    cutoff = now_ms() - SILENT_MS
    silent = [
        {"id": d.id, "cinema": d.cinema, "name": d.name, "last_contact": d.last_contact}
        for d in session.scalars(dq)
        if d.last_contact is None or d.last_contact < cutoff
    ]
    latest = [
        {
            "at": r.at,
            "cinema": r.cinema,
            "format": r.format,
            "voucher": encode_short_code(bytes.fromhex(r.voucher)),
            "cti": r.voucher,
            "staff": r.staff,
        }
        for r in session.scalars(
            select(Redemption).where(*today).order_by(Redemption.at.desc()).limit(10)
        )
    ]
    return {
        "day": day,
        "total": sum(hourly),
        "formats": formats,
        "by_cinema": [
            {
                "cinema": c,
                "name": names.get(c, ""),
                "counts": table[c],
                "total": sum(table[c].values()),
            }
            for c in sorted(table)
        ],
        "hourly": hourly,
        "hourly_max": max(hourly) or 1,
        "issued": issued,
        "redeemed": redeemed,
        "utilisation": (f"{100 * redeemed / issued:.1f}%" if issued else "—"),
        "silent": silent,
        "latest": latest,
        "expiring": expiring,
        "review": review,
    }


def settlement_summary(session: Session, month: str) -> list[dict[str, Any]]:
    """The month x cinema table's first columns (valid by format, duplicates, voids,
    rejected): :func:`sync.console.queries_settlement.settlement_table` has them all."""
    keys = ("cinema", "name", "valid_total", "valid_by_format", "duplicates", "voids", "rejected")
    return [{k: row[k] for k in keys} for row in settlement_table(session, month)]
