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
    assert {"peers", "peer_uses", "claims"} <= names


def test_two_crossing_claims_resolve_to_the_older_one(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    a, b = make_counters(tmp_path, issuer_key, ["1", "2"])
    cti = bytes(range(10))
    ca = claims.Claim(cti, "dev-1", "n-a", 1000)
    cb = claims.Claim(cti, "dev-2", "n-b", 1000)  # same ms: the device id decides
    with a.store.write() as conn:
        assert claims.begin(conn, ca, 1000) is None
    with b.store.write() as conn:
        assert claims.begin(conn, cb, 1000) is None
    with a.store.write() as conn:  # B's claim reaches A: A's own is older
        blocker = claims.witness(conn, cb, "dev-1", 1, 1000)
    assert blocker is not None and (blocker.kind, blocker.device) == ("claimed", "dev-1")
    with b.store.write() as conn:  # A's claim reaches B: B's open one is marked lost
        assert claims.witness(conn, ca, "dev-2", 1, 1000) is None
    with a.store.write() as conn:
        assert claims.finish(conn, ca, won=True) is None  # A accepts
    with b.store.write() as conn:
        late = claims.finish(conn, cb, won=True)  # B heard "claimed" anyway; lost either way
    assert late is not None and late.device == "dev-1"
    for s in (a, b):
        s.close()


def test_a_granted_claim_blocks_the_witness_own_later_claim(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    a, b = make_counters(tmp_path, issuer_key, ["1", "2"])
    cti = bytes(10)
    with b.store.write() as conn:  # B had no claim: it grants A's
        assert claims.witness(conn, claims.Claim(cti, "dev-1", "x", 2000), "dev-2", 1, 2000) is None
    with b.store.write() as conn:  # even an older-looking claim of B's own loses to the grant
        blocker = claims.begin(conn, claims.Claim(cti, "dev-2", "y", 1), 2001)
    assert blocker is not None and blocker.device == "dev-1"
    with b.store.write() as conn:  # a grant expires
        assert claims.begin(conn, claims.Claim(cti, "dev-2", "z", 1), 2000 + 5001) is None
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
