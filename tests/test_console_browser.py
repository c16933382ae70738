"""The console in a real browser: Playwright driving Debian's chromium, headless.

Against the real server on loopback and a real database: log in, search a
voucher by a sloppily typed short code, freeze it, see the audit row; the
overview refreshes by itself when a redemption arrives; a cinema account
gets the 403 page on another cinema's statement. Every page is
photographed at 1280x800 (and the voucher page at a phone's 375x812): into
tmp_path, or into docs/screenshots/ with ``CINEPASS_CONSOLE_SHOTS=1``
(``CINEPASS_CONSOLE_SHOTS=1 pytest tests/test_console_browser.py`` refreshes
the README's pictures). The browser itself: :mod:`browsersupport`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browsersupport import BROWSER_MARKS, DESKTOP, PHONE, counter_syncs
from sqlalchemy import select, update
from syncsupport import Central, enrolled_kiosk
from test_console import PW, make_user, redeem_row
from waitfor import wait_for

from kiosk.engine.service import KioskService
from sync.server.models import AuditEntry, Device, Voucher, now_ms
from sync.voucher import decode_voucher

SHOTS_ENV = "CINEPASS_CONSOLE_SHOTS"
pytestmark = BROWSER_MARKS


def log_in(page: object, base: str, name: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码", exact=True).fill(PW)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/overview")


def counter_redeems(home: Path, token: str) -> None:
    """A real counter: redeem (signed, chained record) and sync it to the server."""
    with KioskService.open(home) as svc:
        assert svc.redeem(token, fmt="2D", staff="小王").accepted
    counter_syncs(home)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_search_freeze_audit_in_a_browser(
    central: Central, browser: object, shots: Path, tmp_path: Path
) -> None:
    base = central.url
    make_user(central, "op", "admin")
    make_user(central, "cina", "cinema", "CIN-A")
    tokens = central.issue(3, holder="张三丰")
    with central.session() as s:
        for i, tok in enumerate(tokens):
            s.get(Voucher, decode_voucher(tok).voucher.cti.hex()).member_ref = f"M-{i:03d}"
    kiosk = enrolled_kiosk(central, tmp_path / "kiosk-a", "CIN-A")
    enrolled_kiosk(central, tmp_path / "kiosk-b", "CIN-B")
    with central.session() as s:  # counter b has been silent for two hours
        s.execute(
            update(Device)
            .where(Device.cinema == "CIN-B")
            .values(last_contact=now_ms() - 2 * 3600 * 1000)
        )
    counter_redeems(kiosk, tokens[1])
    redeem_row(central, tokens[2], "CIN-B")
    v = decode_voucher(tokens[0]).voucher
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    page.on("dialog", lambda d: d.accept())  # the "freeze?" confirmation
    page.goto(f"{base}/console/login")
    page.screenshot(path=str(shots / "console-login.png"))
    log_in(page, base, "op")
    assert page.locator("#today-total").inner_text() == "2"
    counter_redeems(kiosk, tokens[0])  # a counter syncs: the overview shows it by itself
    wait_for(lambda: page.locator("#today-total").inner_text() == "3", timeout=10, step=0.1)
    page.screenshot(path=str(shots / "console-overview.png"))

    page.get_by_role("link", name="券", exact=True).click()
    sloppy = v.short_code.lower().replace("-", "").replace("1", "i").replace("0", "o")
    page.get_by_label("券码").fill(sloppy)
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(f"**/console/vouchers/{v.cti.hex()}")
    assert page.locator("#state").inner_text() == "已核销"
    assert "核销" in page.locator("ol.timeline").inner_text()
    page.screenshot(path=str(shots / "console-voucher.png"), full_page=True)
    [redeem_free_token] = central.issue(1, holder="李四")
    redeem_free = decode_voucher(redeem_free_token).voucher
    page.goto(f"{base}/console/vouchers/{redeem_free.cti.hex()}")
    assert page.locator("#state").inner_text() == "有效"
    page.get_by_label("原因").select_option("lost")
    page.locator("#note").fill("会员来电挂失")
    page.get_by_role("button", name="确认冻结").click()
    page.wait_for_url("**?done=freeze")
    assert page.locator("#state").inner_text() == "已冻结"
    assert "会员来电挂失" in page.locator("ol.timeline").inner_text()
    page.screenshot(path=str(shots / "console-voucher-frozen.png"), full_page=True)
    with central.session() as s:
        assert s.get(Voucher, redeem_free.cti.hex()).status == "frozen"
    counter_syncs(kiosk)  # the counter learns the freeze on its next sync and refuses the voucher
    with KioskService.open(kiosk) as svc:
        verdict = svc.check(redeem_free_token, fmt="2D")
        assert not verdict.accepted and verdict.reason == "revoked"

    page.goto(f"{base}/console/vouchers?q=张三丰")
    page.screenshot(path=str(shots / "console-vouchers.png"))
    page.get_by_role("link", name="审计", exact=True).click()
    row = page.locator("table.audit tbody tr").first
    assert "voucher.freeze" in row.inner_text() and redeem_free.short_code in row.inner_text()
    page.screenshot(path=str(shots / "console-audit.png"))
    page.get_by_role("link", name="发券", exact=True).click()
    members = tmp_path / "members.csv"
    members.write_text("会员编号,姓名\nM-101,赵六\nM-102,钱七\n", encoding="utf-8")
    page.get_by_label("会员名单 CSV").set_input_files(str(members))
    page.get_by_label("活动").fill("2027春节")
    page.get_by_role("button", name="发券", exact=True).click()
    page.wait_for_url("**/console/issue?done=*")
    assert "已发券" in page.locator("#issued").inner_text()
    page.screenshot(path=str(shots / "console-issue.png"))
    page.get_by_role("link", name="影院与柜台", exact=True).click()
    assert "CIN-B" in page.locator("main").inner_text()
    page.screenshot(path=str(shots / "console-counters.png"), full_page=True)
    page.get_by_role("button", name="生成注册码").first.click()
    assert len(page.locator("#enrol-code").inner_text()) == 14
    page.screenshot(path=str(shots / "console-enrolment-code.png"))
    page.goto(f"{base}/console/settlement?month={time.strftime('%Y-%m')}")
    page.screenshot(path=str(shots / "console-settlement.png"))
    page.get_by_role("link", name="明细").first.click()
    assert "CIN-A" in page.locator("h1").inner_text()
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("link", name="Audit").is_visible()
    page.screenshot(path=str(shots / "console-settlement-cinema-en.png"), full_page=True)

    phone = browser.new_context(viewport=PHONE, locale="zh-CN")
    p2 = phone.new_page()
    log_in(p2, base, "op")
    p2.goto(f"{base}/console/vouchers/{redeem_free.cti.hex()}")
    assert p2.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    p2.screenshot(path=str(shots / "console-voucher-phone.png"), full_page=True)
    p2.goto(f"{base}/console/overview")
    assert p2.evaluate("document.documentElement.scrollWidth") <= 375
    p2.screenshot(path=str(shots / "console-overview-phone.png"), full_page=True)
    phone.close()

    cin = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    p3 = cin.new_page()
    log_in(p3, base, "cina")
    resp = p3.goto(f"{base}/console/settlement/CIN-B")
    assert resp.status == 403 and "无权访问" in p3.locator("main").inner_text()
    p3.screenshot(path=str(shots / "console-forbidden.png"))
    cin.close()
    ctx.close()
    with central.session() as s:
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert "voucher.freeze" in actions
    assert (shots / "console-overview.png").stat().st_size > 10_000
