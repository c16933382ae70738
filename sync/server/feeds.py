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

A paged snapshot (:func:`snapshot_page`, docs/feeds.md) keeps that rule
across pages: its cursor is the head read for the *first* page, carried in
the page token, and every later page reads a state at least that new, so the
events after that cursor bring the pages, whatever changed between them, to
the present. Pages are keyed by voucher id (keyset, never OFFSET), so a page
costs the same at the millionth entry as at the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from .errors import ServerError
from .models import Device, FeedEvent, FeedHead, IssuerKey, OnlineHold, Redemption, Voucher, now_ms

MAX_PAGE = 5000
#: entries per page of a paged snapshot at most (docs/feeds.md)
MAX_SNAPSHOT_PAGE = 50_000


@dataclass(frozen=True)
class Event:
    """An event to append: which feed, what happened, to what (cti/kid/uuid)."""

    feed: str
    action: str
    key: str
    data: dict[str, Any]
    device: str | None = None


_HEAD = cast(Table, FeedHead.__table__)
#: built once and run on the session's connection (Core: no ORM bulk-update work per call;
#: the session is flushed first, as the ORM's autoflush did)
_LOCK = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq).returning(_HEAD.c.seq)
_BUMP = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq + bindparam("n"))
    .returning(_HEAD.c.seq)
)
_INSERT = insert(cast(Table, FeedEvent.__table__))


def _core(session: Session) -> Any:
    """The session's connection, after flushing what the ORM holds (its autoflush)."""
    if session.autoflush:
        session.flush()
    return session.connection()


def lock_head(session: Session) -> int:
    """Take the feed-head row lock (held until commit) and return the current seq.

    Every write path that appends events or decides redemption status calls
    this first, so concurrent writers (threads or server processes) take turns.
    """
    seq = _core(session).execute(_LOCK).scalar_one_or_none()
    if seq is None:  # a database created by create_all in a test, not by migrate()
        session.add(FeedHead(id=1, seq=0))
        session.flush()
        return 0
    return int(seq)


def append(session: Session, events: Sequence[Event], *, locked: bool = False) -> list[int]:
    """Append events in order; returns their seq numbers.

    ``locked``: the caller's transaction already holds the head (:func:`lock_head`),
    so its re-take is skipped (one statement fewer: the online API's requests).
    """
    if not events:
        return []
    if not locked:
        lock_head(session)
    conn = _core(session)
    head = conn.execute(_BUMP, {"n": len(events)}).scalar_one()
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
    conn.execute(_INSERT, rows)
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


def publish_revocations(
    session: Session, entries: Sequence[dict[str, Any]], *, locked: bool = False
) -> list[int]:
    """Append revocation-feed entries (built with :func:`revocation_entry`)."""
    events = [Event("revocation", e["action"], e["cti"], e) for e in entries]
    return append(session, events, locked=locked)


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
    """Every frozen, held and used-up voucher, with the cursor to continue from.

    The one-answer form old counters ask for: the pages of
    :func:`snapshot_page` put together, so both forms always say the same.
    """
    rows: list[Row] = []
    page, cursor, token = snapshot_page(session, "revocation", None, MAX_SNAPSHOT_PAGE)
    rows += page
    while token is not None:
        page, _, token = snapshot_page(session, "revocation", token, MAX_SNAPSHOT_PAGE)
        rows += page
    return snapshot_entries("revocation", rows), cursor


# -- paged snapshots ----------------------------------------------------------

#: ``<cursor>:<section>:<last id>``: the snapshot's cursor (the head when it began),
#: the section the page ended in and the last voucher id it held.
TOKEN_RE = re.compile(r"^(\d{1,19}):([fhr]):([0-9a-f]{0,20})$")
#: revocation: frozen (f), held online (h: issue 14, a counter refuses it until the
#: hold lapses), first valid redemptions (r); roster: every issued voucher
SECTIONS = {"revocation": ("f", "h", "r"), "roster": ("f",)}

#: one snapshot row: (action, cti, reason, at, cinema, device, staff) or, for the
#: roster, (cti, token)
Row = tuple[Any, ...]


class BadToken(ServerError):
    """A page token this server did not make (or from before a restore): 422."""

    def __init__(self, token: str) -> None:
        super().__init__(
            "bad_page_token",
            f"快照页标记无效 / unknown snapshot page token {token[:64]!r}: start the snapshot"
            " again",
            422,
        )


def _frozen(session: Session, after: str, limit: int) -> tuple[list[Row], bool]:
    q = (
        select(Voucher.cti, Voucher.freeze_reason)
        .where(Voucher.status == "frozen", Voucher.cti > after)
        .order_by(Voucher.cti)
        .limit(limit + 1)
    )
    rows = session.execute(q).all()
    return [("freeze", c, r or "", 0, "", "", "") for c, r in rows[:limit]], len(rows) > limit


