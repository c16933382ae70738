"""Settlement with the cinemas: monthly reports and the full redemption list.

Days and months are each cinema's business days (:mod:`sync.businessday`:
its time zone, default China Standard Time, and a day that starts at 06:00 by
default), the calendar the cinemas invoice by and the one their counters'
tallies use; line times are shown in China Standard Time. Per cinema the report gives valid
redemptions counted by day and format (only ``valid`` lines are paid, so
only they are counted), then every valid line, every line held for
``review`` (with its ``flags``), every duplicate (with the redemption it
lost to), every void and every rejected line (with the counters' refusals)
listed separately, each line
carrying the record uuid, the voucher's short code and the device, so any
number can be traced back to the signed record that produced it. The rules
are docs/settlement.md.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.businessday import BusinessDay, month_window
from sync.fsutil import atomic_replace
from sync.issuing import DISPLAY_TZ
from sync.server.models import Cinema, Redemption
from sync.voucher.shortcode import encode_short_code

from .cinemas import business_day
from .errors import OfficeError
from .refusals import rejected_lines
from .signoff_models import MonthSignoff, SettlementAdjustment

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def iso_utc(ms: int) -> str:
    """UTC ISO 8601 with milliseconds and a Z (what JSON reports use)."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def local_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, DISPLAY_TZ).strftime("%Y-%m-%d")


def local_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, DISPLAY_TZ).strftime("%Y-%m-%d %H:%M:%S")


def month_bounds(month: str) -> tuple[int, int]:
    m = MONTH_RE.match(month.strip())
    if not m:
        raise OfficeError("bad_month", f"--month must be YYYY-MM, not {month!r}")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=DISPLAY_TZ)
    end = datetime(y + (mo == 12), 1 if mo == 12 else mo + 1, 1, tzinfo=DISPLAY_TZ)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _short(cti_hex: str) -> str:
    try:
        return encode_short_code(bytes.fromhex(cti_hex))
    except ValueError:
        return cti_hex


def redemption_list(session: Session) -> list[dict[str, Any]]:
    """Every stored record (redeems and voids), oldest first."""
    rows = session.scalars(select(Redemption).order_by(Redemption.at, Redemption.uuid)).all()
    return [
        {
            "id": r.uuid,
            "voucher": _short(r.voucher),
            "cinema": r.cinema,
            "device": r.device,
            "redeemed_at": iso_utc(r.at),
            "at_ms": r.at,
            "format": r.format,
            "kind": r.kind,
            "status": r.status,
            "duplicate_of": r.duplicate_of,
            "voids": r.voids or None,
            "staff": r.staff,
            "problem": r.problem,
            "chain_gap": r.chain_gap,
            "chain_fork": r.chain_fork,
            "flags": list(r.flags or []),
            "decision": r.decision,
            "at_server_ms": r.at_server,
        }
        for r in rows
    ]


#: what a report line reads (not the token, hash or signature: a month is many rows)
LINE_COLUMNS = (
    Redemption.uuid,
    Redemption.voucher,
    Redemption.device,
    Redemption.cinema,
    Redemption.kind,
    Redemption.at,
    Redemption.format,
    Redemption.staff,
    Redemption.status,
    Redemption.duplicate_of,
    Redemption.voids,
    Redemption.problem,
    Redemption.flags,
    Redemption.decision,
)


def _line(r: Any) -> dict[str, Any]:
    """A report line of a :class:`Redemption` (or a row of :data:`LINE_COLUMNS`)."""
    return {
        "record": r.uuid,
        "voucher": _short(r.voucher),
        "device": r.device,
        "time": local_time(r.at),
        "redeemed_at": iso_utc(r.at),
        "format": r.format,
        "staff": r.staff,
        "status": r.status,
        "duplicate_of": r.duplicate_of,
        "voids": r.voids or None,
        "problem": r.problem,
        "duplicated_by": [],
        "flags": list(r.flags or []),
        "decision": r.decision,
    }


def day_lines(rows: list[Any], bd: BusinessDay) -> list[dict[str, Any]]:
    """Report lines, each with the business ``day`` it counts to (sync.businessday)."""
    return [_line(r) | {"day": bd.day_of(r.at).isoformat()} for r in rows]


