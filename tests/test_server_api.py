"""The HTTP API itself: validation, limits, idempotency, chain checks, feeds, no 500s."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawdevice import API, RawDevice, stored
from sqlalchemy import select
from syncsupport import ISSUER, Central

from sync.server import feeds
from sync.server.db import make_engine, session_scope
from sync.server.models import FeedEvent
from sync.voucher import PrivateKey, decode_voucher, encode_voucher, make_voucher

pytestmark = pytest.mark.timeout(180)


def test_openapi_and_error_shape(central: Central) -> None:
    spec = requests.get(central.url + API + "/openapi.json", timeout=10).json()
    assert {API + "/enrol", API + "/records", API + "/feeds/{feed}"} <= set(spec["paths"])
    for method, path, status, code in [
        ("get", "/nope", 404, "not_found"),
        ("get", "/records", 405, "method_not_allowed"),
        ("get", "/feeds/revocation", 401, "unauthorized"),
    ]:
        r = requests.request(method, central.url + API + path, timeout=10)
        assert r.status_code == status
        assert r.json()["error"]["code"] == code and r.json()["error"]["message"]


def test_body_and_batch_limits(central: Central) -> None:
    dev = RawDevice(central)
    big = b'{"records": [' + b'"x",' * 600_000 + b'"x"]}'
    r = requests.post(
        central.url + API + "/records",
        data=big,
        timeout=30,
        headers={"Authorization": f"Bearer {dev.token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"

    def chunks():  # chunked transfer: no Content-Length to trust
        for _ in range(300):
            yield b" " * 10_000

    r = requests.post(
        central.url + API + "/records",
        data=chunks(),
        timeout=30,
        headers={"Authorization": f"Bearer {dev.token}"},
    )
    assert r.status_code == 413
    [token] = central.issue(1)
    recs = [dev.record(token) for _ in range(1001)]
    r = dev.post("/records", {"records": recs})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    assert stored(central) == {}


def test_replayed_and_half_applied_batches_never_duplicate(central: Central) -> None:
    dev = RawDevice(central)
    tokens = central.issue(10)
    recs = [dev.record(t, at=dev.t0 + i) for i, t in enumerate(tokens)]
    first = dev.upload(recs[:5])  # "cut off halfway": the kiosk never saw this answer
    assert all(r["status"] == "valid" for r in first.values())
    again = dev.upload(recs)  # the whole batch again
    assert set(again) == {r["uuid"] for r in recs}
    assert all(r["status"] == "valid" for r in again.values())
    assert dev.upload(recs) == again  # and a pure replay answers the same
    rows = stored(central)
    assert len(rows) == 10 and not any(r.chain_gap or r.chain_fork for r in rows.values())
    with central.session() as s:  # each voucher entered the revocation feed exactly once
        redeemed = s.scalars(select(FeedEvent.key).where(FeedEvent.action == "redeemed")).all()
    assert sorted(redeemed) == sorted(decode_voucher(t).voucher.cti.hex() for t in tokens)


def test_chain_gap_and_fork_are_flagged(central: Central) -> None:
    dev = RawDevice(central)
    tokens = central.issue(5)
    r1, r2 = dev.record(tokens[0]), dev.record(tokens[1])
    dev.seq += 1  # seq 3 never arrives
    r4 = dev.record(tokens[2])
    fork = dev.record(tokens[3], seq=2, prev=bytes.fromhex(r1["prev"]))  # a second seq 2
    dev.upload([r1, r2, r4])
    dev.upload([fork])
    rows = stored(central)
    assert rows[r4["uuid"]].chain_gap and not rows[r2["uuid"]].chain_gap
    assert rows[fork["uuid"]].chain_fork and not rows[r1["uuid"]].chain_fork


def test_forged_voucher_is_rejected_and_bad_device_signature_refused(
    central: Central, tmp_path: Any
) -> None:
    dev = RawDevice(central)
    forged = encode_voucher(make_voucher(ISSUER), PrivateKey.generate())  # unknown key
    res = dev.upload([dev.record(forged)])
    assert [r["status"] for r in res.values()] == ["rejected"]
    assert list(res.values())[0]["problem"] == "unknown_key"
    [token, token2] = central.issue(2)
    rec = dev.record(token)
    rec["staff"] = "mallory"  # altered after signing
    good = dev.record(token2)
    # issue 10: the tampered record is refused on its own, the rest of the batch goes in
    res = dev.upload([rec, good])
    assert res[rec["uuid"]]["status"] == "rejected"
    assert res[rec["uuid"]]["problem"] == "bad_device_signature"
    # its seq never entered the chain: the next line is held for review as a gap
    assert res[good["uuid"]]["status"] == "review"
    assert res[good["uuid"]]["flags"] == ["chain_gap"]
    other = RawDevice(central)
    res = other.upload([dev.record(token)])
    assert [(r["status"], r["problem"]) for r in res.values()] == [("rejected", "wrong_device")]
    assert len(stored(central)) == 2  # the forged voucher's line and the good one, no more


def test_void_frees_the_voucher_for_settlement(central: Central) -> None:
    dev = RawDevice(central)
    [token] = central.issue(1)
    red = dev.record(token)
    void = dev.record(token, kind="void", voids=red["uuid"])
    assert dev.upload([red])[red["uuid"]]["status"] == "valid"
    res = dev.upload([void])
    assert res[void["uuid"]]["status"] == "void"
    assert stored(central)[red["uuid"]].status == "void"
    with central.session() as s:  # kiosks hear that the voucher is usable again
        actions = s.scalars(select(FeedEvent.action).where(FeedEvent.feed == "revocation")).all()
        assert actions == ["redeemed", "unredeemed"]
        status = s.scalars(select(FeedEvent).where(FeedEvent.feed == "status")).all()
        assert [(e.key, e.data["status"]) for e in status] == [(red["uuid"], "void")]


NASTY: list[Any] = [
    None,
    0,
    -1,
    2**70,
    1.5e308,
    "",
    "x" * 10_000,
    [],
    {},
    [None],
    {"a": None},
    True,
    "\u0000",
    "\ud7ff",
    {"records": "x"},
    {"records": [1, 2]},
    {"records": [{"uuid": 5}]},
    {"code": ["x"]},
    {"code": "x", "public_key": "zz"},
    {"health": {"pending": -1}},
    {"code": "AB\u0000C", "public_key": "ab" * 32},
    {"code": "x", "public_key": "ab" * 32, "name": "a\u0000"},
    {"health": {"os": "x\u0000"}},
    {"records": [{"staff": "\u0000"}]},
    {"health": "x"},
]


def test_nasty_bodies_never_give_500(central: Central) -> None:
    dev = RawDevice(central)
    paths = ["/enrol", "/records", "/device/hello"]
    for path in paths:
        for body in NASTY:
            r = dev.post(path, body)
            assert r.status_code < 500, (path, body, r.text)
            if r.status_code >= 400:
                assert r.json()["error"]["code"]
        for raw in (b"\xff\xfe", b"{", b"[" * 5000 + b"]" * 5000, b'{"a":' * 2000):
            r = dev.post_raw(path, raw)
            assert r.status_code < 500, (path, raw[:10], r.text)
    for q in ("since=-1", "since=abc", "limit=0", "limit=99999999", "since=1e99"):
        r = requests.get(
            central.url + API + "/feeds/revocation?" + q,
            timeout=10,
            headers={"Authorization": f"Bearer {dev.token}"},
        )
        assert r.status_code == 422, q
    for auth in ("Bearer ", "Bearer " + "x" * 5000, "Basic abc", "Bearer \u00e9"):
        r = requests.get(
            central.url + API + "/feeds/keys",
            timeout=10,
            headers={"Authorization": auth.encode("utf-8")},
        )
        assert r.status_code == 401


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)
record_like = st.fixed_dictionaries(
    {
        k: json_values
        for k in ("uuid", "device", "seq", "kind", "voucher", "token", "at", "prev", "sig")
    }
)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_fuzz_upload_with_hypothesis(central: Central) -> None:
    dev = RawDevice(central)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.one_of(
            json_values, st.fixed_dictionaries({"records": st.lists(record_like, max_size=3)})
        )
    )
    def run(body: Any) -> None:
        for path in ("/records", "/enrol", "/device/hello"):
            r = dev.post(path, body)
            assert r.status_code < 500, r.text

    run()
    assert stored(central) == {}


def test_feed_cursor_is_dense_and_gap_safe_under_concurrent_writers(central_db: Central) -> None:
    """Writers in several threads (separate connections) append while a reader follows the
    cursor: it must see every event exactly once, in order, with no holes, even though
    transactions commit in any order."""
    url = central_db.url_db
    engines = [make_engine(url) for _ in range(4)]
    with session_scope(central_db.engine) as s:
        start = feeds.head(s)
    per_writer, n_writers = 40, 4
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for j in range(per_writer):
                with session_scope(engines[i]) as s:
                    feeds.append(
                        s,
                        [feeds.Event("revocation", "freeze", f"{i:02d}{j:018d}", {"w": i, "j": j})],
                    )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    seen: list[int] = []
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n_writers)]
    for t in threads:
        t.start()
    cursor = start
    reader = make_engine(url)
    while any(t.is_alive() for t in threads) or cursor < start + per_writer * n_writers:
        with session_scope(reader) as s:
            rows = (
                s.execute(
                    select(FeedEvent.seq)
                    .where(FeedEvent.seq > cursor, FeedEvent.seq <= feeds.head(s))
                    .order_by(FeedEvent.seq)
                )
                .scalars()
                .all()
            )
        seen.extend(rows)
        if rows:
            cursor = rows[-1]
    for t in threads:
        t.join()
    assert not errors, errors
    assert seen == list(range(start + 1, start + 1 + per_writer * n_writers))
    for e in [*engines, reader]:
        e.dispose()


def test_snapshot_then_delta_loses_nothing(central: Central) -> None:
    dev = RawDevice(central)
    tokens = central.issue(3)
    dev.upload([dev.record(tokens[0])])
    h = {"Authorization": f"Bearer {dev.token}"}
    snap = requests.get(
        central.url + API + "/feeds/revocation/snapshot", headers=h, timeout=10
    ).json()
    assert [e["action"] for e in snap["entries"]] == ["redeemed"]
    dev.upload([dev.record(tokens[1])])
    delta = requests.get(
        central.url + API + "/feeds/revocation",
        params={"since": snap["cursor"]},
        headers=h,
        timeout=10,
    ).json()
    assert [e["cti"] for e in delta["entries"]] == [decode_voucher(tokens[1]).voucher.cti.hex()]
    roster = requests.get(
        central.url + API + "/feeds/roster", params={"since": 0, "limit": 2}, headers=h, timeout=10
    ).json()
    assert len(roster["entries"]) == 2 and roster["more"] is True


def test_a_device_cannot_void_another_devices_redemption(central: Central) -> None:
    a, b = RawDevice(central), RawDevice(central, "CIN-B")
    [token] = central.issue(1)
    red = a.record(token)
    a.upload([red])
    b.upload([b.record(token, kind="void", voids=red["uuid"])])
    assert stored(central)[red["uuid"]].status == "valid"
