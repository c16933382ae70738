"""Tampering: every byte of a voucher matters, and every failure is a VoucherError.

Each byte of the COSE message is flipped (one bit, then all bits) and each
character of the QR text replaced; none of the results may verify, and the
only exception allowed out of the decoder is a VoucherError subclass.
"""

from __future__ import annotations

import pytest

from sync.voucher import (
    PREFIX,
    PrivateKey,
    SignatureError,
    VoucherError,
    decode_and_verify,
    encode_voucher,
    keyring,
    make_voucher,
)
from sync.voucher.base45 import ALPHABET, b45decode, b45encode


@pytest.fixture(scope="module")
def signed(issuer_key: PrivateKey) -> tuple[str, bytes]:
    v = make_voucher(
        "ACFTU-SH",
        holder="张*明",
        campaign="2027春节",
        sub="M-1",
        cinemas=("SH-001",),
        now=1_800_000_000,
    )
    text = encode_voucher(v, issuer_key)
    return text, b45decode(text[len(PREFIX) :])


def _refused(text: str, key: PrivateKey) -> VoucherError:
    try:
        decode_and_verify(text, keyring(key.public))
    except VoucherError as exc:
        return exc
    raise AssertionError(f"a tampered voucher verified: {text}")


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_every_cose_byte_flipped_fails(
    signed: tuple[str, bytes], issuer_key: PrivateKey, mask: int
) -> None:
    _, cose = signed
    reasons = set()
    for i in range(len(cose)):
        bad = bytearray(cose)
        bad[i] ^= mask
        reasons.add(_refused(PREFIX + b45encode(bytes(bad)), issuer_key).reason)
    # structure errors and signature errors both occur: the flips hit both kinds of byte
    assert "bad_signature" in reasons and len(reasons) > 2


def test_every_signature_and_payload_byte_flip_is_a_signature_error(
    signed: tuple[str, bytes], issuer_key: PrivateKey
) -> None:
    _, cose = signed
    for i in range(len(cose) - 64, len(cose)):  # the signature itself
        bad = bytearray(cose)
        bad[i] ^= 0x01
        with pytest.raises(SignatureError):
            decode_and_verify(PREFIX + b45encode(bytes(bad)), keyring(issuer_key.public))


def test_every_text_character_replaced_fails(
    signed: tuple[str, bytes], issuer_key: PrivateKey
) -> None:
    text, _ = signed
    for i in range(len(text)):
        for repl in (ALPHABET[(ALPHABET.find(text[i]) + 1) % 45], "a"):
            if repl == text[i]:
                continue
            _refused(text[:i] + repl + text[i + 1 :], issuer_key)


def test_truncations_and_extensions_fail(signed: tuple[str, bytes], issuer_key: PrivateKey) -> None:
    text, cose = signed
    for n in range(len(text)):
        _refused(text[:n], issuer_key)
    for extra in ("0", "00", "000", " ", "\n"):
        _refused(text + extra, issuer_key)
    for n in range(len(cose)):
        _refused(PREFIX + b45encode(cose[:n]), issuer_key)
    _refused(PREFIX + b45encode(cose + cose), issuer_key)


def test_wrong_key_with_the_right_kid_is_a_signature_error(
    signed: tuple[str, bytes], issuer_key: PrivateKey
) -> None:
    text, _ = signed
    impostor = PrivateKey.generate().public
    with pytest.raises(SignatureError):
        decode_and_verify(text, {issuer_key.public.kid: impostor})
