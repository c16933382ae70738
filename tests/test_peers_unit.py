"""The claim rule and the LAN store, in-process (the multi-process cases: test_peers.py).

Two counters' stores answer each other's claims through the real functions
(:mod:`kiosk.peers.claims`) and the real signed envelope (:mod:`kiosk.peers.wire`);
the store's revision ``0004_lan_peers`` is reached from the first released schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
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
    assert revision(paths.store) == HEAD_REVISION == "0005_revocation_pages"
    names = {r[0] for r in sqlite3.connect(paths.store).execute("SELECT name FROM sqlite_master")}
    assert {"peers", "peer_uses"} <= names


#: ``counters(["1", "2"])``: enrolled counters of one cinema (peers_support.make_counters).
Counters = Callable[[list[str]], list[KioskService]]


@pytest.fixture
def counters(tmp_path: Path, issuer_key: PrivateKey) -> Iterator[Counters]:
    """Make counters under tmp_path with the issuer's key; all closed after the test."""
    made: list[KioskService] = []

    def make(names: list[str]) -> list[KioskService]:
        made.extend(make_counters(tmp_path, issuer_key, names))
        return made[-len(names) :]

    yield make
    for s in made:
        s.close()


def _book(svc: KioskService) -> claims.ClaimBook:
    return claims.ClaimBook(svc.paths.home)


def _uses(svc: KioskService, me: str) -> claims.UsesOf:
    return lambda cti: svc.store.known_uses(cti, me)


def test_two_crossing_claims_resolve_to_the_older_one(counters: Counters) -> None:
    a, b = counters(["1", "2"])
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


def test_a_granted_claim_blocks_the_witness_own_later_claim(counters: Counters) -> None:
    a, b = counters(["1", "2"])
    bb = _book(b)
    cti = bytes(10)
    grant = claims.Claim(cti, "dev-1", "x", 2000)
    assert claims.witness(bb, grant, "dev-2", _uses(b, "dev-2"), 1, 2000) is None  # granted
    blocker = claims.begin(bb, claims.Claim(cti, "dev-2", "y", 1), 2001)  # even if "older"
    assert blocker is not None and blocker.device == "dev-1"
    assert claims.begin(bb, claims.Claim(cti, "dev-2", "z", 1), 2000 + 5001) is None  # expired


def test_only_listed_counters_are_believed(counters: Counters) -> None:
    a, b = counters(["1", "2"])
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
        open_envelope(ok, keys, cinema=CINEMA, me="dev-2", now_ms=5 + 6 * 60_000)
    b.store.set_peers([p for p in b.store.peers() if p.device != "dev-1"])  # revoked: unlisted
    with pytest.raises(PeerError, match="listed"):
        open_envelope(ok, Peers(b).keys(), cinema=CINEMA, me="dev-2", now_ms=5)


def test_a_pushed_use_names_the_counter_and_a_void_lifts_it(
    issuer_key: PrivateKey, counters: Counters
) -> None:
    from kiosk.peers.hook import PeerHook
    from kiosk.peers.node import notice_of
    from kiosk.peers.wire import use_to_json

    a, b = counters(["1", "2"])
    tok = voucher_token(issuer_key)
    assert a.redeem(tok, fmt="2D").accepted
    rec = a.store.last_redemption()
    assert rec is not None
    pb = Peers(b)
    assert pb.take_uses([use_to_json(notice_of(rec, a))]) == 1
    b.peers = PeerHook(pb)
    v: Verdict = b.redeem(tok, fmt="2D")
    assert v.reason == "already_redeemed" and v.detail["where"] == "peer"
    assert v.detail["counter"] == "1号窗口"
    assert v.message() == "此券已在 1 号窗口使用" and v.message("en") == "Already used at counter 1"
    assert a.void_last().ok
    void = a.store.all_records()[-1][0]
    assert pb.take_uses([use_to_json(notice_of(void, a))]) == 1
    assert b.redeem(tok, fmt="2D").accepted


def test_a_third_counter_speaks_only_for_itself(counters: Counters) -> None:
    """C grants both crossing claims; A and B settle it by the order (the 3-counter case)."""
    a, b, c = counters(["1", "2", "3"])
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


