"""发券 Issue in a real browser (Playwright, Debian's chromium) against the real server.

A members file with several bad lines: every one listed with its line number,
nothing issued. A good one: the batch is issued in the background, the page
shows its progress and then the batch's downloads — the CSV has a row per
member, the PDF opens (pdfinfo) and states the batch's hotline, the ZIP holds a
PNG per voucher that zxing-cpp decodes to that voucher's QR text. The same file
again is refused (members already hold vouchers in the campaign) unless the
clerk allows repeats. Screenshots go to tmp_path, or to docs/screenshots/ with
``CINEPASS_CONSOLE_SHOTS=1``.
"""

from __future__ import annotations

import csv
import io
import subprocess
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from browsersupport import CHROMIUM
from sqlalchemy import func, select
from syncsupport import Central
from test_console import make_user
from test_console_browser import log_in

from sync.console import pages_issue
from sync.office.campaign_models import IssueJob
from sync.server.models import AuditEntry, Voucher

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]
pytest.importorskip("playwright.sync_api")

BAD = "会员编号,姓名\nM-1,张三\nM-1,李四\n,王五\nM-4,\nM-5,赵六,多余\n"


def vouchers(central: Central) -> int:
    with central.session() as s:
        return int(s.scalar(select(func.count()).select_from(Voucher)) or 0)


def upload(page: object, path: Path, *, campaign: str = "", repeat: bool = False) -> None:
    page.get_by_label("会员名单 CSV").set_input_files(str(path))
    page.get_by_label("活动").fill(campaign)
    page.locator("#ihotline").fill("400-820-0000")
    if repeat:
        page.locator("#irepeat").check()
    page.get_by_role("button", name="发券", exact=True).click()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_issue_page_problems_progress_downloads_repeats(
    central: Central,
    browser: object,  # noqa: F811
    shots: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pages_issue, "QUICK_BATCH", 0)  # every batch shows its progress page
    make_user(central, "op", "operator")
    base = central.url
    before = vouchers(central)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = ctx.new_page()
    page.on("dialog", lambda d: d.accept())  # "issue one voucher per member?"
    log_in(page, base, "op")

    # 1. several bad lines: all of them, each with its line number; nothing issued
    page.goto(f"{base}/console/issue")
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    upload(page, bad)
    page.wait_for_selector("#problems")
    rows = page.locator("#problems tbody tr")
    assert rows.count() == 4
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(4)] == [
        "3",
        "4",
        "5",
        "6",
    ]
    assert "already on line 2" in rows.nth(0).inner_text()
    assert "4" in page.locator("#problems-box h2").inner_text()
    assert page.locator("#ihotline").input_value() == "400-820-0000"  # kept for the retry
    page.screenshot(path=str(shots / "console-issue-problems.png"), full_page=True)
    assert vouchers(central) == before

    # 2. a good file: progress, then the batch and its downloads
    n = 300
    good = tmp_path / "good.csv"
    good.write_text(
        "会员编号,姓名\n" + "".join(f"G-{i:04d},会员{i:04d}\n" for i in range(n)), encoding="utf-8"
    )
    seen: list[str] = []
    page.on("framenavigated", lambda f: seen.append(f.url))
    page.goto(f"{base}/console/issue")
    upload(page, good, campaign="2027春节")
    page.wait_for_url("**/console/issue/jobs/*")
    bar = page.locator("#job-bar")
    assert bar.get_attribute("max") == str(n)
    page.screenshot(path=str(shots / "console-issue-progress.png"))
    page.wait_for_url("**/console/issue?done=*", timeout=240_000)
    assert any("/console/issue/jobs/" in u for u in seen)
    assert "已发券" in page.locator("#issued").inner_text()
    batch = page.locator("#issued .code").inner_text()
    links = page.locator("#downloads a")
    assert [links.nth(i).get_attribute("href").rsplit("/", 1)[1] for i in range(3)] == [
        "vouchers.csv",
        "cards.pdf",
        "qr.zip",
    ]
    page.screenshot(path=str(shots / "console-issue.png"), full_page=True)
    with central.session() as s:
        rows_db = list(s.scalars(select(Voucher).where(Voucher.batch == batch)))
        job = s.scalar(select(IssueJob).where(IssueJob.batch == batch))
        entry = s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "batch.issue", AuditEntry.subject == batch
            )
        )
    assert len(rows_db) == n and {v.campaign for v in rows_db} == {"2027春节"}
    assert job is not None and job.status == "done" and job.done == n
    assert entry is not None and entry.actor == "op" and entry.after["count"] == n
    tokens = {v.short_code: v.token for v in rows_db}

    state = page.request.get(f"{base}/console/issue/jobs/{job.id}/state.json").json()
    assert state["status"] == "done" and state["done"] == n and state["batch"] == batch
    text = page.request.get(f"{base}/console/batches/{batch}/vouchers.csv").text()
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert lines[0][0] == "short_code" and len(lines) == n + 1
    assert {line[0]: line[5] for line in lines[1:]} == tokens
    pdf = tmp_path / "cards.pdf"
    pdf.write_bytes(page.request.get(f"{base}/console/batches/{batch}/cards.pdf").body())
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "Pages:" in info.stdout
    flat = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout.replace(" ", "")
    assert "400-820-0000" in flat  # the batch's hotline, as `issue --hotline` prints it
    z = zipfile.ZipFile(
        io.BytesIO(page.request.get(f"{base}/console/batches/{batch}/qr.zip").body())
    )
    names = z.namelist()
    assert sorted(names) == sorted(f"{code}.png" for code in tokens)
    for name in names[:: max(1, n // 25)]:  # every 12th PNG decodes to its voucher
        img = cv2.imdecode(np.frombuffer(z.read(name), np.uint8), cv2.IMREAD_GRAYSCALE)
        # QR codes only, as the other card tests read them (all formats once gave two
        # results for one PNG in CI)
        found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
        assert [b.text for b in found] == [tokens[name[:-4]]]

    # 3. the same members again: refused (they hold vouchers in the campaign) unless allowed
    page.goto(f"{base}/console/issue")
    upload(page, good, campaign="2027春节")
    page.wait_for_selector("#problem")
    assert "already hold" in page.locator("#problem").inner_text()
    assert vouchers(central) == before + n
    small = tmp_path / "small.csv"
    small.write_text("会员编号,姓名\nG-0001,会员0001\nG-0002,会员0002\n", encoding="utf-8")
    upload(page, small, campaign="2027春节", repeat=True)
    page.wait_for_url("**/console/issue?done=*", timeout=120_000)
    assert vouchers(central) == before + n + 2
    ctx.close()
