"""Settlement in a real browser: drill-down, downloads, a review decision, the sign-off.

Playwright with Debian's chromium against the real server, a real enrolled
counter's synced record and a line held for review. The downloads are opened
as an office would: the workbook with openpyxl, the statement with
pdftotext, and their figures must be the page's. Photographs go to tmp_path,
or to docs/screenshots/ with ``CINEPASS_CONSOLE_SHOTS=1`` (as the other
console pictures).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from browsersupport import BROWSER_MARKS, DESKTOP
from openpyxl import load_workbook
from syncsupport import Central, enrolled_kiosk
from test_console import make_user, redeem_row
from test_console_browser import log_in
from test_console_settlement import alert_on, held_line, redeem_and_sync, this_month

from sync.server.models import Redemption

SHOTS_ENV = "CINEPASS_CONSOLE_SHOTS"
pytestmark = [
    *BROWSER_MARKS,
    pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler's pdftotext"),
]


def download(page: object, label: str, to: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("link", name=label).click()
    info.value.save_as(str(to))
    return to


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_drill_down_downloads_review_and_sign_off(
    central: Central,
    browser: object,
    shots: Path,
    tmp_path: Path,
) -> None:
    month = this_month()
    make_user(central, "op", "operator")
    tokens = central.issue(3)
    kiosk = enrolled_kiosk(central, tmp_path / "kiosk-a", "CIN-A")
    redeem_and_sync(kiosk, tokens[0])
    held = held_line(central, tokens[1])
    redeem_row(central, tokens[2], "CIN-B")
    with central.session() as s:
        paid = s.query(Redemption.uuid).filter(Redemption.device != "dev-test").scalar()
    alert_id = alert_on(central, paid, "off_hours", "CIN-A")

    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    page.on("dialog", lambda d: d.accept())  # the sign-off confirmation
    log_in(page, central.url, "op")
    page.goto(f"{central.url}/console/settlement?month={month}")
    row = page.locator('tr[data-cinema="CIN-A"]')
    assert "1" in row.locator("td").nth(1).inner_text()  # valid
    assert row.locator("td").nth(3).inner_text() == "1"  # under review
    assert row.locator("td").nth(7).inner_text() == "1"  # a line in an alert
    page.screenshot(path=str(shots / "console-settlement-month.png"), full_page=True)

    row.get_by_role("link", name="明细").click()
    page.wait_for_url(f"**/console/settlement/CIN-A?month={month}")
    assert page.locator("#valid-total").inner_text() == "1"
    assert page.locator("#held-total").inner_text() == "1"
    mark = page.locator(f'tr[data-record="{paid}"] a.alert-mark')
    assert mark.get_attribute("href") == f"/console/alerts/{alert_id}"
    assert "off_hours" in mark.inner_text()
    assert "wrong_format" in page.locator(f'tr[data-record="{held}"]').inner_text()
    page.screenshot(path=str(shots / "console-settlement-drilldown.png"), full_page=True)

    wb = load_workbook(download(page, "下载 Excel", tmp_path / "a.xlsx"))
    assert [r[1] for r in wb["Valid"].iter_rows(min_row=2, values_only=True)] == [paid]
    assert [r[1] for r in wb["Review"].iter_rows(min_row=2, values_only=True)] == [held]
    text = pdf_text(download(page, "下载结算单 PDF", tmp_path / "a.pdf"))
    assert "Valid: 1" in text and "Payable: 1" in text and "Not signed off" in text

    held_row = page.locator(f'tr[data-record="{held}"]')
    held_row.get_by_label("理由（必填）").fill("票根与监控核对无误")
    held_row.get_by_role("button", name="支付", exact=True).click()
    page.wait_for_url("**done=review")
    assert page.locator("#valid-total").inner_text() == "2"  # the decision changed the statement
    text = pdf_text(download(page, "下载结算单 PDF", tmp_path / "b.pdf"))
    assert "Valid: 2" in text and held in text

    page.get_by_role("button", name="签核本月").click()
    page.wait_for_url("**done=signoff")
    assert "op" in page.locator("#signed").inner_text()
    page.screenshot(path=str(shots / "console-settlement-signed.png"), full_page=True)
    text = pdf_text(download(page, "下载结算单 PDF", tmp_path / "c.pdf"))
    assert "Signed off: op" in text and "Valid: 2" in text
    ctx.close()
