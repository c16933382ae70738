"""The member page in a real browser: Playwright driving Debian's chromium at a phone's 375x812.

Against the real server on loopback and a real database: look a voucher up
by a sloppily typed code and the last four of the member ref, decode the QR
the page shows (zxing-cpp) back to the voucher, switch to English, report it
lost, and an enrolled counter that syncs refuses it. A wrong factor and an
unknown code answer alike, and the per-code limit bites. Screenshots go to
tmp_path, or to docs/screenshots/ with ``CINEPASS_MEMBER_SHOTS=1``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from browsersupport import BROWSER_MARKS, PHONE, counter_syncs
from sqlalchemy import select
from syncsupport import Central, enrolled_kiosk
from test_member_page import FACTOR, member_voucher

from kiosk.engine.service import KioskService
from sync.member import guard
from sync.office.issuers import set_card_contact
from sync.server.models import AuditEntry, Cinema, Voucher
from sync.voucher import decode_voucher

SHOTS_ENV = "CINEPASS_MEMBER_SHOTS"
pytestmark = BROWSER_MARKS
zxingcpp = pytest.importorskip("zxingcpp")


def decode_png(data: bytes) -> str:
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)).convert("L"))
    assert found, "no QR code found in the image"
    return str(found[0].text)


def look_up(page: Any, base: str, code: str, factor: str) -> Any:
    page.goto(f"{base}/m/")
    page.get_by_label("券码").fill(code)
    page.get_by_label("会员编号后四位").fill(factor)
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="查看").click()
    return nav.value


def without_tokens(html: str) -> str:
    """A look-up page without its CSRF token (fresh on every form)."""
    return html.split('name="csrf" value="')[0] + html.split('name="code"')[1]


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_look_up_qr_report_lost_then_the_counter_refuses(
    central: Central, phone: Any, shots: Path, tmp_path: Path
) -> None:
    with central.session() as s:
        for code, addr, tel in (
            ("CIN-A", "上海市黄浦区南京东路 100 号", "021-5555-0101"),
            ("CIN-B", "上海市徐汇区漕溪北路 8 号", "021-5555-0202"),
        ):
            row = s.get(Cinema, code)
            row.address, row.phone = addr, tel
        set_card_contact(s, "ACFTU-SH", hotline="400-820-0000", after_sales=None)
    token, code = member_voucher(central)
    kiosk = enrolled_kiosk(central, tmp_path / "kiosk-a", "CIN-A")
    page = phone.new_page()
    page.goto(f"{central.url}/m/")
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "member-lookup.png"))

    sloppy = code.lower().replace("-", " ")
    look_up(page, central.url, sloppy, FACTOR)
    page.wait_for_url("**/m/v")
    assert page.locator("#state").inner_text() == "有效"
    assert page.locator("#short-code").inner_text() == code
    cinemas = page.locator("#cinemas").inner_text()
    assert "南京东路 100 号" in cinemas and "021-5555-0202" in cinemas
    rights = page.locator("#rights").inner_text()
    assert "不可转售" in rights and "400-820-0000" in rights
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "member-voucher.png"), full_page=True)
    # the QR as the phone shows it, and as served, decode to this voucher
    assert decode_png(page.locator("#qr").screenshot()) == token
    assert decode_png(phone.request.get(f"{central.url}/m/qr.png").body()) == token
    cookie = next(c for c in phone.cookies() if c["name"] == "cp_member")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/m"

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/m/v")
    assert page.locator("#state").inner_text() == "Valid"
    assert page.get_by_role("button", name="Report lost").is_visible()
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "member-voucher-en.png"), full_page=True)
    page.get_by_role("link", name="中文").click()

    page.get_by_label("我确认挂失此券").check()
    page.get_by_role("button", name="挂失", exact=True).click()
    page.wait_for_url("**/m/v?done=lost")
    assert page.locator("#state").inner_text() == "已冻结"
    assert "400-820-0000" in page.locator("#what-now").inner_text()
    assert page.locator("#qr").count() == 0
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "member-frozen.png"), full_page=True)
    with central.session() as s:
        v = s.get(Voucher, decode_voucher(token).voucher.cti.hex())
        assert (v.status, v.freeze_reason) == ("frozen", "lost")
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "voucher.freeze")).one()
        assert (entry.actor, entry.address) == ("member", "127.0.0.1")

    counter_syncs(kiosk)  # the counter syncs and refuses the lost voucher
    with KioskService.open(kiosk) as svc:
        verdict = svc.check(token, fmt="2D")
        assert not verdict.accepted and verdict.reason == "revoked"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_wrong_factor_and_unknown_code_alike_and_the_limit_bites(
    central: Central, phone: Any, shots: Path
) -> None:
    _, code = member_voucher(central)
    page = phone.new_page()
    wrong = look_up(page, central.url, code, "9999")
    wrong_text = page.locator("#error").inner_text()
    wrong_html = page.locator("main").inner_html()
    unknown = look_up(page, central.url, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "9999")
    assert wrong.status == unknown.status == 401
    assert page.locator("#error").inner_text() == wrong_text == "券码或会员编号后四位不正确。"
    masked = page.locator("main").inner_html().replace("ZZZZ-ZZZZ-ZZZZ-ZZZZ", code)
    assert without_tokens(masked) == without_tokens(
        wrong_html
    )  # the same page but for the code typed back
    page.screenshot(path=str(shots / "member-wrong.png"))
    for _ in range(guard.PER_CODE - 1):
        assert look_up(page, central.url, code, "1111").status == 401
    refused = look_up(page, central.url, code, FACTOR)  # right now, but too late for this code
    assert refused.status == 429
    assert page.locator("#error").inner_text() == "尝试次数过多，请 15 分钟后再试。"
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "member-rate-limited.png"))
