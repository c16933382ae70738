"""The three kiosk feeds (revocation, roster, trusted keys) plus per-device status.

Every change a kiosk must learn is appended here as a :class:`FeedEvent`
inside the same transaction as the change itself, so the feed can never
disagree with the tables. ``seq`` comes from the single :class:`FeedHead`
row: ``UPDATE feed_head SET seq = seq + n RETURNING seq`` takes that row's
lock until commit, so appenders are serialized and the cursor is dense and
monotonic. A reader that has seen event N has therefore seen every event
below N that will ever exist (a rolled-back append rolls back the head too),
which is what makes "give me everything after my cursor" safe with many
server processes on one PostgreSQL.

Snapshots read the head first and the state second: an event committed in
between is then both in the snapshot and after its cursor. Feed entries set
state (freeze, redeemed, issued...) so applying one twice is harmless;
missing one would not be.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from .models import Device, FeedEvent, FeedHead, IssuerKey, OnlineHold, Redemption, Voucher, now_ms

MAX_PAGE = 5000


@dataclass(frozen=True)
class Event:
    """An event to append: which feed, what happened, to what (cti/kid/uuid)."""

    feed: str
    action: str
    key: str
    data: dict[str, Any]
    device: str | None = None


def lock_head(session: Session) -> int:
    """Take the feed-head row lock (held until commit) and return the current seq.

    Every write path that appends events or decides redemption status calls
    this first, so concurrent writers (threads or server processes) take turns.
    """
    seq = session.execute(
        update(FeedHead).where(FeedHead.id == 1).values(seq=FeedHead.seq).returning(FeedHead.seq)
    ).scalar_one_or_none()
    if seq is None:  # a database created by create_all in a test, not by migrate()
        session.add(FeedHead(id=1, seq=0))
        session.flush()
        return 0
    return int(seq)


def append(session: Session, events: Sequence[Event]) -> list[int]:
    """Append events in order; returns their seq numbers."""
    if not events:
        return []
    lock_head(session)
    head = session.execute(
        update(FeedHead)
        .where(FeedHead.id == 1)
        .values(seq=FeedHead.seq + len(events))
        .returning(FeedHead.seq)
    ).scalar_one()
    first = int(head) - len(events) + 1
    at = now_ms()
    rows = [
        {
            "seq": first + i,
            "feed": e.feed,
            "action": e.action,
            "key": e.key,
            "device": e.device,
            "data": e.data,
            "at": at,
        }
        for i, e in enumerate(events)
    ]
    session.execute(cast(Table, FeedEvent.__table__).insert(), rows)
    return [first + i for i in range(len(events))]


def head(session: Session) -> int:
    value = session.execute(select(FeedHead.seq).where(FeedHead.id == 1)).scalar_one_or_none()
    return int(value or 0)


# -- publishing -------------------------------------------------------------


def roster_entry(v: Voucher) -> dict[str, Any]:
    return {"cti": v.cti, "token": v.token, "removed": False}


def publish_roster(session: Session, vouchers: Iterable[Voucher]) -> list[int]:
    """Announce newly issued vouchers to every kiosk (roster feed, action ``issued``).

    Call it in the same session/transaction that adds the :class:`Voucher`
    rows, so a voucher is never in the database without being in the feed.
    """
    return append(session, [Event("roster", "issued", v.cti, roster_entry(v)) for v in vouchers])


def revocation_entry(
    cti: str,
    action: str,
    *,
    reason: str = "",
    at: int | None = None,
    cinema: str = "",
    device: str = "",
    staff: str = "",
) -> dict[str, Any]:
    return {
        "cti": cti,
        "action": action,
        "reason": reason,
        "at": now_ms() if at is None else at,
        "cinema": cinema,
        "device": device,
        "staff": staff,
    }


def publish_revocations(session: Session, entries: Sequence[dict[str, Any]]) -> list[int]:
    """Append revocation-feed entries (built with :func:`revocation_entry`)."""
    return append(session, [Event("revocation", e["action"], e["cti"], e) for e in entries])


def key_entry(k: IssuerKey) -> dict[str, Any]:
    return {
        "kid": k.kid,
        "public_key": k.public_raw.hex(),
        "issuer": k.issuer_code,
        "active": bool(k.active),
    }


def publish_key(session: Session, key: IssuerKey) -> list[int]:
    """Announce a new trusted issuer key (or its retirement, ``active=False``)."""
    action = "add" if key.active else "retire"
    return append(session, [Event("keys", action, key.kid, key_entry(key))])


# -- reading ----------------------------------------------------------------


def read(
    session: Session, feed: str, since: int, limit: int, device: str | None = None
) -> tuple[list[dict[str, Any]], int, bool]:
    """Events of ``feed`` after ``since``: (entries, next cursor, more?).

    The next cursor is the seq of the last entry returned, or the current head
    when the feed had nothing more (so an idle kiosk's cursor still advances
    past other feeds' events and the next query stays cheap).
    """
    limit = max(1, min(limit, MAX_PAGE))
    top = head(session)
    q = select(FeedEvent.seq, FeedEvent.data).where(
        FeedEvent.feed == feed, FeedEvent.seq > since, FeedEvent.seq <= top
    )
    if device is not None:
        q = q.where(FeedEvent.device == device)
    rows = session.execute(q.order_by(FeedEvent.seq).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = int(rows[-1][0]) if more else max(top, since)
    return [dict(r[1]) for r in rows], cursor, more


def revocation_snapshot(session: Session) -> tuple[list[dict[str, Any]], int]:
    """Every frozen voucher and every used-up voucher, with the cursor to continue from."""
    cursor = head(session)
    entries: list[dict[str, Any]] = []
    for cti, reason in session.execute(
        select(Voucher.cti, Voucher.freeze_reason).where(Voucher.status == "frozen")
    ):
        entries.append(revocation_entry(cti, "freeze", reason=reason or "", at=0))
    # live online holds (issue 14): a counter enrolled during one refuses it until it lapses
    for cti, until, cinema, partner in session.execute(
        select(OnlineHold.voucher, OnlineHold.expires_at, OnlineHold.cinema, OnlineHold.partner)
        .where(OnlineHold.active.is_not(None), OnlineHold.expires_at > now_ms())
        .order_by(OnlineHold.voucher)
    ):
        entries.append(
            revocation_entry(
                cti, "held", reason="held", at=until, cinema=cinema, device=f"online:{partner}"
            )
        )
    # the first valid redemption of each voucher (ties broken by uuid, as in ingest)
    rows = session.execute(
        select(
            Redemption.voucher,
            Redemption.at,
            Redemption.cinema,
            Redemption.device,
            Redemption.staff,
        )
        .where(Redemption.status == "valid", Redemption.kind == "redeem")
        .order_by(Redemption.voucher, Redemption.at, Redemption.uuid)
    ).all()
    seen: set[str] = set()
    for cti, at, cinema, device, staff in rows:
        if cti in seen:
            continue
        seen.add(cti)
        entries.append(
            revocation_entry(cti, "redeemed", at=at, cinema=cinema, device=device, staff=staff)
        )
    return entries, cursor


def roster_snapshot(session: Session) -> tuple[list[dict[str, Any]], int]:
    cursor = head(session)
    rows = session.execute(select(Voucher.cti, Voucher.token).order_by(Voucher.cti)).all()
    return [{"cti": c, "token": t, "removed": False} for c, t in rows], cursor


def keys_snapshot(session: Session) -> tuple[list[dict[str, Any]], int]:
    cursor = head(session)
    keys = session.scalars(select(IssuerKey).where(IssuerKey.active.is_(True))).all()
    return [key_entry(k) for k in keys], cursor


def count_events(session: Session, feed: str) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(FeedEvent).where(FeedEvent.feed == feed)
        ).scalar_one()
    )


def peers_snapshot(session: Session, cinema: str) -> tuple[list[dict[str, Any]], int]:
    """The counters of ``cinema`` (issue 15, docs/lan-peers.md): id, name, key, LAN address.

    Read from the device table, not the event log: a cinema has a handful of
    counters and the list is fetched whole each sync. ``address`` is the
    ``listen`` of the counter's newest health report; a revoked counter is
    listed as ``revoked`` so its peers drop it.
    """
    rows = session.scalars(select(Device).where(Device.cinema == cinema).order_by(Device.id)).all()
    entries = []
    for d in rows:
        listen = (d.health or {}).get("listen") if isinstance(d.health, dict) else None
        entries.append(
            {
                "device": d.id,
                "name": d.name or "",
                "public_key": d.public_raw.hex(),
                "address": listen if isinstance(listen, str) else "",
                "status": "revoked" if d.status == "revoked" else "active",
            }
        )
    return entries, head(session)
