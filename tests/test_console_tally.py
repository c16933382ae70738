"""The console's running counts (sync/office/tally.py) equal a GROUP BY over the lines.

After a random mix of what moves a line's status — counter uploads (some
sent twice), a second counter claiming the same voucher an hour earlier
(review), voids, the union's review decisions, online confirms and cancels —
the three tally tables hold exactly what counting ``redemption`` gives; and
the migration fills them the same way from lines stored before it.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from alembic import command
from rawdevice import RawDevice, stored
from sqlalchemy import select, text
from syncsupport import Central
from test_online_api import add_partner, short

from sync.admin import main as admin_main
from sync.office import tally
from sync.office.cinemas import business_day, set_cinema
from sync.office.errors import OfficeError
from sync.office.review import review
from sync.server.db import alembic_config, make_engine, migrate, session_scope
from sync.server.models import Redemption, Voucher, now_ms

pytestmark = pytest.mark.timeout(300)
HOUR = 3600 * 1000


def counted(
    s: Any,
) -> tuple[Counter[tuple[str, ...]], Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """(lines, voucher uses, campaign vouchers) as the three tables should hold them."""
    campaign = {c: camp or "" for c, camp in s.execute(select(Voucher.cti, Voucher.campaign))}
    lines: Counter[tuple[str, ...]] = Counter()
    uses: Counter[tuple[str, str]] = Counter()
    for r in s.scalars(select(Redemption)):
        bd = business_day(s, r.cinema)
        day = bd.day_of(r.at).isoformat()
        lines[(r.cinema, day, r.format, r.kind, r.status, tally.basis_of(bd))] += 1
        if r.kind == "redeem" and r.status == "valid":
            uses[(r.voucher, r.format)] += 1
            uses[(r.voucher, tally.ANY)] += 1
    camps: Counter[tuple[str, str]] = Counter()
    for cti, fmt in uses:
        camps[(campaign.get(cti, ""), fmt)] += 1
    return lines, uses, camps


def kept(
    s: Any,
) -> tuple[Counter[tuple[str, ...]], Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """The three tables as stored (rows counted down to 0 are no rows)."""
    lines: Counter[tuple[str, ...]] = Counter()
    for t in s.scalars(select(tally.RedemptionTally)):
        if t.n:
            lines[(t.cinema, t.day, t.format, t.kind, t.status, t.basis)] = t.n
    uses = Counter({(u.cti, u.format): u.n for u in s.scalars(select(tally.VoucherUse)) if u.n})
    camps = Counter(
        {(c.campaign, c.format): c.vouchers for c in s.scalars(select(tally.CampaignTally))}
    )
    return lines, uses, +camps


def assert_in_step(central: Central) -> None:
    with central.session() as s:
        assert kept(s) == counted(s)


def test_the_tally_follows_every_status_change(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(12)
    a, b = RawDevice(central, "CIN-A"), RawDevice(central, "CIN-B")
    b.enrolled_before(2 * HOUR)
    partner = add_partner(central, capsys, "CIN-A", "CIN-B")
    tokens = []
    for camp, admissions in (("SPRING", 1), ("SPRING", 2), (None, 1), ("AUTUMN", 1)):
        tokens += central.issue(
            4, campaign=camp, admissions=admissions, now=(now_ms() - 3 * HOUR) // 1000
        )
    sent: list[tuple[RawDevice, dict[str, Any]]] = []
    online: list[str] = []
    moves: Counter[str] = Counter()
    for step in range(40):
        token = rng.choice(tokens)
        move = rng.choice(("redeem", "redeem", "rival", "again", "void", "decide", "online"))
        fmt = rng.choice(("2D", "3D"))
        if move == "redeem":
            dev = rng.choice((a, b))
            rec = dev.record(token, fmt=fmt)
            dev.upload([rec])
            sent.append((dev, rec))
        elif move == "rival":  # claimed an hour earlier at the other cinema: review
            rec = b.record(token, at=now_ms() - HOUR, fmt=fmt)
            b.upload([rec])
            sent.append((b, rec))
        elif move == "again" and sent:
            dev, rec = rng.choice(sent)
            dev.upload([rec])  # the same record twice: stored once
        elif move == "void" and sent:
            dev, rec = rng.choice(sent)
            if rec["kind"] == "redeem":
                void = dev.record(rec["token"], kind="void", voids=rec["uuid"])
                dev.upload([void])
                sent.append((dev, void))
        elif move == "decide":
            held = [r for r in stored(central).values() if r.status == "review" and not r.decision]
            if held:
                with central.session() as s:
                    try:
                        review(
                            s,
                            rng.choice(held).uuid,
                            accept=rng.random() < 0.5,
                            note="查验",
                            actor="t",
                        )
                        s.commit()
                        moves["decided"] += 1
                    except OfficeError as exc:  # paid to another line meanwhile: refused
                        assert exc.reason == "voucher_used"
        elif move == "online":
            if online and rng.random() < 0.4:
                partner.cancel(online.pop(), "退票")
                moves["cancelled"] += 1
            else:
                try:
                    h = partner.hold(short(token), "CIN-A", fmt, f"order-{step}")
                    online.append(partner.confirm(h["hold_id"])["record_id"])
                    moves["confirmed"] += 1
                except Exception as exc:  # used up or held: refused, nothing written
                    assert "PartnerApiError" in type(exc).__name__
        assert_in_step(central)
    with central.session() as s:
        statuses = {r.status for r in s.scalars(select(Redemption))}
        before = kept(s)
        tally.rebuild(s)
        assert kept(s) == before  # recounting finds the same
    assert {"valid", "duplicate", "void", "review", "rejected"} <= statuses
    assert {"decided", "confirmed", "cancelled"} <= set(moves)


def test_a_new_business_day_setting_is_counted_from_the_lines_until_recounted(
    central: Central,
) -> None:
    from sync.console.queries_settlement import settlement_table

    a = RawDevice(central, "CIN-A")
    [token] = central.issue(1)
    a.upload([a.record(token)])
    with central.session() as s:
        month = business_day(s, "CIN-A").month_of(now_ms())
        assert settlement_table(s, month)[0]["valid_total"] == 1
        set_cinema(s, "CIN-A", timezone="Asia/Tokyo", day_starts="00:00")
        s.flush()
        _lines, _uses, _c = counted(s)
        stale = [t for t in s.scalars(select(tally.RedemptionTally)) if t.n]
        assert stale and tally.stale([t.basis for t in stale], business_day(s, "CIN-A"))
        [row] = [r for r in settlement_table(s, business_day(s, "CIN-A").month_of(now_ms()))]
        assert row["valid_total"] == 1  # from the lines, not the stale counts
        tally.rebuild_cinema(s, "CIN-A")
        assert kept(s) == counted(s)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_migration_counts_the_lines_stored_before_it(db_url: str) -> None:
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0010_month_signoff")
    day = 1_764_547_200_000  # 2025-12-01 00:00 UTC: 08:00 in Shanghai, after the 06:00 start
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cinema (code, name, created_at, address, phone, timezone, day_starts) "
                "VALUES ('C', 'c', 0, '', '', 'Asia/Shanghai', '06:00')"
            )
        )
        lines = [
            ("u1", "v1", "redeem", "valid", "2D", day),
            ("u2", "v1", "redeem", "duplicate", "2D", day + 1),
            ("u3", "v2", "redeem", "valid", "3D", day - 3 * HOUR),  # 05:00: the day before
            ("u4", "v2", "void", "void", "3D", day),
            ("u5", "v9", "redeem", "valid", "2D", day),  # a voucher not issued here
        ]
        for u, v, kind, status, fmt, at in lines:
            conn.execute(
                text(
                    "INSERT INTO redemption (uuid, v, device, seq, kind, voucher, token, cinema, "
                    "format, staff, at, voids, prev, hash, sig, status, received_at, chain_gap, "
                    "chain_fork, flags) VALUES (:u, 1, 'd', 1, :kind, :v, 'CP1:x', 'C', :fmt, "
                    "'', :at, '', '', '', '', :status, 0, false, false, '[]')"
                ),
                {"u": u, "v": v, "kind": kind, "status": status, "fmt": fmt, "at": at},
            )
        for cti, camp in (("v1", "SPRING"), ("v2", None)):
            conn.execute(
                text(
                    "INSERT INTO voucher (cti, short_code, issuer_code, kid, formats, admissions, "
                    "campaign, iat, nbf, exp, token, batch, issued_at, status) VALUES (:c, :c, "
                    "'I', 'k', '[]', 1, :camp, 0, 0, 0, 't', 'b', 0, 'active')"
                ),
                {"c": cti, "camp": camp},
            )
    migrate(engine)
    with session_scope(engine) as s:
        assert kept(s) == counted(s)
        lines_, _uses, camps = kept(s)
        assert lines_[("C", "2025-11-30", "3D", "redeem", "valid", "Asia/Shanghai 06:00")] == 1
        assert camps == Counter(
            {("SPRING", "2D"): 1, ("SPRING", "*"): 1, ("", "3D"): 1, ("", "*"): 2, ("", "2D"): 1}
        )
    engine.dispose()


def test_cinema_set_with_a_new_business_day_recounts_that_cinema(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cinepass-admin cinema set --timezone/--day-starts`` recounts the cinema's lines,
    so the console keeps reading running counts for it (no stale basis left)."""
    a = RawDevice(central, "CIN-A")
    [token] = central.issue(1)
    a.upload([a.record(token)])
    argv = ["--db", central.url_db, "cinema", "set", "CIN-A"]
    assert admin_main([*argv, "--timezone", "Asia/Tokyo", "--day-starts", "00:00"]) == 0
    capsys.readouterr()
    with central.session() as s:
        bases = [t.basis for t in s.scalars(select(tally.RedemptionTally)) if t.n]
        assert bases and not tally.stale(bases, business_day(s, "CIN-A"))
        assert kept(s) == counted(s)
    assert admin_main([*argv, "--phone", "021-1234"]) == 0  # no business-day change: as was
    with central.session() as s:
        assert kept(s) == counted(s)
