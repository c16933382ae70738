"""Running counts of the ledger (migration 0011_console_tally): what the console's pages sum.

Every page of the console that counts lines over a month (the settlement
month x cinema table, one cinema's month) or vouchers used (the overview's
utilisation per campaign) would otherwise read every line of the month or
join every voucher to its redemptions: 100 to 1,000 ms at 100,000 lines.
These tables hold the same counts, kept in step by the one place every line's
status is set or changed (:func:`sync.office.signoff_models.record_adjustments`,
called by counter ingest, review decisions and the online channel in the
same transaction as the change), so reading them is a few hundred rows.

* ``redemption_tally`` — lines per (cinema, business day, format, kind,
  status). ``basis`` is the cinema's business-day setting the day was
  computed with (``"Asia/Shanghai 06:00"``): after ``cinema set --timezone
  / --day-starts`` the old rows no longer match the cinema's setting and a
  reader counts that cinema from the lines instead (:func:`stale`) until
  :func:`rebuild_cinema` recounts it.
* ``voucher_use`` — valid redeems per voucher and format (``*``: any format).
* ``campaign_tally`` — vouchers with at least one valid redeem per campaign
  and format (``*``: any; campaign ``""``: none, or a voucher this office did
  not issue), what :func:`sync.office.campaigns.campaign_utilisation` reads.

The counts equal a ``GROUP BY`` over ``redemption`` at every commit
(``tests/test_console_tally.py`` checks it after random uploads, duplicates,
voids, reviews and online uses); :func:`rebuild` recounts everything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Index, Integer, String, bindparam, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from sync.businessday import BusinessDay
from sync.server.db import IN_CHUNK, tx_memo
from sync.server.models import Base, Cinema, Redemption, Voucher

from .cinemas import business_day

#: the format key of "any format" (a voucher used at all)
ANY = "*"
#: the campaign key of a voucher without one (or not in the voucher table)
NO_CAMPAIGN = ""
#: rows per executemany call when recounting (bounded memory per call)
CHUNK = 2000

# the overview's "expiring within 30 days" and "issued per campaign" without a table scan
Index("ix_voucher_exp", Voucher.exp)
Index("ix_voucher_campaign_replaced", Voucher.campaign, Voucher.replaced_by)


class RedemptionTally(Base):
    """Lines of one cinema's business day by format, kind and status."""

    __tablename__ = "redemption_tally"
    cinema: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (business day)
    format: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    basis: Mapped[str] = mapped_column(String(80), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_redemption_tally_day", "day"),)


class VoucherUse(Base):
    """Valid redeems of one voucher in one format (``*``: in any)."""

    __tablename__ = "voucher_use"
    cti: Mapped[str] = mapped_column(String(20), primary_key=True)
    format: Mapped[str] = mapped_column(String(8), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class CampaignTally(Base):
    """Vouchers of a campaign used at least once in a format (``*``: in any)."""

    __tablename__ = "campaign_tally"
    campaign: Mapped[str] = mapped_column(String(128), primary_key=True)
    format: Mapped[str] = mapped_column(String(8), primary_key=True)
    vouchers: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class LineChange:
    """One line whose status was set: ``before`` is None for a line just received.

    ``voucher`` (the cti) lets the voucher and campaign counts follow a
    valid redeem; every caller passes it (no default: a forgotten one would
    silently miss the counts).
    """

    uuid: str
    cinema: str
    at: int
    kind: str
    format: str
    before: str | None
    after: str
    voucher: str


def basis_of(bd: BusinessDay) -> str:
    return f"{bd.timezone} {bd.day_starts}"


_UPSERTS: dict[tuple[str, str, bool], Any] = {}


def _upsert(
    session: Session,
    table: Any,
    keys: tuple[str, ...],
    col: str,
    rows: list[dict[str, Any]],
    *,
    returning: bool = False,
) -> list[Any]:
    """Add each row's ``col`` to the stored one (insert when absent): one statement.

    With ``returning``, the (keys..., col) of every row after the change.
    The statement is built once per dialect and table: it runs in the same
    transaction as every line change (an online confirm is one), where
    building it and its cache key anew cost more than executing it; one row
    is sent as one execute, not an executemany (psycopg's pipeline for a
    single row cost as much as the statement).
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    stmt = _UPSERTS.get((dialect, table.name, returning))
    if stmt is None:
        ins = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        stmt = ins.on_conflict_do_update(
            index_elements=list(keys), set_={col: table.c[col] + ins.excluded[col]}
        )
        if returning:
            stmt = stmt.returning(*(table.c[k] for k in (*keys, col)))
        _UPSERTS[(dialect, table.name, returning)] = stmt
    result = session.execute(stmt, rows[0] if len(rows) == 1 else rows)
    return list(result) if returning else []


LINE_KEYS = ("cinema", "day", "format", "kind", "status", "basis")

_USES = VoucherUse.__table__
_VOUCHER = Voucher.__table__
_CAMPAIGNS = select(_VOUCHER.c.cti, _VOUCHER.c.campaign).where(
    _VOUCHER.c.cti.in_(bindparam("ctis", expanding=True))
)


def _rows(session: Session, stmt: Any, ctis: list[str]) -> Iterable[Any]:
    """``stmt``'s rows for ``ctis``, 500 at a time (the bound of :func:`sync.server.db.rows_in`)."""
    for i in range(0, len(ctis), IN_CHUNK):
        yield from session.execute(stmt, {"ctis": ctis[i : i + IN_CHUNK]})


def count(session: Session, changes: Iterable[LineChange]) -> None:
    """Follow ``changes`` in the three tables (the caller's transaction)."""
    lines: dict[tuple[str, ...], int] = defaultdict(int)
    uses: dict[tuple[str, str], int] = defaultdict(int)
    days: dict[str, tuple[BusinessDay, str]] = {}
    for ch in changes:
        if ch.before == ch.after:
            continue
        if ch.cinema not in days:
            bd = business_day(session, ch.cinema)
            days[ch.cinema] = (bd, basis_of(bd))
        bd, basis = days[ch.cinema]
        base = (ch.cinema, bd.day_of(ch.at).isoformat(), ch.format, ch.kind)
        if ch.before is not None:
            lines[(*base, ch.before, basis)] -= 1
        lines[(*base, ch.after, basis)] += 1
        paid = (ch.after == "valid") - (ch.before == "valid")
        if ch.kind == "redeem" and paid:
            uses[(ch.voucher, ch.format)] += paid
            uses[(ch.voucher, ANY)] += paid
    rows = [dict(zip(LINE_KEYS, k, strict=True), n=n) for k, n in lines.items() if n]
    _upsert(session, RedemptionTally.__table__, LINE_KEYS, "n", rows)
    if uses:
        _count_uses(session, {k: n for k, n in uses.items() if n})


#: the tx_memo kind of the vouchers' campaigns a transaction read already
_CAMPAIGN_MEMO = "campaign"


def know_campaign(session: Session, cti: str, campaign: str | None) -> None:
    """What a statement of this transaction read of voucher ``cti``'s campaign:
    :func:`_count_uses` takes it from here instead of reading it again."""
    tx_memo(session, _CAMPAIGN_MEMO)[cti] = campaign or NO_CAMPAIGN


def _count_uses(session: Session, uses: dict[tuple[str, str], int]) -> None:
    """Voucher uses, and a campaign's vouchers where one goes from unused to used or back.

    The use counts are changed first and return their new values, so what
    each was before is ``now - delta``: no read of the stored counts.
    """
    known = tx_memo(session, _CAMPAIGN_MEMO)
    ctis = sorted({cti for cti, _f in uses if cti not in known})
    campaign = {c: camp or NO_CAMPAIGN for c, camp in _rows(session, _CAMPAIGNS, ctis)}
    campaign.update((c, known[c]) for c, _f in uses if c in known)
    rows = [{"cti": c, "format": f, "n": n} for (c, f), n in uses.items()]
    after = {
        (c, f): n
        for c, f, n in _upsert(session, _USES, ("cti", "format"), "n", rows, returning=True)
    }
    vouchers: dict[tuple[str, str], int] = defaultdict(int)
    for (cti, fmt), delta in uses.items():
        now = after[(cti, fmt)]
        vouchers[(campaign.get(cti, NO_CAMPAIGN), fmt)] += (now > 0) - (now - delta > 0)
    _upsert(
        session,
        CampaignTally.__table__,
        ("campaign", "format"),
        "vouchers",
        [{"campaign": c, "format": f, "vouchers": n} for (c, f), n in vouchers.items() if n],
    )


# -- readers ------------------------------------------------------------------


def month_counts(session: Session, month: str) -> list[tuple[str, str, str, str, str, int]]:
    """(cinema, kind, status, format, basis, n) of the business month ``YYYY-MM``."""
    q = (
        select(
            RedemptionTally.cinema,
            RedemptionTally.kind,
            RedemptionTally.status,
            RedemptionTally.format,
            RedemptionTally.basis,
            func.sum(RedemptionTally.n),
        )
        .where(RedemptionTally.day >= f"{month}-01", RedemptionTally.day < f"{month}-99")
        .group_by(
            RedemptionTally.cinema,
            RedemptionTally.kind,
            RedemptionTally.status,
            RedemptionTally.format,
            RedemptionTally.basis,
        )
    )
    return [(c, k, s, f, b, int(n or 0)) for c, k, s, f, b, n in session.execute(q)]


def day_counts(
    session: Session, cinema: str, month: str
) -> list[tuple[str, str, str, str, str, int]]:
    """(day, kind, status, format, basis, n) of one cinema's business month."""
    q = select(
        RedemptionTally.day,
        RedemptionTally.kind,
        RedemptionTally.status,
        RedemptionTally.format,
        RedemptionTally.basis,
        RedemptionTally.n,
    ).where(
        RedemptionTally.cinema == cinema,
        RedemptionTally.day >= f"{month}-01",
        RedemptionTally.day < f"{month}-99",
        RedemptionTally.n != 0,
    )
    return [(d, k, s, f, b, int(n)) for d, k, s, f, b, n in session.execute(q)]


def stale(bases: Iterable[str], bd: BusinessDay) -> bool:
    """True when some counts were made with another business-day setting than ``bd``."""
    return any(b != basis_of(bd) for b in bases)


def campaign_counts(session: Session) -> dict[str, dict[str, int]]:
    """campaign -> {format or ``*``: vouchers used}."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for camp, fmt, n in session.execute(
        select(CampaignTally.campaign, CampaignTally.format, CampaignTally.vouchers).where(
            CampaignTally.vouchers != 0
        )
    ):
        out[camp][fmt] = int(n)
    return dict(out)


def vouchers_used(session: Session) -> int:
    """Distinct vouchers with a valid redeem (what the overview calls redeemed)."""
    total = session.scalar(
        select(func.sum(CampaignTally.vouchers)).where(CampaignTally.format == ANY)
    )
    return int(total or 0)


def used_cti() -> Any:
    """A subquery of the ctis used at least once (for ``NOT IN``: the unused ones)."""
    return select(VoucherUse.cti).where(VoucherUse.format == ANY, VoucherUse.n > 0)


# -- recounting ---------------------------------------------------------------


def rebuild_cinema(session: Session, code: str) -> None:
    """Recount one cinema's lines with its current business day (after its setting changed)."""
    session.execute(delete(RedemptionTally).where(RedemptionTally.cinema == code))
    _recount_lines(session, select_lines().where(Redemption.cinema == code))


def select_lines() -> Any:
    return select(
        Redemption.cinema, Redemption.at, Redemption.format, Redemption.kind, Redemption.status
    )


def _recount_lines(session: Session, q: Any) -> None:
    settings = {
        c.code: BusinessDay.of(c.timezone, c.day_starts) for c in session.scalars(select(Cinema))
    }
    lines: dict[tuple[str, ...], int] = defaultdict(int)
    for cinema, at, fmt, kind, status in session.execute(q):
        bd = settings.get(cinema) or BusinessDay()
        lines[(cinema, bd.day_of(at).isoformat(), fmt, kind, status, basis_of(bd))] += 1
    rows = [dict(zip(LINE_KEYS, k, strict=True), n=n) for k, n in lines.items()]
    _upsert_chunks(session, RedemptionTally.__table__, LINE_KEYS, "n", rows)


def _upsert_chunks(
    session: Session, table: Any, keys: tuple[str, ...], col: str, rows: list[dict[str, Any]]
) -> None:
    for i in range(0, len(rows), CHUNK):
        _upsert(session, table, keys, col, rows[i : i + CHUNK])


def rebuild(session: Session) -> None:
    """Recount all three tables from ``redemption`` (migration 0011 does this once)."""
    for table in (RedemptionTally, VoucherUse, CampaignTally):
        session.execute(delete(table))
    _recount_lines(session, select_lines())
    valid = select().where(Redemption.kind == "redeem", Redemption.status == "valid")
    per_format = valid.add_columns(Redemption.voucher, Redemption.format, func.count()).group_by(
        Redemption.voucher, Redemption.format
    )
    any_format = valid.add_columns(Redemption.voucher, literal(ANY), func.count()).group_by(
        Redemption.voucher
    )
    for q in (per_format, any_format):
        rows = [{"cti": c, "format": f, "n": int(n)} for c, f, n in session.execute(q)]
        _upsert_chunks(session, VoucherUse.__table__, ("cti", "format"), "n", rows)
    camp = func.coalesce(Voucher.campaign, NO_CAMPAIGN)
    q = (
        select(camp, VoucherUse.format, func.count())
        .select_from(VoucherUse)
        .outerjoin(Voucher, Voucher.cti == VoucherUse.cti)
        .where(VoucherUse.n > 0)
        .group_by(camp, VoucherUse.format)
    )
    rows = [{"campaign": c, "format": f, "vouchers": int(n)} for c, f, n in session.execute(q)]
    _upsert_chunks(session, CampaignTally.__table__, ("campaign", "format"), "vouchers", rows)