def monthly(session: Session, month: str, cinema: str | None = None) -> dict[str, Any]:
    """The settlement report of one month (optionally one cinema) as a JSON-able dict.

    A cinema whose month is signed off (:mod:`sync.office.signoff`) is its
    statement as signed, with ``signed`` = who, when; any other carries
    ``signed`` = None and its ``adjustments`` (changes to its signed months,
    see :mod:`sync.office.signoff_models`), ``adjustments_total`` and
    ``payable_total`` (valid lines plus the adjustments' paid difference).
    """
    start, end = month_window(*month_bounds(month))  # each cinema's business month inside
    if cinema is not None and session.get(Cinema, cinema) is None:
        raise OfficeError("unknown_cinema", f"no cinema with code {cinema!r}")
    signed = signed_statements(session, month, cinema)
    adjustments = adjustment_lines(session, month, cinema)
    q = select(*LINE_COLUMNS).where(Redemption.at >= start, Redemption.at < end)
    if cinema is not None:
        q = q.where(Redemption.cinema == cinema)
    if signed:  # a signed statement is read back, never rebuilt
        q = q.where(Redemption.cinema.not_in(signed))
    rows = session.execute(q.order_by(Redemption.at, Redemption.uuid)).all()
    names = {c.code: c.name for c in session.scalars(select(Cinema))}
    # valid lines that someone tried again elsewhere: the manager sees them too
    duplicated_by: dict[str, list[str]] = defaultdict(list)
    for uuid, first in session.execute(
        select(Redemption.uuid, Redemption.duplicate_of).where(Redemption.status == "duplicate")
    ):
        if first:
            duplicated_by[first].append(uuid)
    by_cinema: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_cinema[r.cinema].append(r)
    if cinema is not None:
        by_cinema.setdefault(cinema, [])
    refused = rejected_lines(session, start, end, cinema, month=month)  # the counters' refusal log
    for code in [*refused, *adjustments]:
        by_cinema.setdefault(code, [])
    cinemas: list[dict[str, Any]] = []
    for code in sorted(set(by_cinema) | set(signed)):
        if code in signed:
            cinemas.append(signed[code])
            continue
        c = cinema_month(session, code, month, by_cinema[code], refused.get(code, []))
        c["name"] = names.get(code, "")
        for line in c["valid"]:
            line["duplicated_by"] = duplicated_by.get(line["record"], [])
        adj = adjustments.get(code, [])
        c["adjustments"] = adj
        c["adjustments_total"] = sum(a["delta"] for a in adj)
        c["payable_total"] = c["valid_total"] + c["adjustments_total"]
        c["signed"] = None
        cinemas.append(c)
    return {"month": month, "timezone": "UTC+08:00", "cinemas": cinemas}


def cinema_month(
    session: Session,
    code: str,
    month: str,
    rows: list[Any],
    refused: list[dict[str, Any]],
) -> dict[str, Any]:
    """One cinema's lines of ``month`` (``rows``: its lines of the query window)."""
    bd = business_day(session, code)  # sync.businessday: the kiosk's tally counts alike
    recs = [r for r in rows if bd.month_of(r.at) == month]
    valid = [r for r in recs if r.kind == "redeem" and r.status == "valid"]
    days: dict[tuple[str, str], int] = defaultdict(int)
    by_format: dict[str, int] = defaultdict(int)
    for r in valid:
        days[(bd.day_of(r.at).isoformat(), r.format)] += 1
        by_format[r.format] += 1
    c: dict[str, Any] = {
        "cinema": code,
        "name": "",
        "valid_total": len(valid),
        "valid_by_format": dict(sorted(by_format.items())),
        "by_day": [{"day": d, "format": f, "count": n} for (d, f), n in sorted(days.items())],
        "business_day": bd.to_json(),
        "valid": day_lines(valid, bd),
        "duplicates": day_lines([r for r in recs if r.status == "duplicate"], bd),
        "voids": day_lines([r for r in recs if r.status == "void"], bd),
        "rejected": day_lines([r for r in recs if r.status == "rejected"], bd) + refused,
        "review": day_lines([r for r in recs if r.status == "review"], bd),
    }
    c["counts"] = {k: len(c[k]) for k in SECTIONS.values()}
    return c


def signed_statements(
    session: Session, month: str, cinema: str | None = None
) -> dict[str, dict[str, Any]]:
    """cinema -> its statement of ``month`` as signed, with ``signed`` (by, at, address)."""
    q = select(MonthSignoff).where(MonthSignoff.month == month)
    if cinema is not None:
        q = q.where(MonthSignoff.cinema == cinema)
    out = {}
    for s in session.scalars(q):
        by = {"by": s.signed_by, "at": iso_utc(s.signed_at), "address": s.address}
        out[s.cinema] = dict(s.statement, signed=by)
    return out


