"""Day/range exports: what goes in comes back out of the CSV, XLSX and PDF files."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.errors import EnvironmentFailure
from kiosk.reports import (
    ReportError,
    ReportMeta,
    check_tally,
    daily_pdf,
    date_range,
    export_csv,
    export_xlsx,
)

DAY1 = {
    "date": "2026-12-01",
    "accepted": 5,
    "by_format": {"2D": 3, "3D": 2},
    "by_hour": {"10": 1, "14": 4},
    "by_staff": {"王芳": 4, "": 1},
    "rejected": {"already_redeemed": 2, "expired": 1},
    "voided": 1,
    "pending": 2,
    "synced": 3,
}
DAY2 = {
    "date": "2026-12-02",
    "accepted": 1,
    "by_format": {"3D": 1},
    "by_hour": {"09": 1},
    "by_staff": {"Li": 1},
    "rejected": {},
    "voided": 0,
    "pending": 1,
    "synced": 0,
}
META = ReportMeta(cinema="SH-001", counter="1号窗口", generated_at=dt.datetime(2026, 12, 2, 20, 0))


def test_csv_long_form_round_trip(tmp_path: Path) -> None:
    out = export_csv([DAY1, DAY2], tmp_path / "r.csv", "zh_CN", META)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese right
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["日期", "类别", "项目", "数量"]
    assert ["2026-12-01", "汇总", "核销成功", "5"] in rows
    assert ["2026-12-01", "按影片格式", "3D", "2"] in rows
    assert ["2026-12-01", "拒绝原因", "此券已使用", "2"] in rows
    assert ["2026-12-01", "按员工", "（未登录）", "1"] in rows
    assert ["2026-12-02", "按影片格式", "2D", "0"] in rows  # both formats always listed
    assert ["2026-12-02", "按小时", "09:00", "1"] in rows


def test_csv_english(tmp_path: Path) -> None:
    out = export_csv([DAY1], tmp_path / "r.csv", "en")
    text = out.read_text(encoding="utf-8-sig")
    assert "Rejections by reason,Already used,2" in text


def test_xlsx_sheets(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = export_xlsx([DAY1, DAY2], tmp_path / "r.xlsx", "zh_CN", META)
    wb = load_workbook(out)
    assert wb.sheetnames[:3] == ["汇总", "按小时", "按员工"]
    summary = [[c for c in r if c is not None] for r in wb["汇总"].iter_rows(values_only=True)]
    assert ["影院", "SH-001", "柜台", "1号窗口"] in summary
    assert ["2026-12-01", 5, 3, 2, 1, 3, 2, 3] in summary
    assert ["2026-12-02", 1, 0, 1, 0, 0, 1, 0] in summary
    hours = list(wb["按小时"].iter_rows(values_only=True))
    assert hours[1][0] == "2026-12-01" and hours[1][1 + 14] == 4


def test_pdf_has_chinese_text(tmp_path: Path) -> None:
    at = int(dt.datetime(2026, 12, 1, 9, 55, 7).timestamp() * 1000)
    dup = [  # the shape KioskService.conflicts() returns
        {
            "voucher": "ABCD-EFGH-JKMN-PQRS",
            "local": {"at": at + 60_000, "staff": "王芳"},
            "other": {"cinema": "SH-002", "device": "dev-9", "staff": "", "at": at},
        }
    ]
    out = daily_pdf(DAY1, tmp_path / "day.pdf", "zh_CN", META, duplicates=dup)
    assert out.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    text = subprocess.run(
        ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    for want in (
        "CinePass 每日核销报表",
        "核销成功",
        "1号窗口",
        "此券已使用",
        "ABCD-EFGH-JKMN-PQRS",
    ):
        assert want in text


@pytest.mark.parametrize(
    "bad, why",
    [
        ({**DAY1, "date": "yesterday"}, "date must be YYYY-MM-DD"),
        ({**DAY1, "accepted": -1}, "accepted must be a count"),
        ({**DAY1, "accepted": True}, "accepted must be a count"),
        ({**DAY1, "by_hour": [1, 2]}, "by_hour must be a mapping"),
        ({**DAY1, "rejected": {"expired": "3"}}, "must be a count"),
    ],
)
def test_bad_tally_writes_nothing(tmp_path: Path, bad: dict, why: str) -> None:
    for fn, name in ((export_csv, "a.csv"), (export_xlsx, "a.xlsx")):
        with pytest.raises(ReportError) as e:
            fn([DAY1, bad], tmp_path / name)
        assert why in e.value.message
    with pytest.raises(ReportError):
        daily_pdf(bad, tmp_path / "a.pdf")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentFailure) as e:
        export_csv([DAY1], tmp_path / "missing" / "r.csv")
    assert e.value.reason == "export_failed" and "cannot write" in e.value.message


def test_date_range() -> None:
    days = date_range(dt.date(2026, 2, 27), dt.date(2026, 3, 2))
    assert [d.isoformat() for d in days] == ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
    with pytest.raises(ReportError):
        date_range(dt.date(2026, 3, 2), dt.date(2026, 3, 1))
    with pytest.raises(ReportError):
        date_range(dt.date(2025, 1, 1), dt.date(2026, 6, 1))
    assert check_tally({"date": "2026-01-01"})["by_format"] == {}
