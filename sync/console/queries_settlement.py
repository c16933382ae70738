"""What the settlement pages read: the month x cinema table and the alert marks.

The table gives the numbers of :func:`sync.office.reports.monthly` (the
report ``cinepass-admin report`` prints, so the page and the report agree)
without building every line: counts come from the running counts of
:mod:`sync.office.tally` (lines per cinema and business day, so each
cinema's month starts at its own day start, 06:00 by default), a signed
cinema's figures from its sign-off row, the counters' refusals from their log. Alerts (issue 13) mark the lines that are
their evidence (``record:UUID``); the table counts those lines per cinema.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.businessday import BusinessDay, month_window
from sync.office import tally
from sync.office.alerts_models import Alert
from sync.office.refusals import rejected_lines
from sync.office.reports import adjustment_lines, month_bounds
from sync.office.signoff_models import MonthSignoff, next_month
from sync.server.db import rows_in
from sync.server.models import Cinema, Redemption

#: report section of each status (``valid`` is counted apart: only redeems are paid)
STATUS_KEY = {
    "duplicate": "duplicates",
    "void": "voids",
    "rejected": "rejected",
    "review": "review",
}
RECORD_PREFIX = "record:"


def business_month(bd: BusinessDay, month: str) -> tuple[int, int]:
    """``[start, end)`` epoch ms of a cinema's business month."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    after = next_month(month)
    return bd.bounds(first)[0], bd.bounds(date(int(after[:4]), int(after[5:7]), 1))[0]


def empty_row(code: str, name: str) -> dict[str, Any]:
    return {
        "cinema": code,
        "name": name,
        "valid_total": 0,
        "valid_by_format": {},
        "duplicates": 0,
        "voids": 0,
        "rejected": 0,
        "review": 0,
    }


def add_count(row: dict[str, Any], kind: str, status: str, fmt: str, n: int) -> None:
    if kind == "redeem" and status == "valid":
        row["valid_total"] += n
        row["valid_by_format"][fmt] = row["valid_by_format"].get(fmt, 0) + n
    if status in STATUS_KEY:
        row[STATUS_KEY[status]] += n


def live_counts(session: Session, month: str, names: dict[str, str]) -> dict[str, dict[str, Any]]:
    """cinema -> counted lines of its business month, from the running counts.

    :mod:`sync.office.tally` holds the lines per cinema and business day, so
    this reads a few hundred rows whatever the month's size; a cinema whose
    counts were made with another business-day setting than its current one
    (changed since) is counted from its lines (:func:`lines_counts`).
    """
    settings = {
        c.code: BusinessDay.of(c.timezone, c.day_starts) for c in session.scalars(select(Cinema))
    }
    out: dict[str, dict[str, Any]] = {}
    recount: set[str] = set()
    for code, kind, status, fmt, basis, n in tally.month_counts(session, month):
        if tally.stale([basis], settings.get(code) or BusinessDay()):
            recount.add(code)
            continue
        if n:
            add_count(
                out.setdefault(code, empty_row(code, names.get(code, ""))), kind, status, fmt, n
            )
    for code in recount:
        out.pop(code, None)
        bd = settings.get(code) or BusinessDay()
        found = lines_counts(session, month, bd, code)
        if found is not None:
            out[code] = dict(found, name=names.get(code, ""))
    return out


def lines_counts(session: Session, month: str, bd: BusinessDay, code: str) -> dict[str, Any] | None:
    """One cinema's counts of its business month read from its lines (None: it has none)."""
    start, end = business_month(bd, month)
    q = (
        select(Redemption.kind, Redemption.status, Redemption.format, func.count())
        .where(Redemption.cinema == code, Redemption.at >= start, Redemption.at < end)
        .group_by(Redemption.kind, Redemption.status, Redemption.format)
    )
    row = None
    for kind, status, fmt, n in session.execute(q):
        row = row or empty_row(code, "")
        add_count(row, kind, status, fmt, int(n))
    return row


def settlement_table(session: Session, month: str) -> list[dict[str, Any]]:
    """The rows of the month x cinema table (the report's figures, see the module doc)."""
    names = {c.code: c.name for c in session.scalars(select(Cinema))}
    out = live_counts(session, month, names)
    start, end = month_window(*month_bounds(month))
    for code, lines in rejected_lines(session, start, end, month=month).items():
        out.setdefault(code, empty_row(code, names.get(code, "")))["rejected"] += len(lines)
    adjustments = adjustment_lines(session, month)
    for code in adjustments:
        out.setdefault(code, empty_row(code, names.get(code, "")))
    for row in out.values():
        row["valid_by_format"] = dict(sorted(row["valid_by_format"].items()))
        adj = sum(a["delta"] for a in adjustments.get(row["cinema"], []))
        row.update(adjustments_total=adj, payable_total=row["valid_total"] + adj, signed=None)
    for s in session.scalars(select(MonthSignoff).where(MonthSignoff.month == month)):
        row = empty_row(s.cinema, names.get(s.cinema, ""))
        counts = s.summary.get("counts") or {}
        row.update({k: counts.get(k, 0) for k in STATUS_KEY.values()})
        row.update(
            valid_total=s.summary["valid_total"],
            valid_by_format=s.summary["valid_by_format"],
            adjustments_total=s.summary.get("adjustments_total") or 0,
            payable_total=s.summary.get("payable_total") or s.summary["valid_total"],
            signed={"by": s.signed_by, "at": s.signed_at},
        )
        out[s.cinema] = row
    marked = alert_counts(session, month)
    for row in out.values():
        row["alerts"] = marked.get(row["cinema"], 0)
    return [out[c] for c in sorted(out)]


def month_alerts(session: Session, month: str) -> list[Alert]:
    """Alerts seen since the month's window began (any of them may name its lines)."""
    start, _end = month_window(*month_bounds(month))
    return list(session.scalars(select(Alert).where(Alert.last_seen >= start)))


def alert_marks(session: Session, month: str) -> dict[str, list[dict[str, Any]]]:
    """record uuid -> the alerts it is evidence of (``id``, ``rule``, ``status``)."""
    marks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in month_alerts(session, month):
        for e in a.evidence or []:
            if e.startswith(RECORD_PREFIX):
                marks[e[len(RECORD_PREFIX) :]].append(
                    {"id": a.id, "rule": a.rule, "status": a.status}
                )
    return dict(marks)


def alert_counts(session: Session, month: str) -> dict[str, int]:
    """cinema -> how many of its lines of the month are evidence of an alert."""
    marks = alert_marks(session, month)
    if not marks:
        return {}
    start, end = month_window(*month_bounds(month))
    q = select(Redemption.cinema, Redemption.at).where(Redemption.at >= start, Redemption.at < end)
    out: dict[str, int] = defaultdict(int)
    for code, _at in rows_in(session, q, Redemption.uuid, marks):
        out[code] += 1
    return dict(out)