def adjustment_lines(
    session: Session, month: str, cinema: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """cinema -> the adjustments counted in ``month`` (changes to its signed months)."""
    q = (
        select(SettlementAdjustment, Redemption.voucher, Redemption.device, Redemption.at)
        .outerjoin(Redemption, Redemption.uuid == SettlementAdjustment.record)
        .where(SettlementAdjustment.month == month)
        .order_by(SettlementAdjustment.id)
    )
    if cinema is not None:
        q = q.where(SettlementAdjustment.cinema == cinema)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a, cti, device, at in session.execute(q):
        out[a.cinema].append(
            {
                "record": a.record,
                "voucher": _short(cti) if cti else "",
                "device": device or "",
                "time": local_time(at) if at is not None else "",
                "origin_month": a.origin_month,
                "kind": a.kind,
                "before": a.before,
                "after": a.after,
                "format": a.format,
                "delta": a.delta,
                "recorded": local_time(a.at),
            }
        )
    return dict(out)


#: CSV section / report key of every kind of line (the order of the CSV and the sheets).
SECTIONS = {
    "valid": "valid",
    "duplicate": "duplicates",
    "void": "voids",
    "rejected": "rejected",
    "review": "review",
}


LINE_FIELDS = (
    "record",
    "voucher",
    "device",
    "time",
    "format",
    "staff",
    "status",
    "duplicate_of",
    "voids",
    "problem",
)


CSV_LINE_FIELDS = tuple(f for f in LINE_FIELDS if f != "format")  # format is a column already


def _cell(line: dict[str, Any], name: str) -> Any:
    value = line.get(name)
    if isinstance(value, list):
        return ";".join(value)
    return "" if value is None else value


def to_csv(report: dict[str, Any]) -> str:
    """One CSV: a ``section`` column says summary / valid / duplicate / void / rejected."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "cinema", "day", "format", "count", *CSV_LINE_FIELDS, "flags"])
    for c in report["cinemas"]:
        for d in c["by_day"]:
            w.writerow(
                ["summary", c["cinema"], d["day"], d["format"], d["count"]]
                + [""] * (len(CSV_LINE_FIELDS) + 1)
            )
        for section, key in SECTIONS.items():
            for line in c[key]:
                w.writerow(
                    [section, c["cinema"], line.get("day") or line["time"][:10], line["format"], 1]
                    + [_cell(line, f) for f in (*CSV_LINE_FIELDS, "flags")]
                )
        for a in c.get("adjustments", []):  # day: the signed month the line belongs to
            w.writerow(
                ["adjustment", c["cinema"], a["origin_month"], a["format"], a["delta"]]
                + [_cell(a, f) for f in ("record", "voucher", "device", "time")]
                + ["", a["after"], "", "", f"{a['kind']}:{a['before'] or ''}", ""]
            )
    return out.getvalue()


ADJUSTMENT_FIELDS = (
    "record",
    "voucher",
    "device",
    "time",
    "origin_month",
    "kind",
    "before",
    "after",
    "format",
    "delta",
)


def to_xlsx(report: dict[str, Any], path: Path) -> None:
    """Workbook: Summary (cinema/day/format/count) and one sheet per kind of line.

    The sheets keep their first release's order; ``Review`` (issue 10) comes last.
    """
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append(["cinema", "name", "day", "format", "count"])
    for c in report["cinemas"]:
        for d in c["by_day"]:
            ws.append([c["cinema"], c["name"], d["day"], d["format"], d["count"]])
        ws.append([c["cinema"], c["name"], "total", "", c["valid_total"]])
    for key in SECTIONS.values():
        sheet = wb.create_sheet(key.capitalize())
        sheet.append(["cinema", *LINE_FIELDS, "flags"])
        for c in report["cinemas"]:
            for line in c[key]:
                cells = [line[f] for f in LINE_FIELDS] + [_cell(line, "flags")]
                sheet.append([c["cinema"], *cells])
    _extra_sheets(wb, report)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        wb.save(tmp)  # openpyxl writes a zip by name: publish it whole, or not at all
        atomic_replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _extra_sheets(wb: Any, report: dict[str, Any]) -> None:
    """``Adjustments`` and ``Signed``, only when the month has any (after the old sheets)."""
    adjusted = [(c["cinema"], a) for c in report["cinemas"] for a in c.get("adjustments", [])]
    if adjusted:
        sheet = wb.create_sheet("Adjustments")
        sheet.append(["cinema", *ADJUSTMENT_FIELDS])
        for code, a in adjusted:
            sheet.append([code, *(a[f] for f in ADJUSTMENT_FIELDS)])
    signed = [c for c in report["cinemas"] if c.get("signed")]
    if signed:
        sheet = wb.create_sheet("Signed")
        sheet.append(["cinema", "signed_by", "signed_at", "valid_total", "payable_total"])
        for c in signed:
            s = c["signed"]
            sheet.append([c["cinema"], s["by"], s["at"], c["valid_total"], c["payable_total"]])
