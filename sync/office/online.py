"""The online channel: a partner checks, holds, confirms, releases and cancels a voucher's use.

One ledger
----------
A confirmed hold becomes a row of ``redemption`` like a counter's record
(``source`` = ``online``, ``partner``, ``order_ref``; ``device`` =
``online:<partner id>``, its own hash chain; ``sig`` = the partner's request
signature, the evidence it asked), so the monthly settlement counts it like
any other line. Counters learn holds and online uses from the revocation
feed: ``held`` (its ``at`` is when the hold lapses, so a counter that misses
the end still stops refusing then), ``released``, ``redeemed``,
``unredeemed``.

Exactly one use
---------------
Every writing operation first takes the feed-head row lock
(:func:`sync.server.feeds.lock_head`, once per transaction: :func:`lock`), the same lock counter ingest takes, so
holds, confirms and counter uploads of one voucher take turns on SQLite and
on PostgreSQL with many server processes; each then re-reads the voucher's
uses and holds. Behind that, ``online_hold.active`` is UNIQUE: a second live
hold of one voucher cannot be inserted whatever the application believed.

A use is a ``redeem`` line whose status is ``valid`` or ``review`` (a line
held for the union's decision is still a claimed use). Holds lapse at
``expires_at``: every step that meets a lapsed hold treats it as ended
(``hold`` ends it, ``confirm`` refuses it, ``check`` ignores it), and
:func:`sweep` ends the rest and tells the counters, at most once a second per
server process (:func:`sweep_due`): a counter stops refusing at the hold's
``at`` on its own, so the ``released`` is a courtesy, not what frees it.

Speed
-----
The steps of a request read and write with SQLAlchemy Core statements built
once here (no ORM unit of work, no per-statement construction) on the
session's connection, one statement per question: :data:`VOUCHER_STATE`
answers "which voucher, how often used, held until when, is the cinema
known" at once. docs/online-api.md, "Speed", has the figures.
"""

from __future__ import annotations

import re
import secrets
import time
import unicodedata
import uuid
import weakref
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync.server import feeds
from sync.server.models import OnlineHold, OnlineRequest, Redemption, Voucher, now_ms

from .cinemas import know_business_day
from .online_ledger import SOURCE, OnLine, device_of, settled, write_line

__all__ = ["SOURCE", "USED", "OnLine", "device_of"]  # what other modules read from here
from .online_usable import USED, VOUCHER_STATE, H, R, frozen, held_by_other, usable, used_up
from .partners import OnlineError, PartnerIdentity, prune_signatures
from .reports import iso_utc
from .tally import know_campaign

HOLD_ID_RE = re.compile(r"^hd_[0-9a-f]{16}$")
RECORD_ID_RE = re.compile(r"^[0-9a-f-]{36}$")
HOLD_DEFAULT_S = 900
HOLD_MAX_S = 1800
#: answered Idempotency-Keys are kept this long (a retry after that is a new request)
IDEMPOTENCY_KEEP_MS = 24 * 3600 * 1000
LOCKED = "cinepass.head_locked"
#: a server process sweeps lapsed holds (and prunes) at most this often
SWEEP_EVERY_S = 1.0
_SWEPT: weakref.WeakKeyDictionary[object, float] = weakref.WeakKeyDictionary()

_H, _R = H, R
HOLD_ROW = select(
    _H.c.id,
    _H.c.partner,
    _H.c.voucher,
    _H.c.cinema,
    _H.c.format,
    _H.c.order_ref,
    _H.c.status,
    _H.c.expires_at,
    _H.c.record_id,
).where(_H.c.id == bindparam("id"))
DUE_HOLDS = (
    select(_H.c.id, _H.c.partner, _H.c.voucher, _H.c.cinema)
    .where(_H.c.status == "held", _H.c.expires_at <= bindparam("now"))
    .limit(1000)
)
END_HOLD = (
    update(_H)
    .where(_H.c.id == bindparam("hold"))
    .values(status=bindparam("to"), active=None, ended_at=bindparam("ended"))
)
CONFIRMED = (
    update(_H)
    .where(_H.c.id == bindparam("hold"))
    .where(_H.c.status == "held")
    .values(
        status="confirmed", active=None, ended_at=bindparam("ended"), record_id=bindparam("record")
    )
)
HOLD_INSERT = insert(_H)
#: the voucher's hold that is marked active, whatever its expiry
ACTIVE_HOLD = select(_H.c.id, _H.c.partner, _H.c.voucher, _H.c.cinema).where(
    _H.c.active == bindparam("cti")
)
HoldRow = Any  # a row of HOLD_ROW or ACTIVE_HOLD, or an OnlineHold: id, partner, voucher, cinema…


