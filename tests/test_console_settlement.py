"""Settlement over HTTP and the CLI: sign-off, adjustments, review decisions, roles, alerts.

A real server on loopback, a real enrolled counter that redeems and syncs
(signed, chained records), ``cinepass-admin`` in-process. The browser side
(drill-down, downloads opened with openpyxl and pdftotext) is
test_console_settlement_browser.py.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, update
from syncsupport import Central, enrolled_kiosk
from test_console import hidden, logged_in, make_user, redeem_row

from kiosk.engine.service import KioskService
from kiosk.syncer import SyncEngine
from sync.admin import main as admin_main
from sync.businessday import BusinessDay
from sync.office import reports
from sync.office.alerts_models import Alert
from sync.office.signoff_models import SettlementAdjustment, next_month
from sync.server.db import alembic_config, make_engine, migrate
from sync.server.models import AuditEntry, Redemption, now_ms
from sync.voucher import decode_voucher

pytestmark = pytest.mark.timeout(240)


def this_month() -> str:
    return BusinessDay().month_of(now_ms())  # CIN-A / CIN-B keep the default business day


def redeem_and_sync(home: Path, token: str) -> None:
    """A real counter redeems (a signed, chained record) and uploads it."""
    with KioskService.open(home) as svc:
        assert svc.redeem(token, fmt="2D", staff="小王").accepted
    engine = SyncEngine(home)
    try:
        assert engine.sync_now().to_json()["ok"]
    finally:
        engine.stop()


def admin(central: Central, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = admin_main(["--db", central.url_db, *argv])
    return rc, capsys.readouterr().out


def cinema_report(central: Central, month: str, cinema: str = "CIN-A") -> dict[str, object]:
    with central.session() as s:
        [c] = reports.monthly(s, month, cinema)["cinemas"]
    return c


def held_line(central: Central, token: str, cinema: str = "CIN-A") -> str:
    """A line held for review (wrong format), stored as ingest leaves it."""
    redeem_row(central, token, cinema, status="review")
    cti = decode_voucher(token).voucher.cti.hex()
    with central.session() as s:
        s.execute(
            update(Redemption).where(Redemption.voucher == cti).values(flags=["wrong_format"])
        )
        return str(s.scalar(select(Redemption.uuid).where(Redemption.voucher == cti)))


def alert_on(central: Central, record: str, rule: str, cinema: str) -> int:
    """An open alert whose evidence is ``record`` (as the monitoring stores it); its id."""
    with central.session() as s:
        alert = Alert(
            rule=rule,
            severity="high",
            status="open",
            subject_kind="cinema",
            subject_key=cinema,
            open_key=f"{rule}|cinema|{uuid.uuid4()}",
            cinema=cinema,
            first_seen=now_ms(),
            last_seen=now_ms(),
            count=1,
            evidence=[f"record:{record}"],
            detail={},
        )
        s.add(alert)
        s.flush()
        return int(alert.id)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sign_off_then_late_records_are_adjustments_of_the_next_month(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    month, after = this_month(), next_month(this_month())
    tokens = central.issue(3)
    kiosk = enrolled_kiosk(central, tmp_path / "kiosk-a", "CIN-A")
    redeem_and_sync(kiosk, tokens[0])
    held = held_line(central, tokens[1])
    rc, out = admin(central, capsys, "settle", "sign-off", "--month", month, "--cinema", "CIN-A")
    assert rc == 0 and "CIN-A" in out and "valid 1" in out
    signed = cinema_report(central, month)
    assert signed["signed"]["by"] and signed["valid_total"] == 1
    assert (
        admin(central, capsys, "settle", "sign-off", "--month", month, "--cinema", "CIN-A")[0] == 1
    )
    assert admin(central, capsys, "settle", "sign-off", "--month", "2026-13")[0] == 2

    redeem_and_sync(kiosk, tokens[2])  # a counter that was offline uploads after the sign-off
    rc, out = admin(central, capsys, "review", held, "--accept", "--note", "核对无误")
    assert rc == 0  # a review decided after the sign-off
    again = cinema_report(central, month)
    assert again == signed  # nothing changes a signed month's statement
    nxt = cinema_report(central, after)
    assert nxt["signed"] is None and nxt["valid_total"] == 0
    assert [(a["kind"], a["before"], a["after"], a["delta"]) for a in nxt["adjustments"]] == [
        ("late", None, "valid", 1),
        ("changed", "review", "valid", 1),
    ]
    assert {a["origin_month"] for a in nxt["adjustments"]} == {month}
    assert nxt["adjustments_total"] == 2 and nxt["payable_total"] == 2
    rc, out = admin(central, capsys, "report", "--month", after, "--format", "csv")
    assert sum(1 for x in out.splitlines() if x.startswith("adjustment,CIN-A")) == 2

    # the page agrees with the report, for the signed month and the next one
    make_user(central, "boss", "admin")
    s = logged_in(central.url, "boss")
    page = s.get(f"{central.url}/console/settlement/CIN-A?month={month}", timeout=10).text
    assert 'id="signed"' in page and signed["signed"]["by"] in page  # who signed, and when
    page = s.get(f"{central.url}/console/settlement/CIN-A?month={after}", timeout=10).text
    assert 'id="payable-total">2<' in page and 'id="lines-adjustments"' in page
    table = s.get(f"{central.url}/console/settlement?month={after}", timeout=10).text
    assert 'data-cinema="CIN-A"' in table
    rc, out = admin(central, capsys, "settle", "list", "--json")
    assert [r["cinema"] for r in json.loads(out)] == ["CIN-A"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sign_off_and_review_from_the_console(central: Central) -> None:
    month = this_month()
    make_user(central, "op", "operator")
    make_user(central, "aud", "auditor")
    tokens = central.issue(2)
    redeem_row(central, tokens[0], "CIN-A")
    held = held_line(central, tokens[1])
    base = f"{central.url}/console"
    aud = logged_in(central.url, "aud")
    page = aud.get(f"{base}/settlement/CIN-A?month={month}", timeout=10).text
    assert 'name="decision"' not in page  # an auditor reads, decides nothing
    r = aud.post(
        f"{base}/settlement/CIN-A/review",
        data={"record": held, "decision": "pay", "note": "x", "csrf": hidden(page)},
        timeout=10,
    )
    assert r.status_code == 403

    op = logged_in(central.url, "op")
    page = op.get(f"{base}/settlement/CIN-A?month={month}", timeout=10).text
    assert 'id="held-total">1<' in page and "wrong_format" in page
    form = {"record": held, "decision": "pay", "note": "票根核对无误", "month": month}
    assert op.post(f"{base}/settlement/CIN-A/review", data=form, timeout=10).status_code == 403
    r = op.post(f"{base}/settlement/CIN-A/review", data=form | {"csrf": hidden(page)}, timeout=10)
    assert r.status_code == 200 and "已记录复核决定" in r.text
    assert cinema_report(central, month)["valid_total"] == 2
    r = op.post(f"{base}/settlement/CIN-A/review", data=form | {"csrf": hidden(page)}, timeout=10)
    assert r.status_code == 400 and "not under review" in r.text  # decided already

    r = op.post(
        f"{base}/settlement/sign-off",
        data={"month": month, "cinema": "", "csrf": hidden(page)},
        timeout=10,
    )
    assert r.status_code == 200 and "本月已签核" in r.text
    with central.session() as s:
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        signed_by = reports.monthly(s, month)["cinemas"]
    assert "review.accept" in actions and "settlement.sign_off" in actions
    assert {c["cinema"] for c in signed_by} == {"CIN-A", "CIN-B"}
    assert all(c["signed"]["by"] == "op" for c in signed_by)
    page = op.get(f"{base}/settlement/CIN-A?month={month}", timeout=10).text
    assert 'id="signed"' in page and "op" in page and 'value="refuse"' not in page


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_cinema_account_sees_only_its_own_statement(central: Central) -> None:
    month = this_month()
    make_user(central, "cina", "cinema", "CIN-A")
    [tok] = central.issue(1)
    redeem_row(central, tok, "CIN-A")
    s = logged_in(central.url, "cina")
    base = f"{central.url}/console/settlement"
    for kind in ("pdf", "csv", "xlsx"):
        assert s.get(f"{base}/CIN-B/{kind}?month={month}", timeout=10).status_code == 403
    own = s.get(f"{base}/CIN-A/pdf?month={month}", timeout=30)
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    assert s.get(f"{base}/CIN-B?month={month}", timeout=10).status_code == 403
    r = s.post(f"{base}/sign-off", data={"month": month, "csrf": "x"}, timeout=10)
    assert r.status_code == 403


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_alert_evidence_is_marked_and_counted(central: Central) -> None:
    month = this_month()
    make_user(central, "boss", "admin")
    tokens = central.issue(2)
    for tok in tokens:
        redeem_row(central, tok, "CIN-B")
    with central.session() as s:
        first = str(s.scalars(select(Redemption.uuid).order_by(Redemption.uuid)).first())
    alert_id = alert_on(central, first, "burst", "CIN-B")
    s = logged_in(central.url, "boss")
    table = s.get(f"{central.url}/console/settlement?month={month}", timeout=10).text
    row = table.split('data-cinema="CIN-B"')[1].split("</tr>")[0]
    assert '<span class="flag">1</span>' in row
    page = s.get(f"{central.url}/console/settlement/CIN-B?month={month}", timeout=10).text
    line = page.split(f'data-record="{first}"')[1].split("</tr>")[0]
    assert f'href="/console/alerts/{alert_id}"' in line and "burst" in line


def test_migration_0009_upgrades_from_the_first_schema(tmp_path: Path) -> None:
    """From the first released schema (0001) to head: the sign-off tables and indexes."""
    from alembic import command
    from sqlalchemy import inspect

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0001")
    engine.dispose()
    engine = migrate(url)
    insp = inspect(engine)
    assert {"month_signoff", "settlement_adjustment"} <= set(insp.get_table_names())
    names = {ix["name"] for ix in insp.get_indexes("redemption")}
    assert {"ix_redemption_chain_gap_device", "ix_redemption_chain_fork_device"} <= names
    with engine.begin() as conn:
        assert conn.execute(select(SettlementAdjustment.id)).all() == []
    engine.dispose()
