"""告警 Alerts in the console: the live list, an alert's evidence, ack/resolve, roles.

A real server on loopback with its alert worker, real enrolled kiosks that
redeem one voucher at two cinemas (duplicate_use, through the real upload
path), the console over HTTP for the role checks and in Debian's chromium
(Playwright) for the live list. Screenshots: docs/screenshots/console-alerts.png
and console-alert.png with ``CINEPASS_CONSOLE_SHOTS=1`` (else into tmp_path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alerts_support import Monitor, monitor_for, redeem, sync
from browsersupport import DESKTOP, NEEDS_CHROMIUM
from sqlalchemy import select
from syncsupport import Central, enrolled_kiosk
from test_console import hidden, logged_in, make_user
from waitfor import wait_for

from sync.server.models import AuditEntry
from sync.voucher import decode_voucher

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]


def duplicate_alert(central: Central, mon: Monitor, tmp_path: Path) -> tuple[dict, str]:
    """One voucher admitted at CIN-A and CIN-B (both offline), synced: its alert and cti."""
    a = enrolled_kiosk(central, tmp_path / "a")
    b = enrolled_kiosk(central, tmp_path / "b", cinema="CIN-B")
    [t] = central.issue(1)
    assert redeem(a, t, staff="王芳").accepted and redeem(b, t, staff="李雷").accepted
    assert sync(a) == 0 and sync(b) == 0
    [alert] = mon.wait("duplicate_use")
    return alert, decode_voucher(t).voucher.cti.hex()


def test_roles_evidence_and_audit_over_http(central: Central, tmp_path: Path) -> None:
    mon = monitor_for(central, tmp_path)
    alert, cti = duplicate_alert(central, mon, tmp_path)
    base = central.url + "/console"
    for name, role, cinema in (
        ("op", "operator", None),
        ("aud", "auditor", None),
        ("cina", "cinema", "CIN-A"),
        ("cinb", "cinema", "CIN-B"),
    ):
        make_user(central, name, role, cinema)
    op = logged_in(central.url, "op")
    page = op.get(f"{base}/alerts", timeout=10)
    assert page.status_code == 200 and f'data-alert="{alert["id"]}"' in page.text
    live = op.get(f"{base}/alerts/live?status=resolved", timeout=10)
    assert f'data-alert="{alert["id"]}"' not in live.text and "没有告警" in live.text
    detail = op.get(f"{base}/alerts/{alert['id']}", timeout=10)
    assert f"/console/vouchers/{cti}" in detail.text  # evidence links to the voucher page
    assert detail.text.count(f"/console/vouchers/{cti}") == 2  # both uses

    aud = logged_in(central.url, "aud")
    seen = aud.get(f"{base}/alerts/{alert['id']}", timeout=10)
    assert seen.status_code == 200 and "/ack" not in seen.text  # reads, no forms
    token = hidden(seen.text)
    r = aud.post(f"{base}/alerts/{alert['id']}/ack", data={"csrf": token, "note": "x"}, timeout=10)
    assert r.status_code == 403

    owner = "cinb" if alert["cinema"] == "CIN-B" else "cina"
    other = "cina" if owner == "cinb" else "cinb"
    assert logged_in(central.url, owner).get(f"{base}/alerts/{alert['id']}").status_code == 200
    stranger = logged_in(central.url, other)
    assert stranger.get(f"{base}/alerts/{alert['id']}", timeout=10).status_code == 403
    assert f'data-alert="{alert["id"]}"' not in stranger.get(f"{base}/alerts?cinema=").text

    token = hidden(detail.text)
    url = f"{base}/alerts/{alert['id']}/ack"
    assert op.post(url, data={"csrf": "wrong", "note": "x"}, timeout=10).status_code == 403
    empty = op.post(url, data={"csrf": token, "note": "  "}, timeout=10)
    assert empty.status_code == 400 and "需要说明" in empty.text
    assert mon.alerts("duplicate_use")[0]["status"] == "open"
    done = op.post(url, data={"csrf": token, "note": "已致电影院核实"}, timeout=10)
    assert done.status_code == 200 and "已确认" in done.text
    [alert] = mon.alerts("duplicate_use")
    assert alert["status"] == "acked" and alert["acked_by"] == "op"
    with central.session() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "alert.ack")).all()
        assert entry.actor == "op" and entry.subject == f"alert:{alert['id']}"
        assert entry.address != "cli"  # the console's viewer address, not the CLI's


@NEEDS_CHROMIUM
def test_live_list_and_alert_page_in_a_browser(
    central: Central, tmp_path: Path, browser: Any, shots: Path
) -> None:
    from test_console_browser import log_in

    mon = monitor_for(central, tmp_path)
    make_user(central, "op", "operator")
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        page = ctx.new_page()
        log_in(page, central.url, "op")
        page.get_by_role("link", name="告警", exact=True).click()
        page.wait_for_url("**/console/alerts")
        assert "没有告警" in page.locator("#alerts-table").inner_text()
        alert, cti = duplicate_alert(central, mon, tmp_path)  # counters sync meanwhile
        row = page.locator(f'tr[data-alert="{alert["id"]}"]')
        wait_for(lambda: row.count() == 1, timeout=5, step=0.1)  # polled every 2 s
        assert "重复核销" in row.inner_text()
        page.screenshot(path=str(shots / "console-alerts.png"))
        row.get_by_role("link", name="重复核销").click()
        page.wait_for_url(f"**/console/alerts/{alert['id']}")
        links = page.locator(f'#evidence a[href$="/console/vouchers/{cti}"]')
        assert links.count() == 2
        page.screenshot(path=str(shots / "console-alert.png"), full_page=True)
        page.locator("#note-ack").fill("值班已处理：致电两家影院")
        page.get_by_role("button", name="确认", exact=True).click()
        page.wait_for_url("**?done=ack")
        assert page.locator("#alert-status").inner_text() == "已确认"
        page.locator("#note-resolve").fill("影院确认为转售，已冻结会员")
        page.get_by_role("button", name="解决", exact=True).click()
        page.wait_for_url("**?done=resolve")
        assert page.locator("#alert-status").inner_text() == "已解决"
        links.first.click()
        page.wait_for_url(f"**/console/vouchers/{cti}")
    finally:
        ctx.close()