def locked(session: Session) -> bool:
    """Whether this transaction holds the feed-head lock already."""
    tx = session.get_transaction()
    return tx is not None and session.info.get(LOCKED) is tx


def lock(session: Session) -> None:
    """Take the feed-head lock, once per transaction: every step of a request calls this,
    the first one takes the lock (held until commit), the others find it taken."""
    if locked(session):
        return
    feeds.lock_head(session)
    session.info[LOCKED] = session.get_transaction()


def text(value: str, field: str, limit: int) -> str:
    """One line of printable text (no control character, no lone surrogate), else bad_text."""
    out = " ".join(value.split())
    if not out or len(out) > limit or any(unicodedata.category(c) in ("Cc", "Cs") for c in out):
        raise OnlineError(
            "bad_text", f"{field} 须为一行文字 / {field}: one line of 1 to {limit} characters", 422
        )
    return out


def uses(session: Session, cti: str) -> int:
    q = select(func.count()).where(
        Redemption.voucher == cti, Redemption.kind == "redeem", Redemption.status.in_(USED)
    )
    return int(session.execute(q).scalar_one())


def active_hold(session: Session, cti: str) -> OnlineHold | None:
    """The voucher's hold marked active (it may have lapsed: see :func:`live_hold`)."""
    return session.scalars(select(OnlineHold).where(OnlineHold.active == cti)).first()


def live_hold(session: Session, cti: str, now: int) -> OnlineHold | None:
    hold = active_hold(session, cti)
    return hold if hold is not None and hold.expires_at > now else None


def lapse(session: Session, hold: HoldRow, now: int) -> None:
    """End a hold past its ``expires_at`` and tell the counters."""
    end(session, hold.id, "expired", now)
    _announce(session, hold, "released", "")


def end(session: Session, hold_id: str, status: str, at: int) -> None:
    """Mark a hold ended (``released``, ``expired``): it no longer keeps its voucher."""
    session.connection().execute(END_HOLD, {"hold": hold_id, "to": status, "ended": at})


def mask(holder: str | None) -> str | None:
    """The holder's name as a partner may show it: the first character, then stars."""
    if not holder:
        return None
    return holder[0] + "*" * min(len(holder) - 1, 8)


def check(
    session: Session, partner: PartnerIdentity, code: str, cinema: str, fmt: str
) -> dict[str, Any]:
    """``POST check``: what the voucher grants here now; changes nothing."""
    v = usable(session, partner, code, cinema, fmt, now_ms())
    return {
        "usable": True,
        "voucher": v.short_code,
        "cinema": cinema,
        "format": fmt,
        "formats": list(v.formats),
        "cinemas": v.cinemas,
        "valid_from": iso_utc(v.nbf * 1000),
        "valid_until": iso_utc(v.exp * 1000),
        "holder": mask(v.holder),
        "admissions": v.admissions,
        "uses_left": v.admissions - v.uses,
    }


def hold_entry(hold: HoldRow, action: str, staff: str, at: int) -> dict[str, Any]:
    """The revocation entry of a hold that began (``at`` = when it lapses) or ended."""
    return feeds.revocation_entry(
        hold.voucher,
        action,
        reason="held" if action == "held" else "",
        at=at,
        cinema=hold.cinema,
        device=device_of(hold.partner),
        staff=staff[:64],
    )


def _announce(session: Session, hold: HoldRow, action: str, staff: str) -> None:
    """Tell the counters a hold ended (``released``), unless the office froze the voucher
    meanwhile: the counters' ``released`` would lift that freeze's row."""
    status = session.execute(select(Voucher.status).where(Voucher.cti == hold.voucher)).scalar()
    if status == "frozen":
        return
    feeds.publish_revocations(session, [hold_entry(hold, action, staff, now_ms())], locked=True)


def sweep(session: Session, now: int | None = None) -> int:
    """End every hold past its ``expires_at`` and tell the counters; returns how many.

    Also forgets old signatures and answered Idempotency-Keys past their keep.
    """
    lock(session)  # one pruner at a time (see sync.office.partners)
    now = now_ms() if now is None else now
    prune_signatures(session, now)
    due = session.connection().execute(DUE_HOLDS, {"now": now}).all()
    for hold in due:
        lapse(session, hold, now)
    session.execute(delete(OnlineRequest).where(OnlineRequest.at < now - IDEMPOTENCY_KEEP_MS))
    return len(due)


def sweep_due(session: Session) -> None:
    """:func:`sweep`, if this process has not swept this database in the last second.

    The API calls it last in a write's transaction (after the work, which
    holds the feed-head lock by then); nothing waits for it: see the module
    docstring.
    """
    bind = session.get_bind()
    t = time.monotonic()
    if t - _SWEPT.get(bind, -SWEEP_EVERY_S) < SWEEP_EVERY_S:
        return
    _SWEPT[bind] = t
    sweep(session)


