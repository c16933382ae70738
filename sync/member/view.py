"""What the member page shows of one voucher: its state, where it works, its rights.

The state is the one a counter or partner would act on, in the order they
refuse: frozen, used up (a ``valid`` or ``review`` line, as the online API
counts, :data:`sync.office.online.USED`), expired, held by a live online hold
(已预订), else active. The rights are the sentences the printed card carries
(:mod:`sync.cardrights`), built from the same facts: the issuer's hotline
and after-sales text, the cinemas' names, addresses and phones.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from sync.cardrights import (
    CardRights,
    CinemaEntry,
    formats_line,
    hotline_line,
    redeem_text,
    rules_text,
    validity_note,
    where_codes,
)
from sync.issuing import display_date, valid_until_date
from sync.office.cinemas import cinema_entries, list_cinemas
from sync.office.issuers import card_contact, issuer_label
from sync.office.online import live_hold, uses
from sync.server.models import Voucher, now_ms

STATES = ("active", "frozen", "used", "expired", "held")


@dataclass(frozen=True)
class MemberView:
    """One voucher as its member sees it."""

    short_code: str
    holder: str | None
    state: str
    freeze_reason: str | None
    valid_from: str
    valid_until: str
    formats: tuple[str, ...]
    uses_left: int
    every_cinema: bool
    cinemas: tuple[CinemaEntry, ...]
    issuer: str
    hotline: str | None
    card_text: tuple[str, ...]

    @property
    def shows_qr(self) -> bool:
        """Only a usable voucher shows its QR (a frozen one would only be refused)."""
        return self.state == "active"


def state_of(session: Session, v: Voucher, now: int | None = None) -> str:
    now = now_ms() if now is None else now
    if v.status == "frozen":
        return "frozen"
    if uses(session, v.cti) >= v.admissions:
        return "used"
    if now // 1000 > v.exp:
        return "expired"
    return "held" if live_hold(session, v.cti, now) is not None else "active"


def view_of(session: Session, v: Voucher) -> MemberView:
    hotline, after_sales = card_contact(session, v.issuer_code)
    if v.cinemas is None:
        cinemas = tuple(CinemaEntry(c.name, c.address, c.phone) for c in list_cinemas(session))
    else:
        cinemas = cinema_entries(session, tuple(v.cinemas))
    rights = CardRights(cinemas=cinemas, hotline=hotline, after_sales=after_sales)
    valid_from, valid_until = display_date(v.nbf), valid_until_date(v.exp)
    text = [
        formats_line(v.formats),
        f"有效期至 {valid_until}{validity_note(valid_from)}",
        where_codes(None if v.cinemas is None else [c.name for c in cinemas]),
        redeem_text(v.formats),
        rules_text(rights),
        hotline_line(rights) or "",
    ]
    return MemberView(
        short_code=v.short_code,
        holder=v.holder,
        state=state_of(session, v),
        freeze_reason=v.freeze_reason,
        valid_from=valid_from,
        valid_until=valid_until,
        formats=tuple(v.formats),
        uses_left=max(0, v.admissions - uses(session, v.cti)),
        every_cinema=v.cinemas is None,
        cinemas=cinemas,
        issuer=issuer_label(session, v.issuer_code),
        hotline=rights.hotline,
        card_text=tuple(t for t in text if t),
    )
