"""Round trip and short-code basics of the voucher codec."""

from __future__ import annotations

import pytest

from sync.voucher import (
    NotAVoucher,
    PrivateKey,
    SignatureError,
    UnknownKey,
    decode_and_verify,
    encode_voucher,
    keyring,
    make_voucher,
    normalize_short_code,
    parse_short_code,
)


def test_round_trip(issuer_key: PrivateKey) -> None:
    v = make_voucher("ACFTU-SH", holder="张*明", campaign="2027春节", now=1_800_000_000)
    text = encode_voucher(v, issuer_key)
    assert text.startswith("CP1:")
    assert decode_and_verify(text, keyring(issuer_key.public)) == v


def test_other_key_is_unknown_and_forgery_fails(issuer_key: PrivateKey) -> None:
    other = PrivateKey.generate()
    text = encode_voucher(make_voucher("X"), other)
    with pytest.raises(UnknownKey):
        decode_and_verify(text, keyring(issuer_key.public))
    # a forger who puts the trusted kid on his own signature still fails
    with pytest.raises(SignatureError):
        decode_and_verify(text, {other.public.kid: issuer_key.public})


def test_not_a_voucher() -> None:
    with pytest.raises(NotAVoucher) as e:
        decode_and_verify("https://example.com", {})
    assert e.value.reason == "wrong_prefix"


def test_short_code_forgiving() -> None:
    cti = bytes(range(10))
    from sync.voucher import encode_short_code

    code = encode_short_code(cti)
    assert len(code) == 19 and code.count("-") == 3
    assert parse_short_code(code.lower().replace("-", "")) == cti
    assert normalize_short_code(code.replace("1", "l").replace("0", "o")) == code
