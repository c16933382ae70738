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
``expires_at``: :func:`sweep` (every write of the API) ends them and tells
the counters.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync.records import GENESIS_HASH
from sync.server import feeds
from sync.server.models import Cinema, OnlineHold, OnlineRequest, Redemption, Voucher, now_ms
from sync.voucher.codec import PREFIX, decode_voucher
from sync.voucher.errors import VoucherError
from sync.voucher.shortcode import parse_short_code

from .partners import OnlineError, PartnerIdentity, prune_signatures
from .reports import iso_utc
from .signoff_models import LineChange, record_adjustments

HOLD_ID_RE = re.compile(r"^hd_[0-9a-f]{16}$")
RECORD_ID_RE = re.compile(r"^[0-9a-f-]{36}$")
HOLD_DEFAULT_S = 900
HOLD_MAX_S = 1800
SOURCE = "online"
USED = ("valid", "review")
#: answered Idempotency-Keys are kept this long (a retry after that is a new request)
IDEMPOTENCY_KEEP_MS = 24 * 3600 * 1000
LOCKED = "cinepass.head_locked"


def lock(session: Session) -> None:
    """Take the feed-head lock, once per transaction: every step of a request calls this,
    the first one takes the lock (held until commit), the others find it taken."""
    if session.info.get(LOCKED) is session.get_transaction() is not None:
        return
    feeds.lock_head(session)
    session.info[LOCKED] = session.get_transaction()


def device_of(partner_id: str) -> str:
    """The ``device`` column of a partner's lines (and of its feed entries)."""
    return f"online:{partner_id}"


def text(value: str, field: str, limit: int) -> str:
    """One line of printable text (no control character, no lone surrogate), else bad_text."""
    out = " ".join(value.split())
    if not out or len(out) > limit or any(unicodedata.category(c) in ("Cc", "Cs") for c in out):
        raise OnlineError(
            "bad_text", f"{field} 须为一行文字 / {field}: one line of 1 to {limit} characters", 422
        )
    return out


def find_code(session: Session, code: str) -> Voucher:
    """The voucher a short code (any case, dashes or not) or QR text names, else unknown_code."""
    code = code.strip()
    try:
        cti = (
            decode_voucher(code).voucher.cti if code.startswith(PREFIX) else parse_short_code(code)
        )
    except (VoucherError, ValueError):
        cti = None
    v = session.get(Voucher, cti.hex()) if cti else None
    if v is None:
        raise OnlineError("unknown_code", "无此券码 / no voucher with this code", 404)
    return v


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


def lapse(session: Session, hold: OnlineHold, now: int) -> None:
    """End a hold past its ``expires_at`` and tell the counters."""
    hold.status, hold.active, hold.ended_at = "expired", None, now
    _announce(session, hold, "released", "")


def usable(
    session: Session, partner: PartnerIdentity, code: str, cinema: str, fmt: str, now: int
) -> Voucher:
    """The voucher if ``partner`` may use it at ``cinema`` for ``fmt`` now; else the refusal."""
    if not partner.allows(cinema) or session.get(Cinema, cinema) is None:
        raise OnlineError(
            "wrong_cinema", f"无权代理此影院 / this partner may not act for cinema {cinema!r}", 403
        )
    v = find_code(session, code)
    if v.status == "frozen":
        raise OnlineError("frozen", f"此券已冻结 / voucher frozen ({v.freeze_reason or ''})")
    if uses(session, v.cti) >= v.admissions:
        raise OnlineError("already_redeemed", "此券已使用 / voucher already used")
    if live_hold(session, v.cti, now) is not None:
        raise OnlineError("held_by_other", "此券已被预订 / voucher held by another order")
    if now // 1000 > v.exp:
        raise OnlineError("expired", f"此券已过期 / voucher expired on {iso_utc(v.exp * 1000)}")
    if now // 1000 < v.nbf:
        raise OnlineError(
            "not_yet_valid", f"此券尚未生效 / voucher valid from {iso_utc(v.nbf * 1000)}"
        )
    if v.cinemas is not None and cinema not in v.cinemas:
        raise OnlineError("wrong_cinema", f"此券不适用于本影院 / not valid at cinema {cinema}")
    if fmt not in v.formats:
        raise OnlineError(
            "wrong_format", f"此券不含此影片格式 / format {fmt!r} not in {', '.join(v.formats)}"
        )
    return v


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
        "uses_left": v.admissions - uses(session, v.cti),
    }


