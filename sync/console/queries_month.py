"""What one cinema's settlement month page reads: its counts and the first lines of each kind.

The page shows the figures of :func:`sync.office.reports.monthly` (the
statement and the downloads build every line) but at most ``limit`` lines per
section: the counts come from the running counts of :mod:`sync.office.tally`
(a cinema's days of the month, a few dozen rows), the lines from one
``LIMIT`` query per section, so the page costs the same for a cinema with
200 lines a month as for one with 20,000. A signed month is its statement
as signed. The section counts are in ``c["counts"]`` (the lists are cut).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.office import reports, tally
from sync.office.cinemas import business_day
from sync.office.errors import OfficeError
from sync.office.refusals import rejected_lines
from sync.server.models import Cinema, Redemption

from .queries import by_time
from .queries_settlement import business_month, empty_row, lines_counts

#: report section of each line status (sync.office.reports.SECTIONS)
SECTION_OF = reports.SECTIONS


def cinema_view(session: Session, month: str, code: str, limit: int) -> dict[str, Any]:
    """The cinema's month for its page: ``monthly``'s keys, sections cut to ``limit`` lines."""
    reports.month_bounds(month)  # refuses a bad month as the report does
    cinema = session.get(Cinema, code)
    if cinema is None:
        raise OfficeError("unknown_cinema", f"no cinema with code {code!r}")
    signed = reports.signed_statements(session, month, code)
    if code in signed:
        return signed[code]
    bd = business_day(session, code)
    start, end = business_month(bd, month)
    c = counts_of(session, month, code)
    refused = rejected_lines(session, start, end, code, month=month).get(code, [])
    for status, key in SECTION_OF.items():
        q = (
            select(*reports.LINE_COLUMNS)
            .where(
                Redemption.cinema == code,
                Redemption.at >= start,
                Redemption.at < end,
                by_time(Redemption.status) == status,  # the cinema's lines, not every such status
            )
            .order_by(Redemption.at, Redemption.uuid)
            .limit(limit)
        )
        if status == "valid":  # only redeems are paid (a void record is never a paid line)
            q = q.where(by_time(Redemption.kind) == "redeem")
        c[key] = reports.day_lines(list(session.execute(q)), bd)
    c["rejected"] += refused[: max(0, limit - len(c["rejected"]))]
    c["counts"]["rejected"] += len(refused)
    adjustments = reports.adjustment_lines(session, month, code).get(code, [])
    c.update(
        name=cinema.name,
        business_day=bd.to_json(),
        adjustments=adjustments,
        adjustments_total=sum(a["delta"] for a in adjustments),
        signed=None,
    )
    c["payable_total"] = c["valid_total"] + c["adjustments_total"]
    return c


def counts_of(session: Session, month: str, code: str) -> dict[str, Any]:
    """valid_total, valid_by_format, by_day and counts per section of one cinema's month."""
    bd = business_day(session, code)
    rows = tally.day_counts(session, code, month)
    if tally.stale([r[4] for r in rows], bd):  # its business day changed since: count its lines
        found = lines_counts(session, month, bd, code) or empty_row(code, "")
        counts = {k: found.get(k, 0) for k in SECTION_OF.values()}
        counts["valid"] = found["valid_total"]
        return {
            "cinema": code,
            "valid_total": found["valid_total"],
            "valid_by_format": dict(sorted(found["valid_by_format"].items())),
            "by_day": [],
            "counts": counts,
        }
    counts = dict.fromkeys(SECTION_OF.values(), 0)
    by_format: dict[str, int] = defaultdict(int)
    days: dict[tuple[str, str], int] = defaultdict(int)
    for day, kind, status, fmt, _basis, n in rows:
        if status in SECTION_OF and (status != "valid" or kind == "redeem"):
            counts[SECTION_OF[status]] += n
        if kind == "redeem" and status == "valid":
            by_format[fmt] += n
            days[(day, fmt)] += n
    return {
        "cinema": code,
        "valid_total": counts["valid"],
        "valid_by_format": dict(sorted(by_format.items())),
        "by_day": [{"day": d, "format": f, "count": n} for (d, f), n in sorted(days.items())],
        "counts": counts,
    }
