"""Day and range reports of a counter's tally: CSV, XLSX and a printable PDF.

Logic only, no widgets: the manager view and any CLI call these with the
tally dictionaries the engine produces (the ``tally --json`` contract:
``date, accepted, by_format, by_hour, by_staff, rejected, voided, pending,
synced``). Inputs are checked first and files are written to a temporary
sibling and renamed, so a bad tally or a full disk never leaves half a report
that a cinema might send to the union for settlement.

CSV is long-form (``date, section, item, count``) because that is the shape a
spreadsheet pivot wants and it has no column that exists only on some days;
XLSX carries the same facts as readable sheets; the PDF is the one-page daily
report a manager prints and signs.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from kiosk.engine.verdict import REASONS, message_for
from kiosk.errors import EnvironmentFailure, UsageError
from sync.fsutil import write_through

MAX_RANGE_DAYS = 366
FORMATS = ("2D", "3D")

LABELS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "title": "CinePass 每日核销报表",
        "range_title": "CinePass 核销汇总",
        "cinema": "影院",
        "counter": "柜台",
        "date": "日期",
        "generated": "生成时间",
        "accepted": "核销成功",
        "voided": "已撤销",
        "rejected": "拒绝",
        "pending": "未同步",
        "synced": "已同步",
        "by_format": "按影片格式",
        "by_hour": "按小时",
        "by_staff": "按员工",
        "rejections": "拒绝原因",
        "duplicates": "服务器报告的重复核销",
        "none": "无",
        "section": "类别",
        "item": "项目",
        "count": "数量",
        "summary": "汇总",
        "hour": "小时",
        "staff": "员工",
        "reason": "原因",
        "signature": "经理签字：",
        "no_staff": "（未登录）",
    },
    "en": {
        "title": "CinePass daily redemption report",
        "range_title": "CinePass redemption summary",
        "cinema": "Cinema",
        "counter": "Counter",
        "date": "Date",
        "generated": "Generated",
        "accepted": "Accepted",
        "voided": "Voided",
        "rejected": "Rejected",
        "pending": "Unsynced",
        "synced": "Synced",
        "by_format": "By format",
        "by_hour": "By hour",
        "by_staff": "By staff",
        "rejections": "Rejections by reason",
        "duplicates": "Duplicates reported by the server",
        "none": "none",
        "section": "Section",
        "item": "Item",
        "count": "Count",
        "summary": "Summary",
        "hour": "Hour",
        "staff": "Staff",
        "reason": "Reason",
        "signature": "Manager's signature:",
        "no_staff": "(not signed in)",
    },
}


class ReportError(UsageError):
    """A tally that is not the expected shape, or a range too long (exit 2)."""


@dataclass(frozen=True)
class ReportMeta:
    """Who the report is about: printed in every header."""

    cinema: str
    counter: str = ""
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().astimezone())


def _labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang) or LABELS["zh_CN"]


def reason_label(reason: str, lang: str) -> str:
    return message_for(reason, lang)[0] if reason in REASONS else reason


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReportError("bad_tally", f"tally: {where} must be a count, got {value!r}")
    return value


def _counts(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ReportError("bad_tally", f"tally: {where} must be a mapping of counts")
    return {str(k): _count(v, f"{where}[{k!r}]") for k, v in value.items()}


def check_tally(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one tally dict and return a normalised copy (missing maps -> empty)."""
    if not isinstance(data, Mapping):
        raise ReportError("bad_tally", "tally must be a mapping")
    day = data.get("date")
    try:
        dt.date.fromisoformat(str(day))
    except ValueError as exc:
        raise ReportError("bad_tally", f"tally: date must be YYYY-MM-DD, got {day!r}") from exc
    out: dict[str, Any] = {"date": str(day)}
    for key in ("accepted", "voided", "pending", "synced"):
        out[key] = _count(data.get(key, 0), key)
    for key in ("by_format", "by_hour", "by_staff", "rejected"):
        out[key] = _counts(data.get(key, {}), key)
    return out


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end`` inclusive (at most a year)."""
    if end < start:
        raise ReportError("bad_range", f"the range ends ({end}) before it starts ({start})")
    days = (end - start).days + 1
    if days > MAX_RANGE_DAYS:
        raise ReportError("bad_range", f"a report covers at most {MAX_RANGE_DAYS} days")
    return [start + dt.timedelta(days=i) for i in range(days)]


def long_rows(tally: Mapping[str, Any], lang: str = "zh_CN") -> list[tuple[str, str, str, int]]:
    """The facts of one day as ``(date, section, item, count)`` rows."""
    t = check_tally(tally)
    lab = _labels(lang)
    day = t["date"]
    rows: list[tuple[str, str, str, int]] = [
        (day, lab["summary"], lab[k], t[k]) for k in ("accepted", "voided", "pending", "synced")
    ]
    rows.append((day, lab["summary"], lab["rejected"], sum(t["rejected"].values())))
    fmts = dict.fromkeys(FORMATS, 0) | t["by_format"]
    rows += [(day, lab["by_format"], f, n) for f, n in fmts.items()]
    rows += [(day, lab["by_hour"], f"{h}:00", n) for h, n in sorted(t["by_hour"].items())]
    rows += [
        (day, lab["by_staff"], s or lab["no_staff"], n) for s, n in sorted(t["by_staff"].items())
    ]
    rows += [
        (day, lab["rejections"], reason_label(r, lang), n) for r, n in sorted(t["rejected"].items())
    ]
    return rows


def _replace_atomically(path: Path, write: Any) -> Path:
    """Run ``write(tmp_path)`` then rename over ``path``; errors become one clear line."""
    path = Path(path)
    try:
        write_through(path, write)
    except OSError as exc:
        raise EnvironmentFailure(
            "export_failed", f"cannot write {path}: {exc.strerror or exc}"
        ) from exc
    return path


#: the days of a report, as ``KioskService.tally()`` gives them; its optional header
Tallies: TypeAlias = Iterable[Mapping[str, Any]]
Meta: TypeAlias = ReportMeta | None


def _checked(tallies: Tallies, lang: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The days checked (a bad one raises before any file is touched), and the labels."""
    return [check_tally(t) for t in tallies], _labels(lang)


