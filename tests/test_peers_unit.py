"""The claim rule and the LAN store, in-process (the multi-process cases: test_peers.py).

Two counters' stores answer each other's claims through the real functions
(:mod:`kiosk.peers.claims`) and the real signed envelope (:mod:`kiosk.peers.wire`);
the store's revision ``0004_lan_peers`` is reached from the first released schema.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers_qr import voucher_token
from ops_support import make_kiosk, revision, run_alembic
from peers_support import CINEMA, make_counters

from kiosk.engine.db import HEAD_REVISION, MIGRATIONS_DIR
from kiosk.engine.service import KioskService
from kiosk.engine.verdict import Verdict
from kiosk.peers import claims
from kiosk.peers.node import Peers
from kiosk.peers.wire import PeerError, open_envelope, seal
from sync.voucher import PrivateKey


def test_the_store_reaches_the_lan_tables_from_the_first_schema(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=1)
    run_alembic(paths.store, MIGRATIONS_DIR, "downgrade", "0001")
    with KioskService.open(paths.home) as svc:  # opening migrates
        assert svc.store.peers() == [] and svc.store.peer_heads() == {}
    assert revision(paths.store) == HEAD_REVISION == "0004_lan_peers"
    names = {r[0] for r in sqlite3.connect(paths.store).execute("SELECT name FROM sqlite_master")}
    assert {"peers", "peer_uses"} <= names


def _book(svc: KioskService) -> claims.ClaimBook:
    return claims.ClaimBook(svc.paths.home)


def _uses(svc: KioskService, me: str) -> claims.UsesOf:
    return lambda cti: svc.store.known_uses(cti, me)


def test_two_crossing_claims_resolve_to_the_older_one(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    a, b = make_counters(tmp_path, issuer_key, ["1", "2"])
    ba, bb = _book(a), _book(b)
    cti = bytes(range(10))
    ca = claims.Claim(cti, "dev-1", "n-a", 1000)
    cb = claims.Claim(cti, "dev-2", "n-b", 1000)  # same ms: the device id decides
    assert claims.begin(ba, ca, 1000) is None and claims.begin(bb, cb, 1000) is None
    blocker = claims.witness(ba, cb, "dev-1", _uses(a, "dev-1"), 1, 1000)  # B's reaches A
    assert blocker is not None and (blocker.kind, blocker.device) == ("claimed", "dev-1")
    assert claims.witness(bb, ca, "dev-2", _uses(b, "dev-2"), 1, 1000) is None  # B's: lost
    assert claims.decide(ba, ca, 1000) is None  # A accepts: its claim is won...
    late = claims.decide(bb, cb, 1000)  # ...B heard "claimed" anyway, and its row is lost
    assert late is not None and late.device == "dev-1"
    again = claims.witness(bb, claims.Claim(cti, "dev-3", "n-c", 1), "dev-2", _uses(b, "dev-2"),
                           1, 1000)  # fmt: skip
    assert again is None  # B's lost claim blocks no one
    won = claims.witness(ba, claims.Claim(cti, "dev-3", "n-c", 1), "dev-1", _uses(a, "dev-1"),
                         1, 1000)  # fmt: skip
    assert won is not None and won.kind == "claimed"  # A's won claim does, even an older one
    for s in (a, b):
        s.close()


def test_a_granted_claim_blocks_the_witness_own_later_claim(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    a, b = make_counters(tmp_path, issuer_key, ["1", "2"])
    bb = _book(b)
    cti = bytes(10)
    grant = claims.Claim(cti, "dev-1", "x", 2000)
    assert claims.witness(bb, grant, "dev-2", _uses(b, "dev-2"), 1, 2000) is None  # granted
    blocker = claims.begin(bb, claims.Claim(cti, "dev-2", "y", 1), 2001)  # even if "older"
    assert blocker is not None and blocker.device == "dev-1"
    assert claims.begin(bb, claims.Claim(cti, "dev-2", "z", 1), 2000 + 5001) is None  # expired
    for s in (a, b):
        s.close()


def test_only_listed_counters_are_believed(tmp_path: Path, issuer_key: PrivateKey) -> None:
    a, b = make_counters(tmp_path, issuer_key, ["1", "2"])
    keys = Peers(b).keys()
    ok, _ = seal(a.device_key, type="heads", sender="dev-1", to="", cinema=CINEMA, at=5, body={})
    assert open_envelope(ok, keys, cinema=CINEMA, me="dev-2", now_ms=5).sender == "dev-1"
    forged, _ = seal(PrivateKey.generate(), type="heads", sender="dev-1", to="", cinema=CINEMA,
                     at=5, body={})  # fmt: skip
    with pytest.raises(PeerError, match="signature"):
        open_envelope(forged, keys, cinema=CINEMA, me="dev-2", now_ms=5)
    with pytest.raises(PeerError, match="cinema|listed"):
        open_envelope(ok, keys, cinema="OTHER", me="dev-2", now_ms=5)
    with pytest.raises(PeerError, match="too far"):
        open_envelope(ok, keys, cinema=CINEMA, me="dev-2", now_ms=5 + 60_000)
    b.store.set_peers([p for p in b.store.peers() if p.device != "dev-1"])  # revoked: unlisted
    with pytest.raises(PeerError, match="listed"):
        open_envelope(ok, Peers(b).keys(), cinema=CINEMA, me="dev-2", now_ms=5)
    for s in (a, b):
        s.close()


def test_a_pushed_use_reads_used_at_counter_and_a_void_lifts_it(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    from kiosk.peers.hook import PeerHook
    from kiosk.peers.node import notice_of
    from kiosk.peers.wire import use_to_json

    a, b = make_counters(tmp_path, issuer_key, ["1", "2"])
    tok = voucher_token(issuer_key)
    assert a.redeem(tok, fmt="2D").accepted
    rec = a.store.last_redemption()
    assert rec is not None
    pb = Peers(b)
    assert pb.take_uses([use_to_json(notice_of(rec, a))]) == 1
    b.peers = PeerHook(pb)
    v: Verdict = b.redeem(tok, fmt="2D")
    assert v.reason == "used_at_counter" and v.detail["counter"] == "1号窗口"
    assert v.message() == "此券已在 1 号窗口使用" and v.message("en") == "Already used at counter 1"
    assert a.void_last().ok
    void = a.store.all_records()[-1][0]
    assert pb.take_uses([use_to_json(notice_of(void, a))]) == 1
    assert b.redeem(tok, fmt="2D").accepted
    for s in (a, b):
        s.close()


def test_a_third_counter_speaks_only_for_itself(tmp_path: Path, issuer_key: PrivateKey) -> None:
    """C grants both crossing claims; A and B settle it by the order (the 3-counter case)."""
    a, b, c = make_counters(tmp_path, issuer_key, ["1", "2", "3"])
    ba, bb, bc = _book(a), _book(b), _book(c)
    cti = bytes(range(10, 20))
    ca = claims.Claim(cti, "dev-1", "n-a", 2000)  # younger
    cb = claims.Claim(cti, "dev-2", "n-b", 1999)  # older
    assert claims.begin(ba, ca, 2000) is None and claims.begin(bb, cb, 2000) is None
    assert claims.witness(bc, ca, "dev-3", _uses(c, "dev-3"), 1, 2000) is None  # C saw A first
    assert claims.witness(bc, cb, "dev-3", _uses(c, "dev-3"), 1, 2000) is None  # and blocks no one
    told_a = claims.witness(bb, ca, "dev-2", _uses(b, "dev-2"), 1, 2000)
    assert told_a is not None and told_a.device == "dev-2"  # A hears "claimed": it loses
    assert claims.witness(ba, cb, "dev-1", _uses(a, "dev-1"), 1, 2000) is None  # A's: lost
    assert claims.decide(bb, cb, 2000) is None  # B accepts
    assert claims.begin(bc, claims.Claim(cti, "dev-3", "n-c", 1), 2001) is not None  # grants
    for s in (a, b, c):
        s.close()


def test_the_peer_package_is_qt_free_and_below_the_front_ends() -> None:
    from test_architecture import offenders

    forbidden = ("PySide6", "kiosk.ui", "kiosk.commands", "kiosk.cli")
    assert offenders(("kiosk.peers",), forbidden) == []
    assert offenders(("kiosk.engine",), ("kiosk.peers",)) == []  # the engine knows the hook only
