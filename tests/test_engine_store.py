"""The kiosk store on a real SQLite file: chain, sync bookkeeping, feeds, migrations."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from helpers_qr import NOW_S, make_kiosk, voucher_token

from kiosk.engine.clock import Clock
from kiosk.engine.db import HEAD_REVISION, MIGRATIONS_DIR, make_engine, migrate
from kiosk.engine.facts import RevocationEntry, RosterEntry, TrustedKey, VoucherFacts
from kiosk.engine.service import KioskService
from kiosk.engine.store import Store
from kiosk.errors import UsageError
from sync.records import GENESIS_HASH
from sync.voucher import PrivateKey, decode_voucher
from sync.voucher.errors import KeyFileError

NOW_MS = NOW_S * 1000 + 60_000


def test_store_settings_are_durable(svc: KioskService) -> None:
    conn = sqlite3.connect(svc.store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with svc.store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    assert (os.stat(svc.paths.device_key).st_mode & 0o777) == 0o600


def test_chain_is_hashed_signed_and_tamper_evident(
    svc: KioskService, issuer_key: PrivateKey
) -> None:
    uuids = [
        svc.redeem(voucher_token(issuer_key), fmt="2D", staff="王").record_uuid for _ in range(4)
    ]
    svc.clock.advance(1000)
    assert svc.void_last(staff="王").ok
    rows = svc.store.all_records()
    assert [r.seq for r, _, _ in rows] == [1, 2, 3, 4, 5]
    assert rows[0][0].prev == GENESIS_HASH
    assert all(rows[i][0].prev == rows[i - 1][1] for i in range(1, 5))
    assert rows[4][0].kind == "void" and rows[4][0].voids == uuids[3]
    assert svc.store.verify_chain(svc.device_key.public) == []
    # someone edits a row behind the kiosk's back: the chain says so
    conn = sqlite3.connect(svc.store.path)
    conn.execute("UPDATE records SET staff = 'mallory' WHERE seq = 2")
    conn.commit()
    conn.close()
    problems = svc.store.verify_chain(svc.device_key.public)
    assert any("seq 2" in p and "hash" in p for p in problems)
    assert any("seq 2" in p and "signature" in p for p in problems)


def test_void_rules(svc: KioskService, issuer_key: PrivateKey) -> None:
    assert svc.void_last(staff="a").reason == "nothing_to_void"
    tok = voucher_token(issuer_key)
    v = svc.redeem(tok, fmt="2D")
    svc.clock.advance(9 * 60 * 1000)
    r = svc.void_last(staff="a")
    assert r.ok and r.voided_uuid == v.record_uuid
    assert svc.void(v.record_uuid or "", staff="a").reason == "already_voided"
    assert svc.redeem(tok, fmt="2D").accepted  # voided: usable again
    svc.clock.advance(10 * 60 * 1000 + 1)
    assert svc.void_last(staff="a").reason == "too_late"
    assert svc.store.counts()["records"] == 3  # redeem, void, redeem: never an update


def test_pending_and_mark_synced(svc: KioskService, issuer_key: PrivateKey) -> None:
    uuids = [svc.redeem(voucher_token(issuer_key), fmt="2D").record_uuid for _ in range(3)]
    pend = svc.store.pending_records(10)
    assert [r.uuid for r, _ in pend] == uuids
    rec, sig = pend[0]
    assert rec.verify(svc.device_key.public, sig)
    assert [r.uuid for r, _ in svc.store.pending_records(2)] == uuids[:2]
    svc.store.mark_synced({})  # an empty acknowledgement is a no-op
    with pytest.raises(UsageError):
        svc.store.mark_synced({uuids[0]: ("bogus", None)})
    assert len(svc.store.pending_records(10)) == 3  # nothing changed
    detail = {"first_uuid": "f-1", "cinema": "SH02", "device": "dev-2", "staff": "李", "at": 5}
    svc.store.mark_synced({uuids[0]: ("valid", None), uuids[1]: ("duplicate", detail)})
    assert [r.uuid for r, _ in svc.store.pending_records(10)] == [uuids[2]]
    c = svc.store.counts()
    assert (c["pending"], c["synced"], c["conflicts"]) == (1, 2, 1)
    [conf] = svc.conflicts()
    assert conf["record_uuid"] == uuids[1] and conf["first_record_uuid"] == "f-1"
    assert conf["other"] == {"cinema": "SH02", "device": "dev-2", "staff": "李", "at": 5}
    assert svc.store.verify_chain(svc.device_key.public) == []  # bookkeeping is not signed data


def test_keys_cursors_meta(tmp_path: Path, issuer_key: PrivateKey) -> None:
    a = Store.open(tmp_path / "s.sqlite3")
    b = Store.open(tmp_path / "s.sqlite3")  # a second connection, e.g. the sync thread
    k2 = PrivateKey.generate()
    a.add_trusted_key(TrustedKey(issuer_key.public.raw, "ACFTU-SH"))
    assert set(b.keyring()) == {issuer_key.public.kid}
    a.set_trusted_keys([TrustedKey(k2.public.raw, "ACFTU-SH", "server")])
    b.KEYRING_RECHECK_S = 0.0  # (normally rechecked at most once a second)
    assert set(b.keyring()) == {k2.public.kid}  # the cache notices the other connection
    assert [k.source for k in b.trusted_keys()] == ["server"]
    with pytest.raises(KeyFileError):
        a.set_trusted_keys([TrustedKey(b"short", "x")])
    assert len(a.trusted_keys()) == 1
    assert a.get_cursor("roster") is None and a.get_meta("last_sync") is None
    a.set_cursor("roster", "42")
    a.set_meta("last_sync", "123")
    a.set_meta("last_sync", "124")
    assert (b.get_cursor("roster"), b.get_meta("last_sync")) == ("42", "124")
    a.apply_roster([RosterEntry(b"\x01" * 10, "CP1:A"), RosterEntry(b"\x02" * 10, "CP1:B")], "r1")
    a.apply_roster([RosterEntry(b"\x01" * 10, "", removed=True)], "r2")
    assert (a.roster_token(b"\x01" * 10), a.roster_token(b"\x02" * 10)) == (None, "CP1:B")
    assert a.get_cursor("roster") == "r2"
    with pytest.raises(UsageError):
        a.apply_roster([RosterEntry(b"\x01", "x")], "r3")
    assert a.get_cursor("roster") == "r2"
    a.replace_roster(
        [RosterEntry(b"\x03" * 10, "CP1:Z"), RosterEntry(b"\x03" * 10, "CP1:C")], "snap"
    )  # a snapshot: everything else is gone, the later of two entries wins
    assert (a.roster_token(b"\x02" * 10), b.roster_token(b"\x03" * 10)) == (None, "CP1:C")
    assert a.counts()["roster"] == 1 and a.get_cursor("roster") == "snap"
    a.close()
    b.close()


def test_concurrent_counters_cannot_both_accept(tmp_path: Path, issuer_key: PrivateKey) -> None:
    """Two services on one store (separate connections and locks): BEGIN IMMEDIATE decides."""
    make_kiosk(tmp_path / "h", issuer_key)
    s1 = KioskService.open(tmp_path / "h")
    s2 = KioskService.open(tmp_path / "h")
    toks = [voucher_token(issuer_key, now=int(time.time()) - 10) for _ in range(15)]
    results: list[str] = []
    lock = threading.Lock()

    def run(s: KioskService) -> None:
        for t in toks:
            r = s.redeem(t, fmt="2D", staff=str(id(s)))
            with lock:
                results.append(r.reason)

    threads = [threading.Thread(target=run, args=(s,)) for s in (s1, s2, s1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("accepted") == 15 and results.count("already_redeemed") == 30
    assert s1.store.verify_chain(s1.device_key.public) == []
    s1.close()
    s2.close()


@pytest.mark.slow
def test_a_million_revocations(tmp_path: Path, issuer_key: PrivateKey) -> None:
    make_kiosk(tmp_path / "h", issuer_key)
    svc = KioskService.open(tmp_path / "h", clock=Clock.fixed(NOW_MS))
    n = 1_000_000
    entries = [RevocationEntry(i.to_bytes(10, "big"), "freeze", "lost", 1) for i in range(1, n + 1)]
    # the snapshot loads while the counter keeps redeeming: no redemption waits long
    t0 = time.perf_counter()
    loader = threading.Thread(target=svc.store.replace_revocations, args=(entries, "c1"))
    loader.start()
    waits = []
    while loader.is_alive():
        t1 = time.perf_counter()
        assert svc.redeem(voucher_token(issuer_key, now=NOW_S), fmt="2D").accepted
        waits.append(time.perf_counter() - t1)
        time.sleep(0.05)
    loader.join()
    load_s = time.perf_counter() - t0
    assert load_s < 60, f"loading {n} revocations took {load_s:.1f} s"
    assert len(waits) >= 3 and max(waits) < 1.5, f"a redemption waited {max(waits):.2f} s"
    print(f"{len(waits)} redemptions during the load, longest wait {max(waits):.3f} s")
    assert svc.store.counts()["revocations"] == n
    assert svc.store.get_cursor("revocations") == "c1"
    names = {r[0] for r in svc.store.read("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not {t for t in names if t.endswith(("_stage", "_old"))}
    tok = voucher_token(issuer_key)
    cti = decode_voucher(tok).voucher.cti
    assert svc.check(tok, fmt="2D").accepted
    assert svc.store.revocation((n // 2).to_bytes(10, "big")) is not None
    t0 = time.perf_counter()
    svc.store.apply_revocations(
        [
            RevocationEntry(cti, "freeze", "fraud", 2),
            RevocationEntry((7).to_bytes(10, "big"), "unfreeze", "", 3),
        ],
        "c2",
    )
    assert time.perf_counter() - t0 < 1.0  # a delta does not rewrite the list
    assert svc.check(tok, fmt="2D").detail["why"] == "fraud"
    assert svc.store.revocation((7).to_bytes(10, "big")) is None
    assert svc.store.counts()["revocations"] == n
    svc.close()


def test_migrations_live_in_the_package_and_head_matches() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_current_head() == HEAD_REVISION
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").exists()


def test_upgrade_from_the_first_schema_keeps_every_row(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    path = tmp_path / "old.sqlite3"
    engine = make_engine(path)
    migrate(engine, "0001")
    engine.dispose()
    # write a 0001-era kiosk's data with the store's own record code
    dev = PrivateKey.generate()
    from sync.records import Record

    prev = GENESIS_HASH
    conn = sqlite3.connect(path)
    tok = voucher_token(issuer_key)
    for seq in (1, 2, 3):
        rec = Record(
            uuid=f"00000000-0000-4000-8000-00000000000{seq}",
            device="",
            seq=seq,
            kind="redeem",
            voucher=bytes([seq]) * 10,
            token=tok,
            cinema="SH01",
            format="2D",
            staff="王",
            at=NOW_MS + seq,
            voids="",
            prev=prev,
        )
        conn.execute(
            "INSERT INTO records (seq, uuid, device, kind, voucher, token, cinema, format, staff,"
            " at, voids, prev, v, hash, sig, synced_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rec.seq,
                rec.uuid,
                rec.device,
                rec.kind,
                rec.voucher,
                rec.token,
                rec.cinema,
                rec.format,
                rec.staff,
                rec.at,
                rec.voids,
                rec.prev,
                rec.v,
                rec.hash(),
                rec.sign(dev),
                NOW_MS if seq == 1 else None,
            ),
        )
        prev = rec.hash()
    conn.execute(
        "INSERT INTO attempts (at, reason, short_code, format, staff, source) VALUES (1, 'expired', 'X', '2D', '', 'camera')"
    )
    conn.execute(
        "INSERT INTO revocations (cti, reason, at) VALUES (?, 'stolen', 9)", (b"\x09" * 10,)
    )
    conn.execute(
        "INSERT INTO trusted_keys VALUES (?, ?, 'ACFTU-SH', 'init')",
        (issuer_key.public.kid, issuer_key.public.raw),
    )
    conn.execute("INSERT INTO cursors VALUES ('revocations', '77')")
    conn.execute("INSERT INTO meta VALUES ('last_sync', '555')")
    conn.commit()
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"
    conn.close()

    store = Store.open(path)  # migrates to head
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD_REVISION
    conn.close()
    c = store.counts()
    assert (c["records"], c["pending"], c["synced"], c["attempts"]) == (3, 2, 1, 1)
    assert (c["revocations"], c["trusted_keys"], c["roster"], c["conflicts"]) == (1, 1, 0, 0)
    rev = store.revocation(b"\x09" * 10)
    assert rev is not None and (rev.reason, rev.at_ms, rev.cinema) == ("stolen", 9, "")
    assert store.get_cursor("revocations") == "77" and store.get_meta("last_sync") == "555"
    assert store.verify_chain(dev.public) == []
    assert set(store.keyring()) == {issuer_key.public.kid}
    # and the new tables work
    store.apply_roster([RosterEntry(b"\x05" * 10, tok)], "r1")
    assert store.roster_token(b"\x05" * 10) == tok
    store.close()


def test_ui_and_sync_threads_share_one_store(tmp_path: Path, issuer_key: PrivateKey) -> None:
    """The window redeems on its thread while the sync thread uploads and applies feeds."""
    make_kiosk(tmp_path / "h", issuer_key)
    svc = KioskService.open(tmp_path / "h")
    toks = [voucher_token(issuer_key, now=int(time.time()) - 10) for _ in range(40)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def sync_loop() -> None:
        i = 0
        try:
            while not stop.is_set():
                i += 1
                pend = svc.store.pending_records(10)
                svc.store.mark_synced({r.uuid: ("valid", None) for r, _ in pend})
                svc.store.apply_revocations(
                    [RevocationEntry(i.to_bytes(10, "big"), "freeze", "lost", i)], str(i)
                )
                svc.store.set_meta("last_sync", str(i))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=sync_loop)
    t.start()
    reasons = [svc.redeem(tok, fmt="2D", staff="ui").reason for tok in toks]
    stop.set()
    t.join(10)
    assert errors == [] and reasons == ["accepted"] * 40
    pend = svc.store.pending_records(100)
    svc.store.mark_synced({r.uuid: ("valid", None) for r, _ in pend})
    c = svc.store.counts()
    assert (c["records"], c["synced"], c["pending"]) == (40, 40, 0)
    assert svc.store.verify_chain(svc.device_key.public) == []
    svc.close()


def test_facts_are_one_value_per_voucher(svc: KioskService, issuer_key: PrivateKey) -> None:
    """The verifier's one question: revocation and every earlier use, local then remote."""
    tok = voucher_token(issuer_key, admissions=3)
    cti = decode_voucher(tok).voucher.cti
    assert svc.store.facts(cti, own_device="") == VoucherFacts()
    assert svc.redeem(tok, fmt="2D", staff="王").accepted
    svc.store.apply_revocations(
        [
            RevocationEntry(cti, "redeemed", "", 5, cinema="SH02", device="dev-9", staff="李"),
            RevocationEntry(cti, "redeemed", "", 6, cinema="SH01", device="", staff="x"),
        ],
        "1",
    )
    facts = svc.store.facts(cti, own_device="")  # our own device's feed entry is skipped
    assert facts.revocation is None
    assert [(u.remote, u.cinema, u.staff) for u in facts.uses] == [
        (False, "SH01", "王"),
        (True, "SH02", "李"),
    ]
    svc.store.apply_revocations([RevocationEntry(cti, "freeze", "stolen", 7)], "2")
    frozen = svc.store.facts(cti, own_device="")
    assert frozen.revocation is not None and frozen.revocation.reason == "stolen"
    assert frozen.uses == facts.uses
    assert svc.store.uses(cti, own_device="") == list(facts.uses)