class Keep(Protocol):
    """The request's Idempotency-Key, claimed by a step before it takes the feed-head lock
    (:class:`sync.office.online_once.Keeper`)."""

    def claim(self, answer: dict[str, Any]) -> dict[str, Any] | None: ...

    def amend(self, answer: dict[str, Any]) -> None: ...


def publish(session: Session, entries: list[dict[str, Any]]) -> None:
    """Append to the revocation feed; the append's own ``UPDATE`` of the head row takes the
    feed-head lock if this transaction did not hold it yet (one statement fewer under it)."""
    feeds.publish_revocations(session, entries, locked=True)
    session.info[LOCKED] = session.get_transaction()


def hold(
    session: Session,
    partner: PartnerIdentity,
    code: str,
    cinema: str,
    fmt: str,
    order_ref: str,
    seconds: int | None = None,
    keep: Keep | None = None,
) -> dict[str, Any]:
    """``POST holds``: keep the voucher for this order until confirm, release or expiry.

    Most of it before the feed-head lock: the voucher's state as of now (a
    refusal stands as of now), the key's claim, the hold's row (its UNIQUE
    ``active`` makes a concurrent hold of the voucher wait for this one, then
    fail). Under the lock (held from the feed append to the commit) only the
    state again, for a use or a freeze that got in meanwhile.
    """
    order_ref = text(order_ref, "order_ref", 128)
    length = HOLD_DEFAULT_S if seconds is None else seconds
    if not 1 <= length <= HOLD_MAX_S:
        raise OnlineError("bad_hold_seconds", f"hold_seconds: 1 to {HOLD_MAX_S}", 422)
    now = now_ms()
    v = usable(session, partner, code, cinema, fmt, now)
    conn = session.connection()
    row = {
        "id": f"hd_{secrets.token_hex(8)}",
        "partner": partner.id,
        "voucher": v.cti,
        "active": v.cti,
        "cinema": cinema,
        "format": fmt,
        "order_ref": order_ref,
        "status": "held",
        "created_at": now,
        "expires_at": now + length * 1000,
    }
    answer = {"status": "held", "hold_id": row["id"], "expires_at": iso_utc(row["expires_at"])}
    prior = keep.claim(answer) if keep is not None else None
    if prior is not None:  # a concurrent request with this key answered first
        return prior
    if v.hold_until is not None:  # usable, so it lapsed; not swept yet: end it, or we clash
        lock(session)
        stale = conn.execute(ACTIVE_HOLD, {"cti": v.cti}).first()
        if stale is not None:
            lapse(session, stale, now)
    try:
        conn.execute(HOLD_INSERT, row)
    except IntegrityError:  # the database's own "exactly one live hold"
        raise held_by_other() from None
    entry = feeds.revocation_entry(
        v.cti,
        "held",
        reason="held",
        at=row["expires_at"],
        cinema=cinema,
        device=device_of(partner.id),
        staff=partner.name[:64],
    )
    publish(session, [entry])  # from here to the commit: the feed-head lock
    again = conn.execute(VOUCHER_STATE, {"cti": v.cti, "cinema": cinema}).one()
    if again.status == "frozen":
        raise frozen(again)
    if again.uses >= again.admissions:
        raise used_up()
    return answer


def own_hold(session: Session, partner: PartnerIdentity, hold_id: str) -> HoldRow:
    row = (
        session.connection().execute(HOLD_ROW, {"id": hold_id}).first()
        if HOLD_ID_RE.match(hold_id)
        else None
    )
    if row is None or row.partner != partner.id:  # another partner's hold is not there for you
        raise OnlineError("unknown_hold", f"无此预订 / no hold {hold_id!r}", 404)
    return row


def _ended(hold_id: str, status: str) -> OnlineError:
    if status == "expired":
        return OnlineError("hold_expired", f"预订已过期 / hold {hold_id} expired")
    return OnlineError("hold_ended", f"预订已结束 / hold {hold_id} is {status}")


