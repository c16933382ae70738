"""Every verdict reason, with real signed tokens, through the verifier and the service."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_qr import NOW_S, tamper_signature, voucher_token

from kiosk.engine.facts import RevocationEntry, RosterEntry, Use
from kiosk.engine.service import KioskService
from kiosk.engine.verdict import COUNTER_REASONS, REASONS
from kiosk.engine.verify import MemoryState, check, verify
from sync.voucher import PrivateKey, decode_voucher

NOW_MS = NOW_S * 1000 + 60_000


def state_for(key: PrivateKey, **kw: object) -> MemoryState:
    return MemoryState(keys={key.public.kid: key.public}, cinema="SH01", **kw)  # type: ignore[arg-type]


def reason(text: str, st: MemoryState, fmt: str = "2D", now_ms: int = NOW_MS) -> str:
    return verify(text, st, fmt=fmt, now_ms=now_ms).reason


def test_accepted_shows_the_voucher_but_never_the_token(issuer_key: PrivateKey) -> None:
    tok = voucher_token(issuer_key, holder="张*明", formats=("2D",))
    v = verify(tok, state_for(issuer_key), fmt="2D", now_ms=NOW_MS)
    assert v.reason == "accepted" and v.accepted
    j = v.to_json()
    assert j["verdict"] == "accepted"
    assert j["voucher"]["id"] == decode_voucher(tok).voucher.short_code
    assert j["voucher"]["holder"] == "张*明" and j["voucher"]["formats"] == ["2D"]
    assert tok not in repr(j)


def test_codec_failures(issuer_key: PrivateKey) -> None:
    st = state_for(issuer_key)
    assert reason("", st) == "not_a_voucher"
    assert reason("https://example.com/x", st) == "not_a_voucher"
    assert reason("CP1:!!!!", st) == "malformed"
    tok = voucher_token(issuer_key)
    assert reason(tok[:-6], st) == "malformed"
    v = verify("CP1:!!!!", st, fmt="2D", now_ms=NOW_MS)
    assert v.voucher is None and v.detail["code"] == "bad_base45"


def test_signature_checks_and_key_rotation(issuer_key: PrivateKey) -> None:
    st = state_for(issuer_key)
    tok = voucher_token(issuer_key)
    bad = verify(tamper_signature(tok), st, fmt="2D", now_ms=NOW_MS)
    assert bad.reason == "bad_signature" and bad.voucher is None  # nothing untrusted is shown
    other = PrivateKey.generate()
    assert reason(voucher_token(other), st) == "unknown_key"
    st.keys[other.public.kid] = other.public  # rotation: both keys trusted
    assert reason(voucher_token(other), st) == "accepted"
    assert reason(tok, st) == "accepted"


def test_validity_window(issuer_key: PrivateKey) -> None:
    st = state_for(issuer_key)
    tok = voucher_token(issuer_key, valid_days=1)
    assert reason(tok, st, now_ms=NOW_S * 1000) == "accepted"  # valid from nbf itself
    assert reason(tok, st, now_ms=(NOW_S + 86400) * 1000) == "accepted"  # ... to exp itself
    assert reason(tok, st, now_ms=(NOW_S + 86401) * 1000) == "expired"
    assert reason(tok, st, now_ms=(NOW_S - 1) * 1000) == "not_yet_valid"


def test_cinema_and_format(issuer_key: PrivateKey) -> None:
    st = state_for(issuer_key)
    bj = voucher_token(issuer_key, cinemas=("BJ01", "BJ02"))
    v = verify(bj, st, fmt="2D", now_ms=NOW_MS)
    assert v.reason == "wrong_cinema" and v.detail["cinemas"] == ["BJ01", "BJ02"]
    assert reason(voucher_token(issuer_key, cinemas=("SH01",)), st) == "accepted"
    st.cinema = None  # no home: no scope check
    assert reason(bj, st) == "accepted"
    only3d = voucher_token(issuer_key, formats=("3D",))
    v = verify(only3d, state_for(issuer_key), fmt="2D", now_ms=NOW_MS)
    assert v.reason == "wrong_format" and v.detail == {"chosen": "2D", "formats": ["3D"]}
    assert reason(only3d, state_for(issuer_key), fmt="3D") == "accepted"
    with pytest.raises(ValueError, match="format"):
        verify(only3d, st, fmt="4D", now_ms=NOW_MS)


def test_revoked_and_earlier_uses(issuer_key: PrivateKey) -> None:
    from kiosk.engine.facts import Revocation

    tok = voucher_token(issuer_key, admissions=2)
    cti = decode_voucher(tok).voucher.cti
    st = state_for(issuer_key)
    st.revoked[cti] = Revocation(reason="stolen", at_ms=1)
    v = verify(tok, st, fmt="2D", now_ms=NOW_MS)
    assert v.reason == "revoked" and v.detail["why"] == "stolen"
    del st.revoked[cti]
    st.used[cti] = [Use(5, "SH02", "dev-9", "李", remote=True)]
    assert reason(tok, st) == "accepted"  # 1 of 2 admissions used
    st.used[cti].append(Use(6, "SH01", "", "王", remote=False, record_uuid="u1"))
    v = verify(tok, st, fmt="2D", now_ms=NOW_MS)
    assert v.reason == "already_redeemed"
    assert v.detail["uses"] == 2 and v.detail["staff"] == "王" and v.detail["where"] == "here"


def test_typed_short_codes_go_through_the_roster(issuer_key: PrivateKey) -> None:
    tok = voucher_token(issuer_key)
    dv = decode_voucher(tok).voucher
    st = state_for(issuer_key)
    code = dv.short_code
    v = verify(code, st, fmt="2D", now_ms=NOW_MS)
    assert v.reason == "unknown_code" and v.detail["code"] == code
    st.roster[dv.cti] = tok
    typed = code.lower().replace("-", " ")
    c = check(typed, st, fmt="2D", now_ms=NOW_MS)
    assert c.verdict.reason == "accepted" and c.verdict.detail["typed"] is True
    assert c.token == tok  # the full token is what gets recorded
    st.roster[dv.cti] = tamper_signature(tok)  # a poisoned roster is still verified
    assert reason(code, st) == "bad_signature"
    st.roster[dv.cti] = voucher_token(issuer_key)  # ... and must name the same voucher
    assert reason(code, st) == "unknown_code"


def test_clock_warning_is_carried(issuer_key: PrivateKey) -> None:
    v = verify(
        voucher_token(issuer_key), state_for(issuer_key), fmt="2D", now_ms=NOW_MS, clock_behind=True
    )
    assert v.clock_warning and v.to_json()["clock_warning"] is True


# -- the same rules through the service and a real store ------------------------


def test_every_reason_code_through_the_service(
    svc: KioskService, issuer_key: PrivateKey, tmp_path: Path
) -> None:
    seen: set[str] = set()

    def red(text: str, fmt: str = "2D") -> str:
        r = svc.redeem(text, fmt=fmt, staff="王", source="scanner").reason
        seen.add(r)
        return r

    good = voucher_token(issuer_key)
    assert red(good) == "accepted"
    assert red(good) == "already_redeemed"
    again = svc.check(good, fmt="2D")
    assert (again.detail["staff"], again.detail["where"], again.detail["counter"]) == (
        "王",
        "here",
        "",
    )
    stolen = voucher_token(issuer_key)
    svc.store.apply_revocations(
        [RevocationEntry(decode_voucher(stolen).voucher.cti, "freeze", "stolen", 1)], "1"
    )
    assert red(stolen) == "revoked"
    held = voucher_token(issuer_key)  # an online partner's hold (issue 14), until NOW_MS + 60 s
    entry = RevocationEntry(decode_voucher(held).voucher.cti, "held", "held", NOW_MS + 60_000)
    svc.store.apply_revocations([entry], "2")
    assert red(held) == "held"
    assert red(voucher_token(issuer_key, now=NOW_S - 400 * 86400)) == "expired"
    assert red(voucher_token(issuer_key, now=NOW_S + 86400)) == "not_yet_valid"
    assert red(voucher_token(issuer_key, cinemas=("BJ01",))) == "wrong_cinema"
    assert red(voucher_token(issuer_key, formats=("3D",))) == "wrong_format"
    assert red(tamper_signature(voucher_token(issuer_key))) == "bad_signature"
    assert red(voucher_token(PrivateKey.generate())) == "unknown_key"
    assert red("0000-0000-0000-0000") == "unknown_code"
    assert red("CP1:ZZZZ") == "malformed"
    assert red("hello") == "not_a_voucher"
    # the counter's own reasons come last (they replace every verdict while they hold)
    assert seen == set(REASONS) - {"not_recorded", *COUNTER_REASONS}
    # every attempt is logged, the rejected ones without their token
    rows = svc.store.read("SELECT reason, short_code FROM attempts")
    assert len(rows) == 13 and sum(r[0] == "accepted" for r in rows) == 1
    files = [svc.store.path, svc.store.path.with_name(svc.store.path.name + "-wal")]
    db = b"".join(f.read_bytes() for f in files if f.exists())
    assert good.encode() in db  # the accepted token is in the record...
    assert stolen.encode() not in db  # ...a rejected one is nowhere
    t = svc.tally()  # the business day of the service clock (NOW_MS)
    assert (
        t.accepted == 1 and t.rejected["already_redeemed"] == 1 and sum(t.rejected.values()) == 12
    )
    svc.store.set_meta("clock_offset_ms", str(3600 * 1000))  # the server is an hour ahead
    assert red(voucher_token(issuer_key)) == "clock_behind"
    svc.store.set_meta("device_revoked", "1")
    assert red(voucher_token(issuer_key)) == "device_revoked"
    # not_recorded: test_engine_durability; the peer reasons: test_peers
    assert seen == set(REASONS) - {"not_recorded"}


def test_redeemed_elsewhere_and_admissions(svc: KioskService, issuer_key: PrivateKey) -> None:
    tok = voucher_token(issuer_key, admissions=3)
    cti = decode_voucher(tok).voucher.cti
    svc.store.apply_revocations(
        [
            RevocationEntry(cti, "redeemed", "", NOW_MS - 5000, "SH02", "dev-2", "李"),
            RevocationEntry(cti, "redeemed", "", NOW_MS - 5000, "SH02", "dev-2", "李"),  # replayed
        ],
        "7",
    )
    assert svc.redeem(tok, fmt="2D", staff="a").reason == "accepted"  # 2nd of 3
    v = svc.redeem(tok, fmt="2D", staff="b")
    assert v.reason == "accepted" and v.detail["admission"] == 3
    v = svc.redeem(tok, fmt="2D", staff="c")
    assert v.reason == "already_redeemed" and v.detail["uses"] == 3
    one = voucher_token(issuer_key)
    c1 = decode_voucher(one).voucher.cti
    svc.store.apply_revocations(
        [RevocationEntry(c1, "redeemed", "", 9, "SH09", "dev-7", "赵")], "8"
    )
    v = svc.check(one, fmt="2D")
    assert v.reason == "already_redeemed"
    assert (v.detail["where"], v.detail["cinema"], v.detail["device"], v.detail["staff"]) == (
        "elsewhere",
        "SH09",
        "dev-7",
        "赵",
    )


def test_a_use_voided_elsewhere_frees_the_voucher(
    svc: KioskService, issuer_key: PrivateKey
) -> None:
    """The server withdraws "redeemed" with "unredeemed" when that counter voided the use."""
    tok = voucher_token(issuer_key)
    cti = decode_voucher(tok).voucher.cti
    used = RevocationEntry(cti, "redeemed", "", NOW_MS - 5000, "SH02", "dev-2", "李")
    svc.store.apply_revocations([used], "3")
    assert svc.check(tok, fmt="2D").reason == "already_redeemed"
    svc.store.apply_revocations([RevocationEntry(cti, "unredeemed", "", NOW_MS - 1000)], "4")
    assert svc.check(tok, fmt="2D").reason == "accepted"
    # within one batch the order counts: used, freed, used again -> used
    svc.store.apply_revocations(
        [used, RevocationEntry(cti, "unredeemed", "", NOW_MS - 900), used], "5"
    )
    assert svc.check(tok, fmt="2D").reason == "already_redeemed"
    svc.store.apply_revocations([used, RevocationEntry(cti, "unredeemed", "", NOW_MS - 800)], "6")
    assert svc.redeem(tok, fmt="2D", staff="a").accepted


def test_own_records_coming_back_in_the_feed_are_not_counted_twice(
    svc: KioskService, issuer_key: PrivateKey
) -> None:
    svc.config.device_id = "dev-1"
    tok = voucher_token(issuer_key, admissions=2)
    v = svc.redeem(tok, fmt="2D")
    assert v.accepted
    cti = decode_voucher(tok).voucher.cti
    svc.store.apply_revocations(
        [RevocationEntry(cti, "redeemed", "", NOW_MS, "SH01", "dev-1")], "2"
    )
    assert svc.redeem(tok, fmt="2D").accepted


def test_unfreeze_and_snapshot(svc: KioskService, issuer_key: PrivateKey) -> None:
    tok = voucher_token(issuer_key)
    cti = decode_voucher(tok).voucher.cti
    svc.store.apply_revocations([RevocationEntry(cti, "freeze", "lost", 1)], "1")
    assert svc.check(tok, fmt="2D").reason == "revoked"
    svc.store.apply_revocations([RevocationEntry(cti, "unfreeze", "found", 2)], "2")
    assert svc.check(tok, fmt="2D").reason == "accepted"
    svc.store.replace_revocations([RevocationEntry(cti, "freeze", "replaced", 3)], "3")
    assert svc.check(tok, fmt="2D").detail["why"] == "replaced"
    assert svc.store.get_cursor("revocations") == "3"
    svc.store.replace_revocations([], "4")
    assert svc.check(tok, fmt="2D").accepted


def test_typed_code_through_the_service(svc: KioskService, issuer_key: PrivateKey) -> None:
    tok = voucher_token(issuer_key)
    dv = decode_voucher(tok).voucher
    svc.store.apply_roster([RosterEntry(dv.cti, tok)], "r1")
    v = svc.redeem(dv.short_code.lower(), fmt="2D", staff="x", source="typed")
    assert v.accepted and v.record_uuid is not None
    rec = svc.store.record(v.record_uuid)
    assert rec is not None and rec.token == tok and rec.voucher == dv.cti
    svc.store.apply_roster([RosterEntry(dv.cti, "", removed=True)], "r2")
    assert svc.check(dv.short_code, fmt="2D").reason == "unknown_code"
