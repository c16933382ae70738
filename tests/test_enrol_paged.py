"""The enrolment answer in pages (docs/feeds.md): small whatever the lists, old counters unchanged.

A counter that asks ``"snapshots": "paged"`` gets the keys and the cursors
only and pulls the revocation list and roster as paged snapshots; one that
does not ask (every counter before paging) gets the whole lists as before.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from bulkrows import frozen_voucher_rows
from sqlalchemy import insert
from syncsupport import Central

from kiosk.engine.service import KioskService
from kiosk.enrollment import enroll
from sync.server.models import Voucher
from sync.voucher import PrivateKey

pytestmark = pytest.mark.timeout(300)
API = "/api/v1"


def add_frozen(central: Central, n: int) -> None:
    """``n`` frozen vouchers straight into the table (issuing 200,000 would take minutes)."""
    rows = frozen_voucher_rows(n, "TESTU", central.issuer_key.public.kid.hex())
    with central.session() as s:
        for i in range(0, n, 50_000):
            s.execute(insert(Voucher), rows[i : i + 50_000])


def post_enrol(central: Central, **extra: str) -> requests.Response:
    body = {"code": central.code("CIN-A"), "public_key": PrivateKey.generate().public.raw.hex()}
    return requests.post(central.url + API + "/enrol", json=body | extra, timeout=120)


@pytest.mark.slow
def test_enrol_against_200000_revocations(central: Central, tmp_path: Path) -> None:
    add_frozen(central, 200_000)
    t0 = time.perf_counter()
    r = post_enrol(central, snapshots="paged")
    took = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(r.content) < 4096 and took < 2.0, (len(r.content), took)
    for key, feed in (("revocations", "revocation"), ("roster", "roster")):
        page = body[key]
        assert page["feed"] == feed and page["more"] is True and page["entries"] == []
        assert page["snapshot"] is True and page["cursor"] >= 0
    assert body["keys"] and body["token"]

    home = tmp_path / "k"
    result = enroll(home, central.url, central.code("CIN-A"), allow_http=True)
    assert result["revocations"] == 200_000 and "pending_snapshots" not in result
    with KioskService.open(home) as svc:
        assert svc.store.counts()["revocations"] == 200_000
        assert svc.store.read("SELECT count(*) FROM roster")[0][0] == 200_000
        assert svc.store.get_cursor("revocations") is not None
        assert svc.store.snapshot_token("revocation") is None


def test_an_old_counter_still_gets_the_whole_lists(central: Central) -> None:
    add_frozen(central, 3)
    r = post_enrol(central)  # no "snapshots": what every counter before paging sends
    assert r.status_code == 200, r.text
    page = r.json()["revocations"]
    assert page["more"] is False and len(page["entries"]) == 3
    assert {e["action"] for e in page["entries"]} == {"freeze"}
    assert len(r.json()["roster"]["entries"]) == 3


def test_a_cut_during_the_pages_leaves_an_enrolled_counter(
    central: Central, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code is not wasted: the counter is enrolled and its next sync loads the rest."""
    from kiosk import snapshots
    from kiosk.http import SyncError
    from kiosk.syncer import SyncEngine

    add_frozen(central, 7)
    monkeypatch.setattr(snapshots, "SNAPSHOT_PAGE", 2)
    real = snapshots.pull_snapshot
    calls = []

    def cut(get, store, feed):  # type: ignore[no-untyped-def]
        calls.append(feed)
        if feed == "roster":
            raise SyncError("offline", "connection reset (test)")
        return real(get, store, feed)

    monkeypatch.setattr("kiosk.enrollment.pull_snapshot", cut)
    home = tmp_path / "k"
    result = enroll(home, central.url, central.code("CIN-A"), allow_http=True)
    assert result["pending_snapshots"] == ["roster"] and result["revocations"] == 7
    e = SyncEngine(home)
    try:
        assert e.sync_now().ok
    finally:
        e.stop()
    with KioskService.open(home) as svc:
        assert svc.store.read("SELECT count(*) FROM roster")[0][0] == 7
        assert svc.store.counts()["revocations"] == 7
