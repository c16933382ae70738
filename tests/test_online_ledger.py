"""An online use is a line of the ledger like a counter's: watched by the monitor, settled alike.

Issue 13 asks that every redemption feeds the rules (an online use counts in
``member_spread`` like a box-office one); issue 12's month sign-off asks that a
change to a signed month becomes an adjustment of the next open month (a
refund of an online use included). Both through the reference client against
a real server on loopback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alerts_support import Monitor, issue_to, monitor_for
from syncsupport import Central
from test_online_api import add_partner, short

from sync.office.cinemas import business_day
from sync.office.reports import monthly
from sync.office.signoff import sign_off
from sync.server.models import Redemption

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def mon(central: Central, tmp_path: Path) -> Monitor:
    return monitor_for(central, tmp_path)


def test_online_uses_feed_the_rules(
    central: Central, mon: Monitor, capsys: pytest.CaptureFixture[str]
) -> None:
    mon.rules("[member_spread]\ncinemas = 2\n")
    partner = add_partner(central, capsys)
    t1, t2 = issue_to(central, "M-77", 2)
    for token, cinema in ((t1, "CIN-A"), (t2, "CIN-B")):
        h = partner.hold(short(token), cinema, "2D", f"order-{cinema}")
        assert partner.confirm(h["hold_id"])["status"] == "confirmed"
    [alert] = mon.wait("member_spread")
    assert alert["member"] == "M-77" and alert["detail"]["cinemas"] == ["CIN-A", "CIN-B"]


def test_a_refund_of_a_signed_month_is_an_adjustment_of_the_next(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    partner = add_partner(central, capsys, "CIN-A")
    [token] = central.issue(1)
    h = partner.hold(short(token), "CIN-A", "2D", "order-1")
    done = partner.confirm(h["hold_id"])
    with central.session() as s:
        line = s.get(Redemption, done["record_id"])
        assert line is not None
        month = business_day(s, "CIN-A").month_of(line.at)
        sign_off(s, month, "CIN-A", actor="accountant", address="127.0.0.1")
        s.commit()
        signed = monthly(s, month, "CIN-A")["cinemas"][0]
    assert signed["valid_total"] == 1 and signed["signed"]
    partner.cancel(done["record_id"], "refund before the show")
    year, mon_ = map(int, month.split("-"))
    following = f"{year + mon_ // 12:04d}-{mon_ % 12 + 1:02d}"
    with central.session() as s:
        again = monthly(s, month, "CIN-A")["cinemas"][0]
        later = monthly(s, following, "CIN-A")["cinemas"][0]
    assert again == signed  # the signed statement never changes
    [adj] = [a for a in later["adjustments"] if a["record"] == done["record_id"]]
    assert (adj["origin_month"], adj["before"], adj["after"], adj["delta"]) == (
        month,
        "valid",
        "void",
        -1,
    )
    assert later["payable_total"] == later["valid_total"] - 1
