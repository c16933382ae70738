"""Interop with pycose, an independent COSE implementation (test-only dependency).

pycose verifies vouchers our codec signs, and our codec verifies vouchers
pycose signs over our payload. cbor2 6.x decodes the COSE array as a tuple
and maps as frozendict, which pycose does not accept, so the message is
handed to pycose as a plain list; the signature check is pycose's own.
"""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

from sync.voucher import (
    PREFIX,
    PrivateKey,
    SignatureError,
    decode_and_verify,
    encode_voucher,
    keyring,
    make_voucher,
)
from sync.voucher.base45 import b45decode, b45encode


def _seed(key: PrivateKey) -> bytes:
    return key._key.private_bytes(  # test-only: pycose needs the raw seed
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _pycose_message(text: str) -> Sign1Message:
    outer = cbor2.loads(b45decode(text[len(PREFIX) :]))
    assert outer.tag == 18
    protected, unprotected, payload, signature = outer.value
    return Sign1Message.from_cose_obj([protected, dict(unprotected), payload, signature], True)


@pytest.mark.parametrize("holder", [None, "张*明", "John S."])
def test_pycose_verifies_our_vouchers(issuer_key: PrivateKey, holder: str | None) -> None:
    text = encode_voucher(make_voucher("ACFTU-SH", holder=holder, sub="M-9"), issuer_key)
    msg = _pycose_message(text)
    assert msg.phdr[Algorithm] is EdDSA
    assert msg.phdr[KID] == issuer_key.public.kid
    msg.key = OKPKey(crv=Ed25519, x=issuer_key.public.raw)
    assert msg.verify_signature()
    # and pycose rejects it once altered: the check is real
    msg.payload = msg.payload[:-1] + bytes([msg.payload[-1] ^ 1])
    assert not msg.verify_signature()


def test_we_verify_vouchers_pycose_signs(issuer_key: PrivateKey) -> None:
    v = make_voucher("ACFTU-SH", holder="李*", campaign="interop", now=1_800_000_000)
    payload = cbor2.dumps(v.claims())
    msg = Sign1Message(phdr={Algorithm: EdDSA, KID: issuer_key.public.kid}, payload=payload)
    msg.key = OKPKey(crv=Ed25519, d=_seed(issuer_key), x=issuer_key.public.raw)
    text = PREFIX + b45encode(msg.encode(tag=True))
    assert decode_and_verify(text, keyring(issuer_key.public)) == v
    # pycose's bytes are exactly ours for the same claims (deterministic Ed25519)
    assert text == encode_voucher(v, issuer_key)


def test_pycose_signature_by_another_key_is_refused(issuer_key: PrivateKey) -> None:
    other = PrivateKey.generate()
    payload = cbor2.dumps(make_voucher("X").claims())
    msg = Sign1Message(phdr={Algorithm: EdDSA, KID: issuer_key.public.kid}, payload=payload)
    msg.key = OKPKey(crv=Ed25519, d=_seed(other), x=other.public.raw)
    text = PREFIX + b45encode(msg.encode(tag=True))
    with pytest.raises(SignatureError):
        decode_and_verify(text, keyring(issuer_key.public))
