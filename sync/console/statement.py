"""A cinema's monthly statement as a PDF (A4), from :func:`sync.office.reports.monthly`.

What the union sends a cinema with its payment: the month, the cinema, the
valid redemptions by format, who signed the month off and when (or that it
is not signed yet), then every valid line (time, short code, format,
counter, staff, record id), the lines under review, the duplicates, voids
and rejected lines listed apart, and the adjustments (changes to a month
already signed, counted here), so each number can be traced to its signed
record.
Drawn with fpdf2 and the CJK font the cards use (:func:`sync.cards.find_font`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sync.cards import find_font
from sync.office.reports import iso_utc
from sync.server.models import now_ms

COLUMNS = (  # (line key, heading, width in mm): 190 mm, the A4 page inside its margins
    ("time", "时间 Time", 32),
    ("voucher", "短码 Short code", 38),
    ("format", "格式", 10),
    ("device", "柜台 Counter", 36),
    ("staff", "售票员 Staff", 22),
    ("record", "记录 Record", 52),
)
SECTIONS = (
    ("valid", "有效核销 Valid"),
    ("review", "复核中 Under review (not paid yet)"),
    ("duplicates", "重复 Duplicates"),
    ("voids", "撤销 Voids"),
    ("rejected", "拒绝 Rejected"),
)


def pick(*keys: str) -> tuple[tuple[str, str, int], ...]:
    """The line columns named ``keys`` (the adjustments share them)."""
    return tuple(col for key in keys for col in COLUMNS if col[0] == key)


ADJ_COLUMNS = (  # the adjustments' columns: what changed, and the line's own
    ("origin_month", "所属月 Month", 22),
    *pick("time", "voucher"),
    ("change", "变更 Change", 34),
    ("delta", "增减 +/-", 12),
    *pick("record"),
)


def signed_text(c: dict[str, Any]) -> str:
    s = c.get("signed")
    if not s:
        return "未签核：数字仍可能变化 / Not signed off: the figures may still change"
    return f"已签核 Signed off: {s['by']} · {s['at']}"


def statement_pdf(report: dict[str, Any]) -> bytes:
    """The PDF of a one-cinema report (``reports.monthly(session, month, cinema)``)."""
    from fpdf import FPDF

    c = report["cinemas"][0]
    pdf: Any = FPDF(orientation="P", unit="mm", format="A4")
    pdf.add_font("cjk", fname=str(find_font()), collection_font_number=0)
    pdf.set_title(f"CinePass {c['cinema']} {report['month']}")
    pdf.set_creator("cinepass-server console")
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(0, 10, f"结算单 Statement · {report['month']}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    by_format = " · ".join(f"{f} {n}" for f, n in c["valid_by_format"].items()) or "—"
    payable = c.get("payable_total", c["valid_total"])
    for text in (
        f"影院 Cinema: {c['cinema']} {c['name']}",
        f"有效核销 Valid: {c['valid_total']}  ({by_format})",
        f"调整 Adjustments: {c.get('adjustments_total', 0):+d} · 应付 Payable: {payable}",
        signed_text(c),
        f"日期按北京时间 Days in {report['timezone']} · 生成 made {iso_utc(now_ms())}",
    ):
        pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    for key, title in SECTIONS:
        table(pdf, title, COLUMNS, c.get(key) or [])
    adjustments = [
        dict(a, change=f"{a['kind']} {a['before'] or '-'}→{a['after']}", delta=f"{a['delta']:+d}")
        for a in c.get("adjustments") or []
    ]
    table(pdf, "调整（已签核月份的变更）Adjustments", ADJ_COLUMNS, adjustments)
    with tempfile.TemporaryDirectory(prefix="cinepass-statement-") as tmp:
        path = Path(tmp) / "statement.pdf"
        pdf.output(str(path))
        return path.read_bytes()


def table(
    pdf: Any, title: str, columns: tuple[tuple[str, str, int], ...], lines: list[Any]
) -> None:
    """One titled section of lines (nothing when there are none)."""
    if not lines:
        return
    pdf.ln(3)
    pdf.set_font("cjk", size=12)
    pdf.cell(0, 8, f"{title} ({len(lines)})", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=7)
    for _key, heading, width in columns:
        pdf.cell(width, 5, heading, border="B")
    pdf.ln()
    for line in lines:
        for key, _heading, width in columns:
            pdf.cell(width, 5, str(line.get(key) or "")[: int(width / 1.3)])
        pdf.ln()
