"""Issue 10: the server re-checks every record; no counter's word alone moves money.

Each test enrols real devices through the API (:class:`rawdevice.RawDevice`)
and sends records signed with that device's own key, the way an attacker
holding one counter PC (its key and token) or a counter with a wrong clock
would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rawdevice import RawDevice, stored
from sqlalchemy import select
from syncsupport import Central

from sync.admin import main as admin_main
from sync.server.models import FeedEvent, now_ms
from sync.voucher import decode_voucher

pytestmark = pytest.mark.timeout(180)
HOUR = 3600 * 1000


def one(res: dict[str, dict[str, Any]]) -> dict[str, Any]:
    [r] = res.values()
    return r


def status_events(central: Central, device: str) -> list[dict[str, Any]]:
    with central.session() as s:
        rows = s.scalars(
            select(FeedEvent).where(FeedEvent.feed == "status", FeedEvent.device == device)
        ).all()
        return [dict(e.data) for e in rows]


def test_each_false_claim_is_held_for_review(central: Central, tmp_path: Path) -> None:
    dev = RawDevice.of_kiosk(central, tmp_path / "stolen", "CIN-A")  # its key and token
    [scoped_b] = central.issue(1, cinemas=("CIN-B",))
    [only_2d] = central.issue(1, formats=("2D",))
    tokens = central.issue(5)
    cases = [
        (dev.record(scoped_b), ["out_of_scope"]),
        (dev.record(tokens[0], cinema="CIN-B"), ["cinema_mismatch"]),
        (dev.record(tokens[1], cinema="NO-SUCH"), ["cinema_mismatch"]),
        (dev.record(only_2d, fmt="3D"), ["wrong_format"]),
        (dev.record(tokens[2], at=now_ms() + 24 * HOUR), ["time_in_future"]),
    ]
    for rec, flags in cases:
        r = one(dev.upload([rec]))
        assert (r["status"], r["flags"]) == ("review", flags), (rec["cinema"], r)
    # 1970: before the voucher and before this counter was enrolled, and behind its own
    # previous record (a day in the future, above)
    r = one(dev.upload([dev.record(tokens[3], at=1000)]))
    assert r["status"] == "review"
    assert r["flags"] == ["outside_validity", "time_before_enrolment", "time_out_of_order"]
    rows = stored(central)
    assert all(x.status == "review" for x in rows.values())
    # none of them is paid, and none took the voucher from a clean record
    other = RawDevice(central, "CIN-B")
    assert one(other.upload([other.record(scoped_b)]))["status"] == "valid"


def test_a_voucher_frozen_before_the_record_is_flagged(central: Central) -> None:
    dev = RawDevice(central)
    [token] = central.issue(1)
    short = decode_voucher(token).voucher.short_code
    assert admin_main(["--db", central.url_db, "freeze", short, "--reason", "stolen"]) == 0
    r = one(dev.upload([dev.record(token)]))
    assert (r["status"], r["flags"]) == ("review", ["after_freeze"])
    [early] = central.issue(1)  # redeemed before its freeze: clean
    rec = dev.record(early)
    assert admin_main(["--db", central.url_db, "freeze", early, "--reason", "lost"]) == 0
    assert one(dev.upload([rec]))["status"] == "valid"


def test_backdated_record_disputes_instead_of_taking_over(central: Central, tmp_path: Path) -> None:
    honest = RawDevice(central, "CIN-A")
    attacker = RawDevice.of_kiosk(central, tmp_path / "stolen", "CIN-B")  # one counter PC
    attacker.enrolled_before(2 * HOUR)
    [token] = central.issue(1, now=(now_ms() - 3 * HOUR) // 1000)
    first = honest.record(token)
    assert one(honest.upload([first]))["status"] == "valid"
    forged = attacker.record(token, at=now_ms() - HOUR)  # backdated one hour
    r = one(attacker.upload([forged]))
    assert (r["status"], r["flags"]) == ("review", ["disputed"])
    rows = stored(central)
    assert rows[first["uuid"]].status == "review" and rows[first["uuid"]].flags == ["disputed"]
    # the honest counter is told, with whom it is disputed
    [ev] = [e for e in status_events(central, honest.id) if e["uuid"] == first["uuid"]]
    assert ev["status"] == "review" and ev["flags"] == ["disputed"]
    assert ev["conflict_with"] == forged["uuid"]
    # a third, later claim is a plain duplicate
    third = RawDevice(central, "CIN-A")
    assert one(third.upload([third.record(token)]))["status"] == "duplicate"


def test_a_claim_earlier_by_less_than_the_clock_tolerance_is_a_duplicate(
    central: Central,
) -> None:
    """A counter whose clock is 4 minutes slow, offset not measured yet: no dispute."""
    a, slow = RawDevice(central, "CIN-A"), RawDevice(central, "CIN-B")
    slow.enrolled_before(HOUR)
    [token] = central.issue(1, now=(now_ms() - HOUR) // 1000)
    first = a.record(token)
    assert one(a.upload([first]))["status"] == "valid"
    late = slow.record(token, at=now_ms() - 4 * 60 * 1000)
    assert late["at"] < first["at"]
    r = one(slow.upload([late]))
    assert r["status"] == "duplicate" and stored(central)[first["uuid"]].status == "valid"


def test_later_claim_is_a_duplicate_and_the_first_stays_paid(central: Central) -> None:
    a, b = RawDevice(central, "CIN-A"), RawDevice(central, "CIN-B")
    [token] = central.issue(1)
    first = a.record(token)
    assert one(a.upload([first]))["status"] == "valid"
    r = one(b.upload([b.record(token)]))
    assert r["status"] == "duplicate" and r["duplicate_of"] == first["uuid"]
    assert r["first"]["cinema"] == "CIN-A"
    assert stored(central)[first["uuid"]].status == "valid"


def test_a_slow_clock_with_a_measured_offset_is_corrected(central: Central) -> None:
    """4 minutes slow: the raw time is earlier than the first use, the corrected one is not."""
    a, slow = RawDevice(central, "CIN-A"), RawDevice(central, "CIN-B")
    [token, other] = central.issue(2)
    first = a.record(token)
    assert one(a.upload([first]))["status"] == "valid"
    late = slow.record(token, at=now_ms() - 4 * 60 * 1000)
    assert late["at"] < first["at"]
    r = one(slow.upload([late], health={"clock_offset_ms": 4 * 60 * 1000}))
    assert r["status"] == "duplicate" and stored(central)[first["uuid"]].status == "valid"
    # beyond the tolerance, every line of the counter is held: its clock is wrong
    wrong = RawDevice(central, "CIN-B")
    skewed = wrong.record(other, at=now_ms() - 2 * HOUR)
    r = one(wrong.upload([skewed], health={"clock_offset_ms": 2 * HOUR}))
    assert r["flags"] == ["clock_skew"] and r["status"] == "review"


def test_late_record_with_earlier_time_is_disputed(central: Central) -> None:
    """Was "takes over" before issue 10: an acknowledged valid line is never displaced."""
    a, b = RawDevice(central, "CIN-A"), RawDevice(central, "CIN-B")
    a.enrolled_before(HOUR)
    [token] = central.issue(1, now=(now_ms() - HOUR) // 1000)
    early = a.record(token, at=now_ms() - 30 * 60 * 1000)  # a redeems first, stays offline
    late = b.record(token)
    assert one(b.upload([late]))["status"] == "valid"  # b is first to arrive: valid
    r = one(a.upload([early]))
    assert (r["status"], r["flags"]) == ("review", ["disputed"])
    rows = stored(central)
    assert rows[late["uuid"]].status == "review" and rows[late["uuid"]].flags == ["disputed"]
    assert [e["status"] for e in status_events(central, b.id)] == ["review"]
    # the voucher stays used for every counter while the union decides
    with central.session() as s:
        actions = s.scalars(
            select(FeedEvent.action).where(FeedEvent.feed == "revocation").order_by(FeedEvent.seq)
        ).all()
    assert actions == ["redeemed"]


def test_one_tampered_row_does_not_block_the_queue(central: Central, tmp_path: Path) -> None:
    dev = RawDevice.of_kiosk(central, tmp_path / "kiosk")  # the kiosk's own key and token
    tokens = central.issue(4)
    recs = [dev.record(t) for t in tokens]
    recs[1]["staff"] = "mallory"  # altered after signing
    res = dev.upload(recs)
    assert [res[r["uuid"]]["status"] for r in recs] == ["valid", "rejected", "review", "valid"]
    assert res[recs[1]["uuid"]]["problem"] == "bad_device_signature"
    assert res[recs[2]["uuid"]]["flags"] == ["chain_gap"]
    assert dev.upload(recs) == res  # a resend answers the same and stores nothing new
    assert set(stored(central)) == {recs[0]["uuid"], recs[2]["uuid"], recs[3]["uuid"]}


def test_chain_fork_is_flagged_and_held(central: Central) -> None:
    dev = RawDevice(central)
    tokens = central.issue(3)
    r1 = dev.record(tokens[0])
    dev.upload([r1, dev.record(tokens[1])])
    clone = dev.record(tokens[2], seq=2, prev=bytes.fromhex(r1["prev"]))  # a cloned folder
    r = one(dev.upload([clone]))
    assert (r["status"], r["flags"]) == ("review", ["chain_fork"])


def test_quarantine_is_bounded(central: Central, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.server import ingest_quarantine
    from sync.server.models import Quarantine

    monkeypatch.setattr(ingest_quarantine, "MAX_PER_DEVICE", 3)
    dev = RawDevice(central)
    junk = [{"uuid": f"junk-{i}", "staff": "x" * 9000} for i in range(5)]
    res = dev.upload(junk)
    assert {r["status"] for r in res.values()} == {"rejected"}
    with central.session() as s:
        rows = s.scalars(select(Quarantine)).all()
        assert len(rows) == 3 and all(r.record["truncated"] for r in rows)


def test_a_clock_that_was_wrong_and_was_corrected_stays_in_order(central: Central) -> None:
    dev = RawDevice(central)
    tokens = central.issue(4)
    day = 24 * HOUR
    # 60 days ahead, measured: held for its clock, but not in the future on the server's
    ahead = dev.record(tokens[0], at=now_ms() + 60 * day)
    r = one(dev.upload([ahead], health={"clock_offset_ms": -60 * day}))
    assert r["flags"] == ["clock_skew"]
    # corrected, and a sync agrees: clean again, not "out of order"
    r = one(dev.upload([dev.record(tokens[1], at=now_ms())], health={"clock_offset_ms": 2}))
    assert (r["status"], r["flags"]) == ("valid", [])
    # a record in the future (unmeasured) does not become the time the next must follow
    r = one(dev.upload([dev.record(tokens[2], at=now_ms() + 30 * day)]))
    assert r["flags"] == ["time_in_future"]
    r = one(dev.upload([dev.record(tokens[3], at=now_ms())]))
    assert (r["status"], r["flags"]) == ("valid", [])