def _held(session: Session, after: str, limit: int) -> tuple[list[Row], bool]:
    q = (
        select(OnlineHold.voucher, OnlineHold.expires_at, OnlineHold.cinema, OnlineHold.partner)
        .join(Voucher, Voucher.cti == OnlineHold.voucher)
        .where(
            OnlineHold.active.is_not(None),
            OnlineHold.expires_at > now_ms(),
            OnlineHold.voucher > after,
            # a held voucher the office froze meanwhile is in the frozen section only: a
            # counter keeps one entry per voucher, and a "held" one lapses with the hold
            # (the server sends no "released" for a frozen voucher, see office.online)
            Voucher.status != "frozen",
        )
        .order_by(OnlineHold.voucher)
        .limit(limit + 1)
    )
    rows = session.execute(q).all()
    return [
        ("held", c, "held", until, cinema, f"online:{partner}", "")
        for c, until, cinema, partner in rows[:limit]
    ], len(rows) > limit


def _redeemed(session: Session, after: str, limit: int) -> tuple[list[Row], bool]:
    """The first valid redemption of each voucher after ``after`` (ties by uuid, as in
    ingest). Rows come in (voucher, at, uuid) order, so each voucher's first row is
    the first of its rows in the page; rows of the page's last voucher that did not
    fit are skipped by the next page's ``> after``."""
    q = (
        select(
            Redemption.voucher,
            Redemption.at,
            Redemption.cinema,
            Redemption.device,
            Redemption.staff,
        )
        .where(
            Redemption.status == "valid", Redemption.kind == "redeem", Redemption.voucher > after
        )
        .order_by(Redemption.voucher, Redemption.at, Redemption.uuid)
        .limit(limit + 1)
    )
    raw = session.execute(q).all()
    out: list[Row] = []
    last = None
    for cti, at, cinema, device, staff in raw[:limit]:
        if cti != last:
            out.append(("redeemed", cti, "", at, cinema, device, staff))
            last = cti
    return out, len(raw) > limit


def _roster(session: Session, after: str, limit: int) -> tuple[list[Row], bool]:
    q = (
        select(Voucher.cti, Voucher.token)
        .where(Voucher.cti > after)
        .order_by(Voucher.cti)
        .limit(limit + 1)
    )
    rows = session.execute(q).all()
    return [(c, t) for c, t in rows[:limit]], len(rows) > limit


_SECTION_READERS = {"f": _frozen, "h": _held, "r": _redeemed}


def snapshot_page(
    session: Session, feed: str, after: str | None, limit: int
) -> tuple[list[Row], int, str | None]:
    """One page of the ``revocation`` or ``roster`` snapshot: (rows, cursor, next token).

    ``after`` is the previous page's token (None: the first page). ``next``
    is None on the last page. Raises :class:`BadToken` for a token that does
    not parse or names a cursor beyond the current head.
    """
    limit = max(1, min(limit, MAX_SNAPSHOT_PAGE))
    sections = SECTIONS[feed]
    if after is None:
        cursor, section, last = head(session), sections[0], ""
    else:
        m = TOKEN_RE.match(after)
        if m is None or m.group(2) not in sections or int(m.group(1)) > head(session):
            raise BadToken(after)
        cursor, section, last = int(m.group(1)), m.group(2), m.group(3)
    rows: list[Row] = []
    for sec in sections[sections.index(section) :]:
        read = _roster if feed == "roster" else _SECTION_READERS[sec]
        got, more = read(session, last if sec == section else "", limit - len(rows))
        rows += got
        if more:
            return rows, cursor, f"{cursor}:{sec}:{rows[-1][0 if feed == 'roster' else 1]}"
        if len(rows) >= limit:  # exactly full: the next page starts the next section
            nxt = sections.index(sec) + 1
            if nxt < len(sections):
                return rows, cursor, f"{cursor}:{sections[nxt]}:"
    return rows, cursor, None


def snapshot_entries(feed: str, rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Snapshot rows as feed entries (the ``entries`` of a page, as the deltas carry them)."""
    if feed == "roster":
        return [{"cti": c, "token": t, "removed": False} for c, t in rows]
    return [
        revocation_entry(cti, action, reason=reason, at=at, cinema=c, device=d, staff=st)
        for action, cti, reason, at, c, d, st in rows
    ]


def packed(feed: str, rows: Sequence[Row]) -> dict[str, Any]:
    """Snapshot rows in the compact form of docs/feeds.md (``format=packed``).

    Column-wise, every text of the page once in ``strings`` and referred to by
    index: a counter decodes a page of 20,000 revocations with a handful of C
    calls instead of 20,000 objects (the whole point of paging a million).
    """
    if feed == "roster":
        return {"cti": "".join(r[0] for r in rows), "token": [r[1] for r in rows]}
    index: dict[str, int] = {}

    def ref(text: str) -> int:
        i = index.get(text)
        if i is None:
            i = index[text] = len(index)
        return i

    return {
        "cti": "".join(r[1] for r in rows),
        "action": "".join("f" if r[0] in ("freeze", "held") else "r" for r in rows),
        "at": [r[3] for r in rows],
        "reason": [ref(r[2]) for r in rows],
        "cinema": [ref(r[4]) for r in rows],
        "device": [ref(r[5]) for r in rows],
        "staff": [ref(r[6]) for r in rows],
        "strings": list(index),
    }


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
