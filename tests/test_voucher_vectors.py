"""Known-answer vectors (tests/vectors/vouchers.json), checked in both directions.

Encoding the vector claims with the vector key must give the committed QR
text byte for byte (Ed25519 is deterministic), and decoding the committed
text must give the claims. Independently of the codec, the first vector is
re-assembled here from the byte layout in docs/voucher-format.md with bare
cbor2 + cryptography calls, so the codec and the document cannot drift apart
together. Negative vectors must fail with exactly their error class and reason.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import sync.voucher as sv
from sync.voucher import (
    PrivateKey,
    PublicKey,
    Voucher,
    decode_and_verify,
    decode_voucher,
    encode_voucher,
    keyring,
)
from sync.voucher.base45 import b45decode, b45encode

VECTORS = json.loads((Path(__file__).parent / "vectors" / "vouchers.json").read_text("utf-8"))
SEED = bytes.fromhex(VECTORS["private_key_seed_hex"])
KEY = PrivateKey.from_raw(SEED)
TRUSTED = keyring(KEY.public)
POSITIVE = VECTORS["positive"]
NEGATIVE = VECTORS["negative"]


def voucher_of(c: dict[str, Any]) -> Voucher:
    return Voucher(
        iss=c["iss"],
        sub=c["sub"],
        cti=bytes.fromhex(c["cti"]),
        iat=c["iat"],
        nbf=c["nbf"],
        exp=c["exp"],
        formats=tuple(c["formats"]),
        cinemas=tuple(c["cinemas"]) if c["cinemas"] is not None else None,
        holder=c["holder"],
        admissions=c["admissions"],
        campaign=c["campaign"],
    )


def test_vector_key() -> None:
    assert KEY.public.raw.hex() == VECTORS["public_key_hex"]
    assert hashlib.sha256(KEY.public.raw).digest()[:8].hex() == VECTORS["kid_hex"]
    assert KEY.public.kid.hex() == VECTORS["kid_hex"]


@pytest.mark.parametrize(
    "vec", [v for v in POSITIVE if v["direction"] == "both"], ids=lambda v: v["name"]
)
def test_encode_gives_the_committed_text(vec: dict[str, Any]) -> None:
    v = voucher_of(vec["claims"])
    text = encode_voucher(v, KEY)
    assert text == vec["text"]
    assert b45decode(text[4:]).hex() == vec["cose_hex"]
    assert cbor2.dumps(v.claims(), canonical=True).hex() == vec["payload_hex"]
    assert v.short_code == vec["short_code"]


@pytest.mark.parametrize("vec", POSITIVE, ids=lambda v: v["name"])
def test_decode_gives_the_committed_claims(vec: dict[str, Any]) -> None:
    assert decode_and_verify(vec["text"], TRUSTED) == voucher_of(vec["claims"])
    decoded = decode_voucher(vec["text"])
    assert decoded.kid.hex() == VECTORS["kid_hex"]
    assert decoded.voucher.short_code == vec["short_code"]


def test_first_vector_assembled_by_hand_from_the_documented_layout() -> None:
    vec = POSITIVE[0]
    payload = bytes.fromhex(vec["payload_hex"])
    kid = bytes.fromhex(VECTORS["kid_hex"])
    protected = bytes([0xA2, 0x01, 0x27, 0x04, 0x48]) + kid  # {1: -8, 4: h'kid'}
    assert len(protected) == 13
    # Sig_structure = ["Signature1", protected, h'', payload]
    sig_structure = (
        b"\x84"
        + b"\x6aSignature1"
        + b"\x4d"
        + protected
        + b"\x40"
        + b"\x58"
        + bytes([len(payload)])
        + payload
    )
    signature = Ed25519PrivateKey.from_private_bytes(SEED).sign(sig_structure)
    cose = (
        b"\xd2\x84"  # tag 18, array(4)
        + b"\x4d"
        + protected
        + b"\xa0"  # unprotected: {}
        + b"\x58"
        + bytes([len(payload)])
        + payload
        + b"\x58\x40"
        + signature
    )
    assert cose.hex() == vec["cose_hex"]
    assert "CP1:" + b45encode(cose) == vec["text"]
    # the payload map, key by key (deterministic order: 1, 2, 4, 5, 6, 7, -65537)
    claims = cbor2.loads(payload)
    assert list(claims) == [1, 2, 4, 5, 6, 7, -65537]
    assert payload[:1] == b"\xa7"  # map of 7 pairs
    assert b"\x3a\x00\x01\x00\x00" in payload  # the key -65537


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
    ],
)
def test_base45_rfc9285_examples(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@pytest.mark.parametrize("vec", NEGATIVE, ids=lambda v: v["name"])
def test_negative_vectors_fail_with_their_reason(vec: dict[str, Any]) -> None:
    error = getattr(sv, vec["error"])
    with pytest.raises(sv.VoucherError) as caught:
        decode_and_verify(vec["text"], TRUSTED)
    assert type(caught.value) is error, caught.value
    assert caught.value.reason == vec["reason"]
    assert caught.value.message  # a sentence for people, not just a code


def test_negative_vectors_cover_every_documented_reason() -> None:
    reasons = {v["reason"] for v in NEGATIVE}
    documented = {
        "empty",
        "wrong_prefix",
        "too_large",
        "bad_base45",
        "bad_cbor",
        "trailing_bytes",
        "not_cose",
        "bad_header",
        "unsupported_alg",
        "bad_claims",
        "bad_signature_length",
        "bad_signature",
        "unknown_key",
    }
    assert documented <= reasons


def test_untrusted_key_vector_verifies_with_that_key() -> None:
    """The unknown_key vector is a good voucher, just from a key we do not trust."""
    vec = next(v for v in NEGATIVE if v["name"] == "untrusted_key")
    other = PublicKey.from_raw(bytes.fromhex(VECTORS["untrusted_public_key_hex"]))
    assert decode_and_verify(vec["text"], keyring(other)).iss == "ACFTU-SH"


def test_format_document_shows_the_first_vector() -> None:
    """docs/voucher-format.md's worked example is the committed vector, not a stale copy."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "voucher-format.md").read_text("utf-8")
    vec = POSITIVE[0]
    assert vec["text"] in doc
    assert vec["short_code"] in doc
    assert VECTORS["private_key_seed_hex"] in doc and VECTORS["kid_hex"] in doc
    signature = vec["cose_hex"][-128:]
    assert signature[:64] in doc and signature[64:] in doc