def export_csv(tallies: Tallies, path: Path, lang: str = "zh_CN", meta: Meta = None) -> Path:
    """Write the days as long-form CSV (UTF-8 with BOM so Excel shows Chinese)."""
    checked, lab = _checked(tallies, lang)

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([lab["date"], lab["section"], lab["item"], lab["count"]])
            for t in checked:
                w.writerows(long_rows(t, lang))

    return _replace_atomically(path, write)


def export_xlsx(tallies: Tallies, path: Path, lang: str = "zh_CN", meta: Meta = None) -> Path:
    """Write the days as a workbook: summary, by hour, by staff, rejections, all rows."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    checked, lab = _checked(tallies, lang)
    wb = Workbook()
    bold = Font(bold=True)

    summary = wb.active
    summary.title = lab["summary"]
    if meta is not None:
        summary.append([lab["cinema"], meta.cinema, lab["counter"], meta.counter])
        summary.append([lab["generated"], meta.generated_at.strftime("%Y-%m-%d %H:%M")])
        summary.append([])
    head = [lab["date"], lab["accepted"], *FORMATS, lab["voided"], lab["rejected"]]
    head += [lab["pending"], lab["synced"]]
    summary.append(head)
    for cell in summary[summary.max_row]:
        cell.font = bold
    for t in checked:
        fmt = t["by_format"]
        summary.append(
            [t["date"], t["accepted"], *(fmt.get(f, 0) for f in FORMATS), t["voided"]]
            + [sum(t["rejected"].values()), t["pending"], t["synced"]]
        )

    hours = wb.create_sheet(lab["by_hour"])
    hours.append([lab["date"], *(f"{h:02d}" for h in range(24))])
    for t in checked:
        hours.append([t["date"], *(t["by_hour"].get(f"{h:02d}", 0) for h in range(24))])

    for title, key, name in (
        (lab["by_staff"], "by_staff", lab["staff"]),
        (lab["rejections"], "rejected", lab["reason"]),
    ):
        sheet = wb.create_sheet(title)
        sheet.append([lab["date"], name, lab["count"]])
        for t in checked:
            for item, n in sorted(t[key].items()):
                shown = reason_label(item, lang) if key == "rejected" else (item or lab["no_staff"])
                sheet.append([t["date"], shown, n])

    rows = wb.create_sheet("rows")
    rows.append([lab["date"], lab["section"], lab["item"], lab["count"]])
    for t in checked:
        for r in long_rows(t, lang):
            rows.append(list(r))
    for sheet in wb.worksheets:
        sheet.column_dimensions["A"].width = 14
        sheet.column_dimensions["B"].width = 22
    return _replace_atomically(path, wb.save)


def _when(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value > 10**11:
        return dt.datetime.fromtimestamp(value / 1000).strftime("%Y-%m-%d %H:%M:%S")
    return value


def _detail_text(item: Mapping[str, Any]) -> str:
    """One duplicate as a line: nested sides (``local``/``other``) flattened, times readable."""
    parts = []
    for k, v in item.items():
        if isinstance(v, Mapping):
            inner = ", ".join(f"{kk}={_when(vv)}" for kk, vv in v.items() if vv not in (None, ""))
            if inner:
                parts.append(f"{k}: {inner}")
        elif v not in (None, ""):
            parts.append(f"{k}: {_when(v)}")
    return "; ".join(parts)


def daily_pdf(
    tally: Mapping[str, Any],
    path: Path,
    lang: str = "zh_CN",
    meta: ReportMeta | None = None,
    duplicates: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """The printable one-page daily report (A4, CJK font bundled in resources/fonts)."""
    from fpdf import FPDF

    from kiosk.ui.assets import font_path

    t = check_tally(tally)
    lab = _labels(lang)
    meta = meta or ReportMeta(cinema="")
    font = font_path()
    if not font.is_file():
        raise EnvironmentFailure("font_missing", f"the report font is missing: {font}")

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("cjk", "", str(font))
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 12, lab["title"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    pdf.cell(
        0,
        7,
        f"{lab['date']}: {t['date']}    {lab['cinema']}: {meta.cinema}    "
        f"{lab['counter']}: {meta.counter}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(
        0,
        7,
        f"{lab['generated']}: {meta.generated_at.strftime('%Y-%m-%d %H:%M')}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)

    def table(title: str, rows: Sequence[tuple[str, str]]) -> None:
        pdf.set_font("cjk", size=13)
        pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=11)
        if not rows:
            pdf.cell(0, 7, lab["none"], new_x="LMARGIN", new_y="NEXT")
        for k, v in rows:
            pdf.cell(90, 7, k, border=1)
            pdf.cell(30, 7, v, border=1, align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)

    rejected_total = sum(t["rejected"].values())
    table(
        lab["summary"],
        [(lab[k], str(t[k])) for k in ("accepted", "voided")]
        + [(lab["rejected"], str(rejected_total))]
        + [(lab[k], str(t[k])) for k in ("pending", "synced")],
    )
    fmts = dict.fromkeys(FORMATS, 0) | t["by_format"]
    table(lab["by_format"], [(f, str(n)) for f, n in fmts.items()])

    # by hour: a bar per hour that had any admission, so the busy hours stand out on paper
    pdf.set_font("cjk", size=13)
    pdf.cell(0, 9, lab["by_hour"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    peak = max(t["by_hour"].values(), default=0)
    if peak == 0:
        pdf.cell(0, 7, lab["none"], new_x="LMARGIN", new_y="NEXT")
    for hour, n in sorted(t["by_hour"].items()):
        pdf.cell(18, 6, f"{hour}:00")
        x, y = pdf.get_x(), pdf.get_y()
        pdf.set_fill_color(46, 125, 50)
        pdf.rect(x, y + 1, max(0.5, 120 * n / peak), 4, style="F")
        pdf.set_x(x + 125)
        pdf.cell(15, 6, str(n), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    table(
        lab["by_staff"],
        [(s or lab["no_staff"], str(n)) for s, n in sorted(t["by_staff"].items())],
    )
    table(
        lab["rejections"],
        [(reason_label(r, lang), str(n)) for r, n in sorted(t["rejected"].items())],
    )
    pdf.set_font("cjk", size=13)
    pdf.cell(0, 9, lab["duplicates"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    if not duplicates:
        pdf.cell(0, 6, lab["none"], new_x="LMARGIN", new_y="NEXT")
    for item in duplicates:
        pdf.multi_cell(0, 5, _detail_text(item), border="B", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 8, lab["signature"] + " ____________________", new_x="LMARGIN", new_y="NEXT")
    return _replace_atomically(path, lambda tmp: pdf.output(str(tmp)))
