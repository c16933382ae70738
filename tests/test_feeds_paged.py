"""Paged snapshots (docs/feeds.md): the server's pages, and a counter loading them.

Pages are made tiny, so a dozen vouchers exercise what a million do: keyset
pages across the frozen and the redeemed sections, the packed and the entries
forms agreeing with the one-answer snapshot old kiosks ask for, a connection
cut in the middle (the staged pages and the token survive, redemptions go on
against the old list), and the next sync continuing from that token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from syncsupport import Central, enrolled_kiosk

from kiosk import snapshots
from kiosk.engine.service import KioskService, init_standalone
from kiosk.http import HttpClient, SyncError
from kiosk.syncer import SyncEngine
from sync import protocol as P
from sync.office.vouchers import freeze
from sync.server import feeds
from sync.server.models import Voucher
from sync.voucher import PrivateKey, decode_voucher

pytestmark = pytest.mark.timeout(120)


def frozen_and_used(central: Central, tmp_path: Path) -> tuple[set[str], set[str]]:
    """12 vouchers: 4 frozen at the office, 5 redeemed at a counter and synced."""
    tokens = central.issue(12)
    a = enrolled_kiosk(central, tmp_path / "a", "CIN-A")
    with KioskService.open(a) as svc:
        for t in tokens[:5]:
            assert svc.redeem(t, fmt="2D", staff="clerk").accepted
    e = SyncEngine(a)
    try:
        assert e.sync_now().ok
    finally:
        e.stop()
    ctis = [decode_voucher(t).voucher.cti.hex() for t in tokens]
    with central.session() as s:
        for v in s.scalars(select(Voucher).where(Voucher.cti.in_(ctis[5:9]))):
            freeze(s, v, "lost")
    return set(ctis[5:9]), set(ctis[:5])


def all_pages(central: Central, feed: str, limit: int) -> list[tuple[list[Any], int, str | None]]:
    pages = []
    after = None
    with central.session() as s:
        for _ in range(100):
            rows, cursor, after = feeds.snapshot_page(s, feed, after, limit)
            pages.append((rows, cursor, after))
            if after is None:
                return pages
    raise AssertionError("no last page")


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 9, 50])
def test_pages_hold_the_whole_snapshot_once(central: Central, tmp_path: Path, limit: int) -> None:
    frozen, used = frozen_and_used(central, tmp_path)
    pages = all_pages(central, "revocation", limit)
    rows = [r for page, _, _ in pages for r in page]
    assert all(len(page) <= limit for page, _, _ in pages)
    assert {r[1] for r in rows if r[0] == "freeze"} == frozen
    assert {r[1] for r in rows if r[0] == "redeemed"} == used
    assert len(rows) == len(frozen) + len(used)
    assert len({c for _, c, _ in pages}) == 1  # one cursor: the head when it began
    with central.session() as s:
        whole, cursor = feeds.revocation_snapshot(s)
        assert cursor == pages[0][1]
        assert sorted(feeds.snapshot_entries("revocation", rows), key=str) == sorted(whole, key=str)
    roster = [r for page, _, _ in all_pages(central, "roster", limit) for r in page]
    assert len(roster) == 12 and len({c for c, _ in roster}) == 12


def test_a_page_token_from_elsewhere_is_refused(central: Central, tmp_path: Path) -> None:
    with central.session() as s:
        for bad in ("x", "99999999:f:", "0:z:", "0:f:NOTHEX"):
            with pytest.raises(feeds.BadToken):
                feeds.snapshot_page(s, "revocation", bad, 10)
    home = enrolled_kiosk(central, tmp_path / "k", "CIN-A")
    with KioskService.open(home) as svc:
        token = svc.paths.token.read_text(encoding="utf-8").strip()
    client = HttpClient(central.url, token=token, allow_http=True)
    with pytest.raises(SyncError) as e:
        client.get(f"{P.API_PREFIX}/feeds/revocation/snapshot", {"after": "x", "limit": 5})
    assert e.value.status == 422 and "bad_page_token" in f"{e.value.reason} {e.value.message}"
    page = client.get(f"{P.API_PREFIX}/feeds/keys/snapshot", {"limit": 1})
    assert page["more"] is False and page["entries"]  # keys: small, never paged
    client.close()


class Recording(HttpClient):
    """The kiosk's real client, noting every snapshot request and cutting the line
    after ``cut_after`` snapshot pages (then raising like a dead network)."""

    def __init__(self, *args: Any, cut_after: int | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.asked: list[dict[str, Any]] = []
        self.cut_after = cut_after

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        # the paged feeds only: the keys and the peers (issue 15) come whole
        if path.endswith("/snapshot") and "keys" not in path and "peers" not in path:
            if self.cut_after is not None and len(self.asked) >= self.cut_after:
                raise SyncError("offline", "connection reset (test)")
            self.asked.append(dict(params or {}))
        return super().get(path, params)


def test_a_counter_loads_pages_and_continues_after_a_cut(
    central: Central, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen, used = frozen_and_used(central, tmp_path)
    home = enrolled_kiosk(central, tmp_path / "b", "CIN-B")
    monkeypatch.setattr(snapshots, "SNAPSHOT_PAGE", 2)
    with KioskService.open(home) as svc:
        before = {c.hex() for c in svc.store.revocation_ids()}
        assert before == frozen  # the enrolment answer's snapshot
        token = svc.paths.token.read_text(encoding="utf-8").strip()
        with svc.store.write() as conn:  # a counter that lost its cursors: snapshot again
            conn.exec_driver_sql("DELETE FROM cursors WHERE feed IN ('revocations', 'roster')")
    cut = Recording(central.url, token=token, allow_http=True, cut_after=2)
    e = SyncEngine(home, client=cut)
    try:
        result = e.sync_now()
    finally:
        e.stop()
    assert not result.ok and result.error == "offline"
    assert [a.get("after") for a in cut.asked][0] is None
    with KioskService.open(home) as svc:
        left = svc.store.snapshot_token("revocation")
        assert left and left.split(":")[0].isdigit()  # page 2's "next", staged with page 2
        # the old list still answers while the new one is half staged
        assert {c.hex() for c in svc.store.revocation_ids()} == before
        v = svc.check(central.issue(1)[0], fmt="2D")
        assert v.accepted, v.reason
    again = Recording(central.url, token=token, allow_http=True)
    e = SyncEngine(home, client=again)
    try:
        result = e.sync_now()
    finally:
        e.stop()
    assert result.ok, result.error_message
    assert again.asked[0]["after"] == left  # continued, not started over
    assert all(a["format"] == "packed" and a["limit"] == 2 for a in again.asked)
    with KioskService.open(home) as svc:
        assert svc.store.snapshot_token("revocation") is None
        got = {c.hex() for c in svc.store.revocation_ids()}
        assert got == frozen
        seen = {c.hex() for c in svc.store.remote_redemption_ids()}
        assert seen == used
        assert svc.store.read("SELECT count(*) FROM roster")[0][0] == 13
        assert svc.store.get_cursor("revocations") is not None


def test_an_old_server_answering_in_one_page_still_works(central: Central, tmp_path: Path) -> None:
    """A server before paging ignores limit/after/format: one page of entries, no next."""
    frozen, used = frozen_and_used(central, tmp_path)
    home = enrolled_kiosk(central, tmp_path / "b", "CIN-B")

    class OldServer(HttpClient):
        def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
            if path.endswith("/snapshot"):
                params = None  # what an old server makes of the new parameters
            return super().get(path, params)

    with KioskService.open(home) as svc:
        token = svc.paths.token.read_text(encoding="utf-8").strip()
        with svc.store.write() as conn:
            conn.exec_driver_sql("DELETE FROM cursors WHERE feed IN ('revocations', 'roster')")
    e = SyncEngine(home, client=OldServer(central.url, token=token, allow_http=True))
    try:
        assert e.sync_now().ok
    finally:
        e.stop()
    with KioskService.open(home) as svc:
        assert {c.hex() for c in svc.store.revocation_ids()} == frozen
        seen = {c.hex() for c in svc.store.remote_redemption_ids()}
        assert seen == used


def test_packed_pages_are_checked(central: Central) -> None:
    good = {"cti": "00" * 10, "action": "f", "at": [0], "strings": ["lost"]}
    good |= {"reason": [0], "cinema": [0], "device": [0], "staff": [0]}
    assert P.PackedRevocations.model_validate(good).rows == 1
    for bad in (
        {"cti": "00" * 9},
        {"action": "x"},
        {"at": [0, 1]},
        {"reason": [1]},
        {"strings": ["lo\x00st"]},
        {"strings": ["x" * 40]},
        {"cti": "0G" * 10},
    ):
        with pytest.raises(ValueError):
            P.PackedRevocations.model_validate(good | bad)
    with pytest.raises(ValueError):
        P.PackedRoster.model_validate({"cti": "00" * 10, "token": ["CP1:é"]})


def test_pages_with_and_without_cinemas_stage_the_same_rows(tmp_path: Path) -> None:
    """A page of plain freezes comes as short rows (docs/feeds.md); one naming a cinema,
    device or staff keeps them: both land in the store with every column right."""
    blank = [("freeze", f"{i:020x}", "lost", 5, "", "", "") for i in range(1, 4)]
    held = [("freeze", f"{i:020x}", "held", 9, "CIN-A", "online:pt_1", "bench") for i in (7, 8)]
    pages = [feeds.packed("revocation", blank), feeds.packed("revocation", blank[:1] + held)]
    short, full = (snapshots.unpack("revocation", p)["revocations"] for p in pages)
    assert {len(r) for r in short} == {3} and {len(r) for r in full} == {6}
    home = tmp_path / "k"
    init_standalone(home, cinema="CIN-A", issuer_keys=[PrivateKey.generate().public])
    with KioskService.open(home) as svc:
        svc.store.begin_snapshot("revocation")
        page = P.FeedPage(
            feed="revocation", cursor=3, more=True, snapshot=True, next="t1", entries=[]
        )
        last = P.FeedPage(feed="revocation", cursor=3, more=False, snapshot=True, entries=[])
        snapshots.stage_pages(
            svc.store,
            "revocation",
            [(page, {"revocations": short}), (last, {"revocations": full})],
        )
        got = svc.store.read(
            "SELECT hex(cti), reason, at, cinema, device, staff FROM revocations ORDER BY cti"
        )
    assert [tuple(r) for r in got] == [
        (f"{1:020X}", "lost", 5, "", "", ""),
        (f"{2:020X}", "lost", 5, "", "", ""),
        (f"{3:020X}", "lost", 5, "", "", ""),
        (f"{7:020X}", "held", 9, "CIN-A", "online:pt_1", "bench"),
        (f"{8:020X}", "held", 9, "CIN-A", "online:pt_1", "bench"),
    ]