def _announce(session: Session, hold: OnlineHold, action: str, staff: str) -> None:
    """Tell the counters a hold began (``at`` = when it lapses) or ended.

    The end is not announced for a voucher the office froze meanwhile: the
    counters' ``released`` would lift that freeze's row.
    """
    v = session.get(Voucher, hold.voucher)
    if action == "released" and v is not None and v.status == "frozen":
        return
    at = hold.expires_at if action == "held" else now_ms()
    entry = feeds.revocation_entry(
        hold.voucher,
        action,
        reason="held" if action == "held" else "",
        at=at,
        cinema=hold.cinema,
        device=device_of(hold.partner),
        staff=staff[:64],
    )
    feeds.publish_revocations(session, [entry])


def sweep(session: Session, now: int | None = None) -> int:
    """End every hold past its ``expires_at`` and tell the counters; returns how many.

    Also forgets old signatures and answered Idempotency-Keys past their keep.
    """
    lock(session)  # one pruner at a time (see sync.office.partners)
    now = now_ms() if now is None else now
    prune_signatures(session, now)
    due = session.scalars(
        select(OnlineHold)
        .where(OnlineHold.status == "held", OnlineHold.expires_at <= now)
        .limit(1000)
    ).all()
    for hold in due:
        lapse(session, hold, now)
    session.execute(delete(OnlineRequest).where(OnlineRequest.at < now - IDEMPOTENCY_KEEP_MS))
    return len(due)


def hold(
    session: Session,
    partner: PartnerIdentity,
    code: str,
    cinema: str,
    fmt: str,
    order_ref: str,
    seconds: int | None = None,
) -> dict[str, Any]:
    """``POST holds``: keep the voucher for this order until confirm, release or expiry."""
    order_ref = text(order_ref, "order_ref", 128)
    length = HOLD_DEFAULT_S if seconds is None else seconds
    if not 1 <= length <= HOLD_MAX_S:
        raise OnlineError("bad_hold_seconds", f"hold_seconds: 1 to {HOLD_MAX_S}", 422)
    lock(session)
    now = now_ms()
    v = usable(session, partner, code, cinema, fmt, now)
    stale = active_hold(session, v.cti)  # usable: if there is one, it has lapsed
    if stale is not None:  # not swept yet: end it here, or the insert would clash
        lapse(session, stale, now)
        session.flush()
    row = OnlineHold(
        id=f"hd_{secrets.token_hex(8)}",
        partner=partner.id,
        voucher=v.cti,
        active=v.cti,
        cinema=cinema,
        format=fmt,
        order_ref=order_ref,
        status="held",
        created_at=now,
        expires_at=now + length * 1000,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the database's own "exactly one live hold"
        raise OnlineError("held_by_other", "此券已被预订 / voucher held by another order") from None
    _announce(session, row, "held", partner.name)
    return {"status": "held", "hold_id": row.id, "expires_at": iso_utc(row.expires_at)}


def own_hold(session: Session, partner: PartnerIdentity, hold_id: str) -> OnlineHold:
    row = session.get(OnlineHold, hold_id) if HOLD_ID_RE.match(hold_id) else None
    if row is None or row.partner != partner.id:  # another partner's hold is not there for you
        raise OnlineError("unknown_hold", f"无此预订 / no hold {hold_id!r}", 404)
    return row


def _ended(row: OnlineHold) -> OnlineError:
    if row.status == "expired":
        return OnlineError("hold_expired", f"预订已过期 / hold {row.id} expired")
    return OnlineError("hold_ended", f"预订已结束 / hold {row.id} is {row.status}")


def _chain_head(session: Session, device: str) -> tuple[int, str]:
    last = session.execute(
        select(Redemption.seq, Redemption.hash)
        .where(Redemption.device == device)
        .order_by(Redemption.seq.desc())
        .limit(1)
    ).first()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH.hex())


