"""Issue 14, the counters' side: a kiosk that synced refuses a held and an online-redeemed voucher.

A real server on loopback, real enrolled kiosks (their own keys and feeds),
the partner through the reference client; the kiosk through its CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from syncsupport import Central, enrolled_kiosk
from test_online_api import add_partner, short

from kiosk.cli import main as kiosk_main
from sync.server.models import Redemption

pytestmark = pytest.mark.timeout(180)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    rc = kiosk_main([*argv, "--json"])
    return rc, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_a_synced_counter_refuses_a_held_and_an_online_redeemed_voucher(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = central.issue(2)
    home = ["--home", str(enrolled_kiosk(central, tmp_path / "a"))]
    p = add_partner(central, capsys, "CIN-A")
    h = p.hold(short(tokens[0]), "CIN-A", "2D", "order-1")
    assert cli(capsys, *home, "sync")[0] == 0
    rc, v = cli(capsys, *home, "redeem", tokens[0])
    assert rc == 1 and v["reason"] == "held"
    assert (v["message"], v["message_en"]) == ("此券已被线上预订", "Reserved online")
    assert v["detail"]["by"] == f"online:{p.partner_id}"
    # a counter enrolled during the hold learns it from its first snapshot
    late = ["--home", str(enrolled_kiosk(central, tmp_path / "b"))]
    assert cli(capsys, *late, "redeem", tokens[0])[1]["reason"] == "held"
    # confirmed online: every counter refuses it as used elsewhere
    done = p.confirm(h["hold_id"])
    assert cli(capsys, *home, "sync")[0] == 0
    rc, v = cli(capsys, *home, "redeem", tokens[0])
    assert rc == 1 and v["reason"] == "already_redeemed"
    assert v["detail"]["where"] == "elsewhere" and v["detail"]["device"] == f"online:{p.partner_id}"
    # refunded before the show: usable again at the counter, after its next sync
    p.cancel(done["record_id"], "refund")
    assert cli(capsys, *home, "sync")[0] == 0
    assert cli(capsys, *home, "redeem", tokens[0])[1]["reason"] == "accepted"
    # a released hold frees the voucher at the counter too
    h2 = p.hold(short(tokens[1]), "CIN-A", "2D", "order-2")
    assert cli(capsys, *home, "sync")[0] == 0
    assert cli(capsys, *home, "redeem", tokens[1])[1]["reason"] == "held"
    p.release(h2["hold_id"])
    assert cli(capsys, *home, "sync")[0] == 0
    assert cli(capsys, *home, "redeem", tokens[1])[1]["reason"] == "accepted"
    assert cli(capsys, *home, "sync")[0] == 0  # the counter's records go up as usual
    with central.session() as s:
        lines = s.query(Redemption).filter(Redemption.source.is_(None)).all()
        assert sorted(r.status for r in lines) == ["valid", "valid"]


def test_a_lapsed_hold_stops_refusing_even_unheard(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The feed's ``held`` carries its end: a counter that never hears ``released`` admits after."""
    from waitfor import wait_for

    token = central.issue(1)[0]
    home = ["--home", str(enrolled_kiosk(central, tmp_path / "a"))]
    p = add_partner(central, capsys)
    p.hold(short(token), "CIN-A", "2D", "order-1", hold_seconds=2)
    assert cli(capsys, *home, "sync")[0] == 0
    assert cli(capsys, *home, "verify", token)[1]["reason"] == "held"
    wait_for(lambda: cli(capsys, *home, "verify", token)[1]["reason"] == "accepted", 15, 0.2)


def test_a_paged_snapshot_carries_the_holds(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """A counter that loads the revocation list in pages (issue 16) learns the live holds too."""
    from kiosk import snapshots
    from kiosk.engine.service import KioskService
    from sync.server import feeds
    from sync.voucher.codec import decode_voucher

    tokens = central.issue(3)
    p = add_partner(central, capsys, "CIN-A")
    p.hold(short(tokens[1]), "CIN-A", "2D", "order-1")
    cti = decode_voucher(tokens[1]).voucher.cti.hex()
    with central.session() as s:
        rows, after = [], None
        while True:
            page, _, after = feeds.snapshot_page(s, "revocation", after, 1)
            rows += page
            if after is None:
                break
        assert [r[:3] for r in rows] == [("held", cti, "held")]
        packed = feeds.packed("revocation", rows)
        assert packed["action"] == "f" and packed["strings"][packed["reason"][0]] == "held"
    home = enrolled_kiosk(central, tmp_path / "a")
    with KioskService.open(home) as svc:  # forget the enrolment's snapshot: page it in again
        with svc.store.write() as conn:
            conn.exec_driver_sql("DELETE FROM cursors WHERE feed IN ('revocations', 'roster')")
            conn.exec_driver_sql("DELETE FROM revocations")
    monkeypatch.setattr(snapshots, "SNAPSHOT_PAGE", 1)
    assert cli(capsys, "--home", str(home), "sync")[0] == 0
    assert cli(capsys, "--home", str(home), "redeem", tokens[1])[1]["reason"] == "held"
    assert cli(capsys, "--home", str(home), "redeem", tokens[0])[1]["reason"] == "accepted"


def test_a_frozen_held_voucher_stays_refused_after_its_hold_lapses(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held, then frozen by the office: a counter whose first snapshot has both refuses it as
    frozen, also once the hold has lapsed (the held entry alone would lapse with it)."""
    from waitfor import wait_for

    from sync.office.vouchers import freeze
    from sync.server.models import Voucher
    from sync.voucher.codec import decode_voucher

    token = central.issue(1)[0]
    p = add_partner(central, capsys)
    p.hold(short(token), "CIN-A", "2D", "order-1", hold_seconds=2)
    cti = decode_voucher(token).voucher.cti.hex()
    with central.session() as s:
        freeze(s, s.get_one(Voucher, cti), "lost")
    home = ["--home", str(enrolled_kiosk(central, tmp_path / "a"))]  # its first snapshot
    rc, v = cli(capsys, *home, "verify", token)
    assert rc == 1 and v["reason"] == "revoked" and v["detail"]["why"] == "lost"
    wait_for(lambda: _lapsed(central, cti), 15, 0.2)  # the hold is past its end
    assert cli(capsys, *home, "sync")[0] == 0
    rc, v = cli(capsys, *home, "verify", token)
    assert rc == 1 and v["reason"] == "revoked" and v["detail"]["why"] == "lost"


def _lapsed(central: Central, cti: str) -> bool:
    from sync.server.models import OnlineHold, now_ms

    with central.session() as s:
        return all(h.expires_at <= now_ms() for h in s.query(OnlineHold).filter_by(voucher=cti))
