"""Whether a partner may use a voucher at a cinema now: one query and the refusals (issue 14).

Apart from :mod:`.online` so each stays small. :data:`VOUCHER_STATE` answers
"which voucher, how often used, held until when, is the cinema known" in one
statement (SQLAlchemy Core, built once: see docs/online-api.md, "Speed");
:func:`usable` turns its row into the answer or the refusal, in the order
docs/online-api.md gives.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, func, select
from sqlalchemy.orm import Session

from sync.server.models import Cinema, OnlineHold, Redemption, Voucher
from sync.voucher.codec import PREFIX, decode_voucher
from sync.voucher.errors import VoucherError
from sync.voucher.shortcode import parse_short_code

from .partners import OnlineError, PartnerIdentity
from .reports import iso_utc

#: the statuses of a ``redeem`` line that count as a use (``review``: still claimed)
USED = ("valid", "review")
V = cast(Table, Voucher.__table__)
H = cast(Table, OnlineHold.__table__)
R = cast(Table, Redemption.__table__)
C = cast(Table, Cinema.__table__)
USES = (
    select(func.count())
    .where(R.c.voucher == V.c.cti, R.c.kind == "redeem", R.c.status.in_(USED))
    .scalar_subquery()
)
#: a voucher (by ``cti``) with its uses, the end of its hold marked active (NULL:
#: none; it may have lapsed) and whether ``cinema`` is a known cinema
VOUCHER_STATE = select(
    V.c.cti,
    V.c.short_code,
    V.c.holder,
    V.c.formats,
    V.c.cinemas,
    V.c.admissions,
    V.c.nbf,
    V.c.exp,
    V.c.status,
    V.c.freeze_reason,
    V.c.token,
    USES.label("uses"),
    select(H.c.expires_at).where(H.c.active == V.c.cti).scalar_subquery().label("hold_until"),
    exists().where(C.c.code == bindparam("cinema")).label("cinema_known"),
    # what a confirm's running counts ask next (sync.office.tally), read here at once
    V.c.campaign,
    select(C.c.timezone).where(C.c.code == bindparam("cinema")).scalar_subquery().label("tz"),
    select(C.c.day_starts)
    .where(C.c.code == bindparam("cinema"))
    .scalar_subquery()
    .label("day_starts"),
).where(V.c.cti == bindparam("cti"))
CINEMA_KNOWN = select(C.c.code).where(C.c.code == bindparam("cinema"))

VoucherRow = Any  # a row of VOUCHER_STATE (its columns by name)


def cti_of(code: str) -> str | None:
    """The voucher id a short code (any case, dashes or not) or QR text names, if it parses."""
    code = code.strip()
    try:
        cti = (
            decode_voucher(code).voucher.cti if code.startswith(PREFIX) else parse_short_code(code)
        )
    except (VoucherError, ValueError):
        return None
    return cti.hex() if cti else None


def wrong_cinema(cinema: str) -> OnlineError:
    return OnlineError(
        "wrong_cinema", f"无权代理此影院 / this partner may not act for cinema {cinema!r}", 403
    )


def frozen(v: VoucherRow) -> OnlineError:
    return OnlineError("frozen", f"此券已冻结 / voucher frozen ({v.freeze_reason or ''})")


def used_up() -> OnlineError:
    return OnlineError("already_redeemed", "此券已使用 / voucher already used")


def held_by_other() -> OnlineError:
    return OnlineError("held_by_other", "此券已被预订 / voucher held by another order")


def usable(
    session: Session, partner: PartnerIdentity, code: str, cinema: str, fmt: str, now: int
) -> VoucherRow:
    """The voucher's :data:`VOUCHER_STATE` if ``partner`` may use it at ``cinema`` for
    ``fmt`` now; else the refusal (a cinema the partner may not act for comes first)."""
    if not partner.allows(cinema):
        raise wrong_cinema(cinema)
    cti = cti_of(code)
    conn = session.connection()
    v = conn.execute(VOUCHER_STATE, {"cti": cti, "cinema": cinema}).first() if cti else None
    if v is None:
        if conn.execute(CINEMA_KNOWN, {"cinema": cinema}).first() is None:
            raise wrong_cinema(cinema)
        raise OnlineError("unknown_code", "无此券码 / no voucher with this code", 404)
    if not v.cinema_known:
        raise wrong_cinema(cinema)
    if v.status == "frozen":
        raise frozen(v)
    if v.uses >= v.admissions:
        raise used_up()
    if v.hold_until is not None and v.hold_until > now:
        raise held_by_other()
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