def test_the_peer_package_is_qt_free_and_below_the_front_ends() -> None:
    from test_architecture import offenders

    forbidden = ("PySide6", "kiosk.ui", "kiosk.commands", "kiosk.cli")
    assert offenders(("kiosk.peers",), forbidden) == []
    assert offenders(("kiosk.engine",), ("kiosk.peers",)) == []  # the engine knows the hook only


def test_the_peers_feed_names_a_revoked_counter_and_the_listen_address(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    from syncsupport import setup_central

    from sync import protocol as P
    from sync.office.devices import device_code, revoke_device
    from sync.server.db import migrate, session_scope
    from sync.server.enrolment import enrol, note_contact
    from sync.server.feeds import peers_snapshot

    engine = migrate(f"sqlite:///{tmp_path / 'c.db'}")
    setup_central(engine, issuer_key, tmp_path / "keys")
    keys = [PrivateKey.generate() for _ in range(3)]
    with session_scope(engine) as s:
        ids = [
            enrol(s, device_code(s, cinema), k.public.raw, f"{i + 1}号窗口")[0].id
            for i, (k, cinema) in enumerate(zip(keys, ["CIN-A", "CIN-A", "CIN-B"], strict=True))
        ]
        note_contact(s, ids[0], P.Health(listen="192.168.1.21:8711"))
        revoke_device(s, ids[1])
    with session_scope(engine) as s:
        entries, _cursor = peers_snapshot(s, "CIN-A")
    got = {e["device"]: P.PeerOut.model_validate(e) for e in entries}
    assert set(got) == set(ids[:2])  # not CIN-B's counter
    assert got[ids[0]].address == "192.168.1.21:8711" and got[ids[0]].status == "active"
    assert got[ids[0]].public_key == keys[0].public.raw.hex() and got[ids[0]].name == "1号窗口"
    assert got[ids[1]].status == "revoked" and got[ids[1]].address == ""
    engine.dispose()


def test_a_garbled_listen_meta_never_breaks_the_health_report() -> None:
    from kiosk.engine.peerstore import reportable_listen

    assert reportable_listen("127.0.0.1:8711") == "127.0.0.1:8711"
    assert reportable_listen("[fe80::1]:8711") == "[fe80::1]:8711"
    assert reportable_listen("not an address") == reportable_listen(None) == ""


def test_serve_and_redeem_refuse_a_bad_address(
    tmp_path: Path, issuer_key: PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiosk.cli import main

    make_counters(tmp_path, issuer_key, ["1"])[0].close()
    home = str(tmp_path / "1")
    assert main(["serve", "--home", home, "--listen", "nowhere"]) == 2
    assert main(["redeem", "--home", home, "--peer", "x:y", voucher_token(issuer_key)]) == 2
    assert "HOST:PORT" in capsys.readouterr().err


def test_the_window_starts_the_peer_service_of_an_enrolled_counter(
    tmp_path: Path, counters: Counters
) -> None:
    from types import SimpleNamespace

    from kiosk.engine.peerstore import LISTEN_META
    from kiosk.peers.client import split_address
    from kiosk.ui.peers_link import start_peers

    a, b = counters(["1", "2"])
    (tmp_path / "1" / "config.json").write_text(
        (tmp_path / "1" / "config.json")
        .read_text()
        .replace("{", '{"peer_listen": "127.0.0.1:0",', 1)
    )
    keep: list[object] = []
    start_peers(SimpleNamespace(bridge=SimpleNamespace(service=a)), keep)
    assert len(keep) == 1 and a.peers is not None  # listening, and scans run the round
    address = a.store.get_meta(LISTEN_META) or ""
    assert split_address(address)[1] > 0
    answers = Peers(b, [address]).ask("heads", {})
    assert [m.sender for m in answers] == ["dev-1"]
    keep[0].stop()  # type: ignore[attr-defined]
    assert a.store.get_meta(LISTEN_META) == ""
    standalone: list[object] = []
    b.config.device_id = ""
    start_peers(SimpleNamespace(bridge=SimpleNamespace(service=b)), standalone)
    assert standalone == []  # never enrolled: nothing to be listed under
