"""Campaigns (issue 12): the migration from the first release, the CLI, the office figures,
and the 活动 Campaigns page after a real counter redeems some vouchers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from browsersupport import CHROMIUM, counter_syncs
from sqlalchemy import inspect
from syncsupport import Central, enrolled_kiosk
from test_console import make_user
from test_console_browser import log_in

from kiosk.engine.service import KioskService
from sync.admin import main
from sync.office.campaigns import campaign_utilisation
from sync.server.db import alembic_config, make_engine, migrate

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_campaign_tables_appear_on_a_first_schema_database(db_url: str) -> None:
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0001")  # the first released schema
    assert {"campaign", "issue_job"} <= set(inspect(migrate(engine)).get_table_names())
    command.downgrade(alembic_config(engine), "0007_online_partners_holds")
    assert "campaign" not in inspect(engine).get_table_names()
    migrate(engine)
    assert "issue_job" in inspect(engine).get_table_names()
    engine.dispose()


def admin(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    rc = main(["--db", url, *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_campaign_cli_add_list_and_issue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    assert admin(capsys, url, "init", "--issuer", "ACFTU-SH", "--name", "上海")[0] == 0
    rc, out, _ = admin(capsys, url, "campaign", "list", "--json")
    assert rc == 0 and json.loads(out) == []
    rc, out, err = admin(
        capsys, url, "campaign", "add", "SPRING27", "--name", "2027 春节观影",
        "--start", "2027-01-20", "--end", "2027-02-28", "--planned", "10",
    )  # fmt: skip
    assert rc == 0, err
    assert "SPRING27" in out
    rc, _, err = admin(
        capsys, url, "campaign", "add", "SPRING27", "--start", "2027-01-01", "--end", "2027-01-02"
    )
    assert rc == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    rc, _, err = admin(capsys, url, "campaign", "add", "X", "--start", "2027-13-01", "--end", "x")
    assert rc == 2 and "YYYY-MM-DD" in err
    out_dir = tmp_path / "b"
    rc, _, err = admin(
        capsys, url, "issue", "--count", "3", "--campaign", "SPRING27", "--out", str(out_dir)
    )
    assert rc == 0, err
    rc, _, err = admin(
        capsys, url, "issue", "--count", "2", "--campaign", "OLD", "--out", str(tmp_path / "c")
    )
    assert rc == 0, err
    rc, out, _ = admin(capsys, url, "campaign", "list", "--json")
    rows = {r["code"]: r for r in json.loads(out)}
    assert rows["SPRING27"]["issued"] == 3 and rows["SPRING27"]["planned"] == 10
    assert rows["SPRING27"]["registered"] and rows["SPRING27"]["redeemed"] == 0
    assert rows["SPRING27"]["utilisation"] == 0.0 and rows["SPRING27"]["expiring"] == 0
    assert rows["OLD"]["issued"] == 2 and not rows["OLD"]["registered"]
    rc, out, _ = admin(capsys, url, "campaign", "list")
    assert rc == 0 and out.startswith("code\tname") and "SPRING27\t2027 春节观影" in out
    rc, out, _ = admin(capsys, url, "audit", "--json")
    assert [e["action"] for e in json.loads(out)].count("campaign.add") == 1


def redeem(home: Path, token: str, fmt: str) -> None:
    """A real counter redeems (signed, chained record); the caller syncs."""
    with KioskService.open(home) as svc:
        assert svc.redeem(token, fmt=fmt, staff="小王").accepted


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_campaigns_page_after_redeems(central: Central, request: pytest.FixtureRequest) -> None:
    """The figures after a real counter redeems three vouchers (2D, 2D, 3D) and syncs."""
    web, shots_dir = request.getfixturevalue("browser"), request.getfixturevalue("shots")
    tmp_path: Path = request.getfixturevalue("tmp_path")
    pytest.importorskip("playwright.sync_api")
    make_user(central, "op", "operator")
    spring = central.issue(4, campaign="SPRING27")
    central.issue(2, campaign="SPRING27", valid_days=10)  # expiring within 30 days
    central.issue(3, campaign="OLD")
    kiosk = enrolled_kiosk(central, tmp_path / "kiosk", "CIN-A")
    redeem(kiosk, spring[0], "2D")
    redeem(kiosk, spring[1], "2D")
    redeem(kiosk, spring[2], "3D")
    counter_syncs(kiosk)
    ctx = web.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = ctx.new_page()
    log_in(page, central.url, "op")
    page.get_by_role("link", name="活动", exact=True).click()
    page.wait_for_url("**/console/campaigns")
    page.get_by_label("代码").fill("SPRING27")
    page.get_by_label("名称").fill("2027 春节观影")
    page.get_by_label("开始日期").fill("2027-01-20")
    page.get_by_label("结束日期").fill("2027-02-28")
    page.get_by_label("计划张数（可不填）").fill("100")
    page.get_by_role("button", name="登记活动").click()
    page.wait_for_url("**/console/campaigns?done=campaign")
    row = page.locator('#campaigns tr[data-code="SPRING27"]')
    assert "2027 春节观影" in row.inner_text()
    assert row.locator(".issued").inner_text() == "6"
    assert row.locator(".redeemed").inner_text() == "3"
    assert row.locator(".share").inner_text() == "50.0%"
    assert row.locator(".fmt-2D").inner_text() == "2" and row.locator(".fmt-3D").inner_text() == "1"
    assert row.locator(".expiring").inner_text() == "2"
    old = page.locator('#campaigns tr[data-code="OLD"]')
    assert old.locator(".issued").inner_text() == "3" and "未登记" in old.inner_text()
    page.screenshot(path=str(shots_dir / "console-campaigns.png"), full_page=True)
    with central.session() as s:
        [figures] = campaign_utilisation(s, "SPRING27")
    assert figures["by_format"] == {"2D": 2, "3D": 1} and figures["planned"] == 100
    page.goto(f"{central.url}/console/overview")  # the overview shows each campaign's utilisation
    on_overview = page.locator('#overview-campaigns tr[data-code="SPRING27"]')
    assert on_overview.locator(".issued").inner_text() == "6"
    assert on_overview.locator(".redeemed").inner_text() == "3"
    assert on_overview.locator(".share").inner_text() == "50.0%"
    page.goto(f"{central.url}/console/issue")  # the issue page offers the registered codes
    assert page.locator('#campaign-codes option[value="SPRING27"]').count() == 1
    ctx.close()
    cin = web.new_context()
    make_user(central, "cina", "cinema", "CIN-A")
    p3 = cin.new_page()
    log_in(p3, central.url, "cina")
    assert p3.goto(f"{central.url}/console/campaigns").status == 403
    p3.goto(f"{central.url}/console/overview")  # a cinema sees its own tally, not the campaigns
    assert p3.locator("#overview-campaigns").count() == 0
    cin.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_campaign_pages_in_both_languages_csrf_and_roles(central: Central) -> None:
    from test_console import hidden, logged_in

    make_user(central, "boss", "admin")
    make_user(central, "aud", "auditor")
    central.issue(1, campaign="SPRING27")
    s = logged_in(central.url, "boss")
    for lang, words in (("zh", "30 天内到期"), ("en", "Expiring within 30 days")):
        s.cookies.set("cp_lang", lang, path="/")
        for path in ("/console/campaigns", "/console/issue"):
            r = s.get(f"{central.url}{path}", timeout=10)
            assert r.status_code == 200, (path, r.text[:500])
        assert words in s.get(f"{central.url}/console/campaigns", timeout=10).text
    page = s.get(f"{central.url}/console/campaigns", timeout=10).text
    form = {"code": "SPRING27", "name": "春节", "start": "2027-01-20", "end": "2027-02-28"}
    r = s.post(f"{central.url}/console/campaigns", data=form, timeout=10)
    assert r.status_code == 403  # no CSRF token: nothing registered
    r = s.post(f"{central.url}/console/campaigns", data={**form, "csrf": hidden(page)}, timeout=10)
    assert r.status_code == 200 and "Campaign added" in r.text
    r = s.post(f"{central.url}/console/campaigns", data={**form, "csrf": hidden(page)}, timeout=10)
    assert r.status_code == 400 and "already exists" in r.text
    aud = logged_in(central.url, "aud")
    apage = aud.get(f"{central.url}/console/campaigns", timeout=10)
    assert apage.status_code == 200 and "SPRING27" in apage.text
    form2 = {**form, "code": "X", "csrf": hidden(apage.text)}
    assert aud.post(f"{central.url}/console/campaigns", data=form2, timeout=10).status_code == 403
    assert aud.get(f"{central.url}/console/issue/jobs/nope", timeout=10).status_code == 404
