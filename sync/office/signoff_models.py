"""Month sign-off tables (migration 0010_month_signoff) and the adjustments they cause.

Declared on the server's :class:`sync.server.models.Base` like the alert
tables. Once the union signs a cinema's month off (:mod:`sync.office.signoff`)
its statement is *frozen*: ``month_signoff.statement`` keeps the report as it
was signed and every reader (the console, ``cinepass-admin report``, the PDF)
shows that copy. What happens to that month afterwards — a counter that was
offline uploads its records, the union decides a line held for review, a
dispute moves a paid line — is written by the one place that changes a
line's status (:func:`sync.server.ingest_settle.publish`) as a row of
``settlement_adjustment`` counted in the cinema's *next open* month, where the
statement lists it apart, with the paid difference (+1, -1 or 0).

Also here: two indexes the console's counters page needs (chain gaps and
forks per counter), declared on the ``redemption`` table by column so the
models and the migration agree without editing :mod:`sync.server.models`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from sync.businessday import BusinessDay
from sync.server.models import Base, Redemption, now_ms

from . import tally
from .cinemas import business_day
from .tally import LineChange as LineChange  # where every caller imports it from

#: the statuses that are paid (docs/settlement.md)
PAID = "valid"

Index("ix_redemption_chain_gap_device", Redemption.chain_gap, Redemption.device)
Index("ix_redemption_chain_fork_device", Redemption.chain_fork, Redemption.device)


class MonthSignoff(Base):
    """One cinema's month, signed off: its statement as signed, who signed and when."""

    __tablename__ = "month_signoff"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))
    cinema: Mapped[str] = mapped_column(String(64))
    signed_by: Mapped[str] = mapped_column(String(128))
    signed_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    address: Mapped[str] = mapped_column(String(128), default="cli")
    statement: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the statement's figures alone (what the month x cinema table reads, not every line)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("month", "cinema", name="uq_month_signoff_month_cinema"),)


class SettlementAdjustment(Base):
    """A change to a signed month's line, counted in the cinema's next open ``month``."""

    __tablename__ = "settlement_adjustment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cinema: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # where it is counted (open when written)
    origin_month: Mapped[str] = mapped_column(String(7))  # the signed month of the line
    record: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(8))  # ``late`` (arrived after) | ``changed``
    before: Mapped[str | None] = mapped_column(String(16), nullable=True)
    after: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(8))
    delta: Mapped[int] = mapped_column(Integer)  # paid lines: +1, -1 or 0
    at: Mapped[int] = mapped_column(BigInteger, default=now_ms)

    __table_args__ = (Index("ix_settlement_adjustment_cinema_month", "cinema", "month"),)


_SIGNOFF = cast(Table, MonthSignoff.__table__)
#: built once: every new ledger line asks it (a Core select, lighter than the ORM's)
SIGNED = select(_SIGNOFF.c.cinema, _SIGNOFF.c.month)

#: the statement keys copied into ``MonthSignoff.summary``
SUMMARY_KEYS = ("valid_total", "valid_by_format", "counts", "adjustments_total", "payable_total")


def summary_of(statement: dict[str, Any]) -> dict[str, Any]:
    return {k: statement.get(k) for k in SUMMARY_KEYS}


def next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    return f"{y + (m == 12)}-{1 if m == 12 else m + 1:02d}"


@dataclass(frozen=True)
class Locks:
    """The signed (cinema, month) pairs, read once per batch (a small table)."""

    signed: frozenset[tuple[str, str]]

    @classmethod
    def load(cls, session: Session) -> Locks:
        rows = session.execute(SIGNED)
        return cls(frozenset((c, m) for c, m in rows))

    def locked(self, cinema: str, month: str) -> bool:
        return (cinema, month) in self.signed

    def open_month(self, cinema: str, month: str) -> str:
        """The first month after ``month`` that is not signed for ``cinema``."""
        month = next_month(month)
        while self.locked(cinema, month):
            month = next_month(month)
        return month


def record_adjustments(session: Session, changes: Iterable[LineChange]) -> int:
    """Write an adjustment for each change that falls in a signed month; how many.

    Called by :func:`sync.server.ingest_settle.publish` (counter uploads,
    review decisions) and the online channel for every new line and every
    status change, in the same transaction: the one place a line's status
    passes, so the console's running counts (:func:`sync.office.tally.count`)
    are kept here too. Without any sign-off this is one query on a small table.
    """
    changes = list(changes)
    if not changes:
        return 0
    tally.count(session, changes)
    locks = Locks.load(session)
    if not locks.signed:
        return 0
    days: dict[str, BusinessDay] = {}
    rows = []
    for ch in changes:
        if ch.before == ch.after or not any(c == ch.cinema for c, _m in locks.signed):
            continue
        if ch.cinema not in days:
            days[ch.cinema] = business_day(session, ch.cinema)
        origin = days[ch.cinema].month_of(ch.at)
        if not locks.locked(ch.cinema, origin):
            continue
        paid = ch.kind == "redeem"
        delta = paid * ((ch.after == PAID) - (ch.before == PAID))
        rows.append(
            SettlementAdjustment(
                cinema=ch.cinema,
                month=locks.open_month(ch.cinema, origin),
                origin_month=origin,
                record=ch.uuid,
                kind="late" if ch.before is None else "changed",
                before=ch.before,
                after=ch.after,
                format=ch.format,
                delta=int(delta),
                at=now_ms(),
            )
        )
    session.add_all(rows)
    return len(rows)