def confirm(
    session: Session,
    partner: PartnerIdentity,
    hold_id: str,
    on_line: OnLine | None = None,
    keep: Keep | None = None,
) -> dict[str, Any]:
    """``POST holds/{id}/confirm``: the use, as a valid line of the ledger.

    The hold as of now decides a refusal and the key is claimed before the
    feed-head lock; under it, the hold is confirmed only if still ``held``
    (else a concurrent confirm won: its answer), the voucher's uses are
    counted again, and the line, its chain and the feed are written.
    """
    row = own_hold(session, partner, hold_id)
    if row.status == "confirmed":
        return {"status": "confirmed", "hold_id": row.id, "record_id": row.record_id}
    if row.status == "held" and row.expires_at <= now_ms():
        raise _ended(row.id, "expired")  # not swept yet
    if row.status != "held":
        raise _ended(row.id, row.status)
    record, at = str(uuid.uuid4()), now_ms()
    answer = {"status": "confirmed", "hold_id": row.id, "record_id": record}
    prior = keep.claim(answer) if keep is not None else None
    if prior is not None:
        return prior
    lock(session)
    conn = session.connection()
    won = conn.execute(CONFIRMED, {"hold": row.id, "ended": at, "record": record})
    if won.rowcount != 1:  # it changed since: confirmed by a concurrent request, or ended
        now = own_hold(session, partner, hold_id)
        if now.status != "confirmed":
            raise _ended(now.id, now.status)
        answer = {"status": "confirmed", "hold_id": now.id, "record_id": now.record_id}
        if keep is not None:
            keep.amend(answer)
        return answer
    v = conn.execute(VOUCHER_STATE, {"cti": row.voucher, "cinema": row.cinema}).one()
    if v.status == "frozen":
        raise frozen(v)
    if v.uses >= v.admissions:  # e.g. an offline counter admitted it meanwhile
        raise used_up()
    know(session, v, row.cinema)
    line = write_line(session, partner, row, v.token, "redeem", record=record, at=at)
    settled(session, line, None, on_line)
    redeemed = feeds.revocation_entry(
        v.cti,
        "redeemed",
        at=line["at"],
        cinema=line["cinema"],
        device=line["device"],
        staff=line["staff"],
    )
    released = hold_entry(row, "released", partner.name, now_ms())
    feeds.publish_revocations(session, [released, redeemed], locked=True)  # one append
    return answer


def know(session: Session, v: Any, cinema: str) -> None:
    """Leave what :data:`VOUCHER_STATE` read of the cinema and the voucher's campaign to the
    running counts (:func:`sync.server.db.tx_memo`): two statements fewer per confirm."""
    know_business_day(session, cinema, v.tz, v.day_starts)
    know_campaign(session, v.cti, v.campaign)


def release(session: Session, partner: PartnerIdentity, hold_id: str) -> dict[str, Any]:
    """``POST holds/{id}/release``: the order fell through; the voucher is free again."""
    lock(session)
    row = own_hold(session, partner, hold_id)
    status = row.status
    if status == "held" and row.expires_at > now_ms():
        status = "released"
        end(session, row.id, status, now_ms())
        _announce(session, row, "released", partner.name)
    elif status == "held":
        status = "expired"
        lapse(session, row, now_ms())
    if status == "confirmed":
        raise OnlineError(
            "already_confirmed", f"预订已确认 / hold {row.id} was confirmed: cancel the redemption"
        )
    if status == "cancelled":
        raise _ended(row.id, status)
    return {"status": status, "hold_id": row.id}


def cancel(
    session: Session,
    partner: PartnerIdentity,
    record_id: str,
    reason: str,
    on_line: OnLine | None = None,
) -> dict[str, Any]:
    """``POST redemptions/{id}/cancel``: a refunded ticket; the voucher is usable again."""
    reason = text(reason, "reason", 200)
    lock(session)
    line = session.get(Redemption, record_id) if RECORD_ID_RE.match(record_id) else None
    if line is None or line.source != SOURCE or line.partner != partner.id or line.kind != "redeem":
        raise OnlineError(
            "unknown_record", f"无此核销记录 / no online redemption {record_id!r}", 404
        )
    row = session.scalars(select(OnlineHold).where(OnlineHold.record_id == record_id)).one()
    if row.status == "cancelled":
        void_id = session.scalars(
            select(Redemption.uuid).where(
                Redemption.voids == record_id, Redemption.device == line.device
            )
        ).first()
        return {"status": "cancelled", "record_id": record_id, "void_id": void_id}
    if line.status != "valid":
        raise OnlineError(
            "not_cancellable", f"此记录不可撤销 / record {record_id} is {line.status}"
        )
    void = write_line(session, partner, row, line.token, "void", voids=record_id)
    line.status = "void"
    row.status, row.cancel_reason = "cancelled", reason
    session.flush()
    fields = ("uuid", "cinema", "at", "kind", "format", "device", "voucher")
    changed = {c: getattr(line, c) for c in fields}
    settled(session, {**changed, "status": "void"}, "valid", None)  # a signed month's refund
    settled(session, void, None, on_line)
    v = session.get(Voucher, line.voucher)
    if v is not None and uses(session, v.cti) < v.admissions:
        entry = feeds.revocation_entry(v.cti, "unredeemed")
        feeds.publish_revocations(session, [entry], locked=True)
    return {"status": "cancelled", "record_id": record_id, "void_id": void["uuid"]}
