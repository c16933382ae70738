"""Issue 10's property: honest counters never get two paid lines nor a silently flipped one.

Two honest kiosks (real devices enrolled through the API, records signed
with their own keys) with clocks off by up to 2 minutes, each offline for
random stretches, redeem random vouchers (an honest kiosk refuses a voucher
it knows is used) and sync in random orders. Whatever happens: no voucher
ends with two ``valid`` lines, no line once acknowledged ``valid`` changes
without its counter being told on the status feed, and the only flag an
honest line can carry is ``disputed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from rawdevice import API, RawDevice
from sqlalchemy import select
from syncsupport import Central

from sync.server.models import FeedEvent, Redemption, now_ms
from sync.voucher import decode_voucher

pytestmark = pytest.mark.timeout(600)
MINUTE = 60 * 1000


@dataclass
class Kiosk:
    """An honest counter: a device, its clock error, what it knows and what it queued."""

    dev: RawDevice
    offset: int  # its clock minus the server's, ms
    reports: bool  # has it measured its offset (health clock_offset_ms)?
    known_used: set[str] = field(default_factory=set)
    pending: list[dict[str, Any]] = field(default_factory=list)
    cursor: int = 0

    def redeem(self, token: str, server_time: int) -> None:
        cti = decode_voucher(token).voucher.cti.hex()
        if cti in self.known_used:
            return  # an honest kiosk refuses what it knows is used
        self.known_used.add(cti)
        self.pending.append(self.dev.record(token, at=server_time + self.offset))

    def sync(self, acknowledged: dict[str, str]) -> None:
        health = {"clock_offset_ms": -self.offset} if self.reports else None
        if self.pending:
            res = self.dev.upload(self.pending, health=health)
            for uuid, r in res.items():
                if r["status"] == "valid":
                    acknowledged[uuid] = self.dev.id
            self.pending = []
        r = requests.get(
            self.dev.central.url + API + "/feeds/revocation",
            params={"since": self.cursor},
            headers={"Authorization": f"Bearer {self.dev.token}"},
            timeout=10,
        )
        page = r.json()
        for e in page["entries"]:
            if e["action"] == "redeemed":
                self.known_used.add(e["cti"])
        self.cursor = page["cursor"]


offsets = st.integers(-2 * MINUTE, 2 * MINUTE)
steps = st.lists(
    st.tuples(
        st.sampled_from((0, 1)),  # which kiosk
        st.one_of(st.none(), st.integers(0, 1)),  # sync, or redeem voucher i
        st.integers(0, 15 * MINUTE),  # time passing before the step
    ),
    min_size=3,
    max_size=10,
)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_two_honest_kiosks_never_two_paid_lines_nor_a_silent_flip(central: Central) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(offsets, offsets, st.booleans(), st.booleans(), steps)
    # the dispute: 0 redeems offline, 1 redeems the same voucher 10 minutes later and syncs first
    @example(2 * MINUTE, -2 * MINUTE, False, True, [(0, 0, 0), (1, 0, 10 * MINUTE), (1, None, 0)])
    def run(o1: int, o2: int, r1: bool, r2: bool, plan: list[tuple[int, int | None, int]]) -> None:
        tokens = central.issue(2, now=(now_ms() - 5 * 3600 * 1000) // 1000)
        kiosks = [
            Kiosk(RawDevice(central, "CIN-A"), o1, r1),
            Kiosk(RawDevice(central, "CIN-B"), o2, r2),
        ]
        for k in kiosks:
            k.dev.enrolled_before(4 * 3600 * 1000)
        t = now_ms() - 170 * MINUTE  # the simulated server clock: 10 steps end in the past
        acknowledged: dict[str, str] = {}
        for who, voucher, dt in plan:
            t += dt
            if voucher is None:
                kiosks[who].sync(acknowledged)
            else:
                kiosks[who].redeem(tokens[voucher], t)
        for k in kiosks + kiosks:  # everyone comes back online in the end
            k.sync(acknowledged)
        ctis = {decode_voucher(tok).voucher.cti.hex() for tok in tokens}
        with central.session() as s:
            rows = s.scalars(select(Redemption).where(Redemption.voucher.in_(ctis))).all()
            told = {
                (e.key, e.device, e.data["status"])
                for e in s.scalars(select(FeedEvent).where(FeedEvent.feed == "status"))
            }
        for cti in ctis:
            assert sum(1 for r in rows if r.voucher == cti and r.status == "valid") <= 1
        by_uuid = {r.uuid: r for r in rows}
        for uuid, device in acknowledged.items():
            r = by_uuid[uuid]
            if r.status != "valid":  # only a dispute may take it, and its counter is told
                assert r.status == "review" and "disputed" in r.flags, (r.status, r.flags)
                assert (uuid, device, "review") in told
        for r in rows:
            assert set(r.flags) <= {"disputed"}, r.flags
        event(f"outcome: {sorted({r.status for r in rows})}")

    run()
