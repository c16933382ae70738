"""Month sign-off: the union locks a cinema's month (``cinepass-admin settle sign-off``).

Signing keeps the month's statement exactly as the accountant saw it
(:class:`sync.office.signoff_models.MonthSignoff`, read back by
:func:`sync.office.reports.monthly`), so a statement already sent to a
cinema and paid can never change under it. Whatever still happens to that
month later is an *adjustment* of the cinema's next open month
(docs/settlement.md). Signing is taken under the feed-head lock, the lock
every status change takes, so no upload or review falls between the
statement and the lock; it is audited (``settlement.sign_off``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.errors import EXIT_REJECTED
from sync.issuing import DISPLAY_TZ
from sync.server import feeds
from sync.server.models import Cinema, now_ms

from . import audit
from .errors import OfficeError
from .reports import iso_utc, month_bounds, monthly
from .signoff_models import MonthSignoff, summary_of


def sign_off(
    session: Session,
    month: str,
    cinema: str | None = None,
    *,
    actor: str,
    address: str = "cli",
) -> dict[str, Any]:
    """Sign ``month`` off for ``cinema`` (or every cinema not signed yet).

    Returns ``{month, cinemas: [{cinema, valid_total, payable_total}], signed_by,
    signed_at}``. Refusals: ``bad_month`` / ``unknown_cinema`` (exit 2),
    ``month_not_started`` (a month that has not begun) and ``already_signed``
    (exit 1).
    """
    month = month.strip()
    start, _end = month_bounds(month)
    if start > now_ms():
        raise OfficeError(
            "month_not_started",
            f"{month} 尚未开始，不能签核 / {month} has not begun: nothing to sign off",
            exit_code=EXIT_REJECTED,
        )
    feeds.lock_head(session)  # no upload or review between the statement and the lock
    done = set(session.scalars(select(MonthSignoff.cinema).where(MonthSignoff.month == month)))
    report = monthly(session, month, cinema)  # unknown_cinema, bad_month
    by_code = {c["cinema"]: c for c in report["cinemas"]}
    codes = [cinema] if cinema else sorted(set(session.scalars(select(Cinema.code))) | set(by_code))
    todo = [c for c in codes if c not in done]
    if not todo:
        raise OfficeError(
            "already_signed",
            f"{month} {cinema or ''} 已签核 / {month} is already signed off"
            + (f" for {cinema}" if cinema else " for every cinema"),
            exit_code=EXIT_REJECTED,
        )
    at = now_ms()
    out = []
    for code in todo:
        statement = dict(by_code.get(code) or empty_statement(session, month, code), signed=None)
        row = MonthSignoff(month=month, cinema=code, signed_by=actor, signed_at=at)
        row.address, row.statement, row.summary = address, statement, summary_of(statement)
        session.add(row)
        out.append({"cinema": code} | {k: statement[k] for k in ("valid_total", "payable_total")})
    audit.record(
        session,
        actor=actor,
        address=address,
        action="settlement.sign_off",
        subject=f"{month} {cinema or '*'}",
        after={"month": month, "cinemas": out},
    )
    session.flush()
    return {"month": month, "cinemas": out, "signed_by": actor, "signed_at": iso_utc(at)}


def empty_statement(session: Session, month: str, code: str) -> dict[str, Any]:
    """The statement of a cinema without a line that month (signed all the same)."""
    [c] = monthly(session, month, code)["cinemas"]
    return dict(c)


def signed_months(session: Session, cinema: str | None = None) -> list[dict[str, Any]]:
    """Every sign-off, newest month first: ``{month, cinema, signed_by, signed_at}``."""
    q = select(MonthSignoff).order_by(MonthSignoff.month.desc(), MonthSignoff.cinema)
    if cinema is not None:
        q = q.where(MonthSignoff.cinema == cinema)
    return [
        {
            "month": s.month,
            "cinema": s.cinema,
            "signed_by": s.signed_by,
            "signed_at": iso_utc(s.signed_at),
        }
        for s in session.scalars(q)
    ]


def this_month() -> str:
    return datetime.now(DISPLAY_TZ).strftime("%Y-%m")