def _line(
    session: Session, partner: PartnerIdentity, row: OnlineHold, kind: str, voids: str = ""
) -> Redemption:
    """A ledger line of the partner's chain (hash over its fields and the previous hash)."""
    device = device_of(partner.id)
    seq, prev = _chain_head(session, device)
    v = session.get(Voucher, row.voucher)
    assert v is not None  # a hold names an issued voucher
    fields = {
        "uuid": str(uuid.uuid4()),
        "v": 1,
        "device": device,
        "seq": seq + 1,
        "kind": kind,
        "voucher": v.cti,
        "token": v.token,
        "cinema": row.cinema,
        "format": row.format,
        "staff": partner.name[:64],
        "at": now_ms(),
        "voids": voids,
        "prev": prev,
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    line = Redemption(
        **fields,
        hash=digest,
        sig=partner.signature,
        status="void" if kind == "void" else "valid",
        duplicate_of=None,
        problem=None,
        received_at=fields["at"],
        chain_gap=False,
        chain_fork=False,
        source=SOURCE,
        partner=partner.id,
        order_ref=row.order_ref,
    )
    session.add(line)
    return line


#: told of each line an online request writes (the server's alerts inbox, issue 13)
OnLine = Callable[[Redemption], None]


def _settled(
    session: Session, line: Redemption, before: str | None, on_line: OnLine | None
) -> None:
    """What every counter line goes through after its status is set: a line of a signed
    month becomes an adjustment of the next open one (docs/settlement.md), and the monitor
    is told."""
    record_adjustments(
        session,
        [
            LineChange(
                line.uuid,
                line.cinema,
                int(line.at),
                line.kind,
                line.format,
                before,
                line.status,
                line.voucher,
            )
        ],
    )
    if on_line is not None and before is None:
        on_line(line)


def confirm(
    session: Session, partner: PartnerIdentity, hold_id: str, on_line: OnLine | None = None
) -> dict[str, Any]:
    """``POST holds/{id}/confirm``: the use, as a valid line of the ledger."""
    lock(session)
    row = own_hold(session, partner, hold_id)
    if row.status == "confirmed":
        return {"status": "confirmed", "hold_id": row.id, "record_id": row.record_id}
    if row.status == "held" and row.expires_at <= now_ms():
        row.status = "expired"  # sweep() has not got to it yet; rolled back with the refusal
    if row.status != "held":
        raise _ended(row)
    v = session.get(Voucher, row.voucher)
    assert v is not None
    if v.status == "frozen":
        raise OnlineError("frozen", f"此券已冻结 / voucher frozen ({v.freeze_reason or ''})")
    if uses(session, v.cti) >= v.admissions:  # e.g. an offline counter admitted it meanwhile
        raise OnlineError("already_redeemed", "此券已使用 / voucher already used")
    line = _line(session, partner, row, "redeem")
    row.status, row.active, row.ended_at, row.record_id = "confirmed", None, line.at, line.uuid
    session.flush()
    _settled(session, line, None, on_line)
    _announce(session, row, "released", partner.name)
    entry = feeds.revocation_entry(
        v.cti,
        "redeemed",
        at=line.at,
        cinema=line.cinema,
        device=line.device,
        staff=line.staff,
    )
    feeds.publish_revocations(session, [entry])
    return {"status": "confirmed", "hold_id": row.id, "record_id": line.uuid}


def release(session: Session, partner: PartnerIdentity, hold_id: str) -> dict[str, Any]:
    """``POST holds/{id}/release``: the order fell through; the voucher is free again."""
    lock(session)
    row = own_hold(session, partner, hold_id)
    if row.status == "held" and row.expires_at > now_ms():
        row.status, row.active, row.ended_at = "released", None, now_ms()
        session.flush()
        _announce(session, row, "released", partner.name)
    elif row.status == "held":
        lapse(session, row, now_ms())
    if row.status == "confirmed":
        raise OnlineError(
            "already_confirmed", f"预订已确认 / hold {row.id} was confirmed: cancel the redemption"
        )
    if row.status == "cancelled":
        raise _ended(row)
    return {"status": row.status, "hold_id": row.id}


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
    void = _line(session, partner, row, "void", voids=record_id)
    line.status = "void"
    row.status, row.cancel_reason = "cancelled", reason
    session.flush()
    _settled(session, line, "valid", None)  # a refund of a signed month's use: an adjustment
    _settled(session, void, None, on_line)
    v = session.get(Voucher, line.voucher)
    if v is not None and uses(session, v.cti) < v.admissions:
        feeds.publish_revocations(session, [feeds.revocation_entry(v.cti, "unredeemed")])
    return {"status": "cancelled", "record_id": record_id, "void_id": void.uuid}
