"""Partner cinemas: adding and changing one, and what a batch's cards say about them.

A cinema's ``address`` and ``phone`` are printed on the member's card (the
buyer requires the card to name where it can be used); its ``timezone`` and
``day_starts`` are its business day (:mod:`sync.businessday`), which its
counters learn on every sync and the settlement groups by.
"""

from __future__ import annotations

import re
from typing import cast

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from sync.businessday import BusinessDay
from sync.cardrights import CinemaEntry
from sync.server.db import tx_memo
from sync.server.models import Cinema, now_ms

from .errors import OfficeError
from .issuers import one_line
from .rows import fields, get_or_refuse

CINEMA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
MAX_ADDRESS = 300
MAX_PHONE = 64


def _text(value: str, flag: str, limit: int, *, required: bool = False) -> str:
    text = one_line(value, flag, limit)
    if required and not text:
        raise OfficeError("bad_name", f"{flag} 不能为空 / {flag} must not be empty")
    return text


def add_cinema(session: Session, code: str, name: str, **details: str | None) -> Cinema:
    """Add a partner cinema (``code`` is what counters and vouchers name).

    ``details`` are :func:`set_cinema`'s keywords (address, phone, timezone,
    day_starts): a new cinema is an empty one with them set, checked the same way.
    """
    code = code.strip()
    if not CINEMA_RE.match(code):
        raise OfficeError(
            "bad_cinema", f"--code {code!r}: letters, digits, - _ . (max 32), e.g. SH-WANDA-01"
        )
    if session.get(Cinema, code) is not None:
        raise OfficeError("cinema_exists", f"cinema {code} already exists")
    bd = BusinessDay.of(None, None)
    cinema = Cinema(
        code=code,
        name="",
        created_at=now_ms(),
        address="",
        phone="",
        timezone=bd.timezone,
        day_starts=bd.day_starts,
    )
    _apply(cinema, name=name, **details)
    session.add(cinema)
    return cinema


def set_cinema(session: Session, code: str, **changes: str | None) -> Cinema:
    """Change what is given of an existing cinema (``""`` clears address or phone)."""
    return _apply(get_cinema(session, code), **changes)


def _apply(
    cinema: Cinema,
    *,
    name: str | None = None,
    address: str | None = None,
    phone: str | None = None,
    timezone: str | None = None,
    day_starts: str | None = None,
) -> Cinema:
    if name is not None:
        cinema.name = _text(name, "--name", 200, required=True)
    if address is not None:
        cinema.address = _text(address, "--address", MAX_ADDRESS)
    if phone is not None:
        cinema.phone = _text(phone, "--phone", MAX_PHONE)
    if timezone is not None or day_starts is not None:
        # refuses a bad zone or HH:MM (exit 2)
        bd = BusinessDay.of(timezone or cinema.timezone, day_starts or cinema.day_starts)
        cinema.timezone, cinema.day_starts = bd.timezone, bd.day_starts
    return cinema


def get_cinema(session: Session, code: str) -> Cinema:
    return get_or_refuse(
        session,
        Cinema,
        code,
        "unknown_cinema",
        f"没有此影院 / no cinema with code {code.strip()!r} (see `cinepass-admin cinema list`)",
    )


CINEMA_FIELDS = ("code", "name", "address", "phone", "timezone", "day_starts")


def cinema_json(c: Cinema) -> dict[str, object]:
    """What ``cinema list --json`` and the audit log show of a cinema."""
    return fields(c, CINEMA_FIELDS)


def list_cinemas(session: Session) -> list[Cinema]:
    return list(session.scalars(select(Cinema).order_by(Cinema.code)))


_DAY_OF = select(Cinema.__table__.c.timezone, Cinema.__table__.c.day_starts).where(
    Cinema.__table__.c.code == bindparam("code")
)


def business_day(session: Session, code: str) -> BusinessDay:
    """The business day of cinema ``code`` (the defaults for a code the database lacks).

    One prebuilt Core query, not an ORM load: every line change of the ledger
    asks it (:func:`sync.office.tally.count`), an online confirm among them,
    which read it already and left it here (:func:`know_business_day`). Only
    what was left is answered from memory: a query of its own would autoflush
    a pending change of the cinema first, and a remembered answer would not.
    """
    known = tx_memo(session, "business_day")
    if code in known:
        return cast(BusinessDay, known[code])
    row = session.execute(_DAY_OF, {"code": code}).first()
    return BusinessDay.of(row[0], row[1]) if row else BusinessDay()


def know_business_day(
    session: Session, code: str, timezone: str | None, starts: str | None
) -> None:
    """What a statement of this transaction read of cinema ``code`` (its timezone and day
    start, None when it is unknown): :func:`business_day` answers from it."""
    tx_memo(session, "business_day")[code] = BusinessDay.of(timezone, starts)


def cinema_entries(session: Session, codes: tuple[str, ...] | None) -> tuple[CinemaEntry, ...]:
    """The cinemas a batch is valid at, as its cards print them (in the batch's order).

    Empty for a batch valid at every partner cinema: the card then says so in
    general words, because a cinema that joins later is just as valid.
    """
    if not codes:
        return ()
    rows = {c.code: c for c in session.scalars(select(Cinema).where(Cinema.code.in_(codes)))}
    return tuple(
        CinemaEntry(rows[c].name, rows[c].address, rows[c].phone) for c in codes if c in rows
    )


def check_cinemas(session: Session, cinemas: tuple[str, ...] | None) -> None:
    """Refuse cinema codes the central database does not know (a typo would make
    every voucher of the batch unusable at every counter)."""
    if not cinemas:
        return
    known = set(session.execute(select(Cinema.code).where(Cinema.code.in_(cinemas))).scalars())
    unknown = [c for c in cinemas if c not in known]
    if unknown:
        raise OfficeError(
            "unknown_cinema",
            f"--cinemas: {', '.join(unknown)} not a partner cinema here "
            "(add it with `cinepass-admin cinema add --code C --name N`)",
        )
