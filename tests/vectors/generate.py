"""Regenerate ``vouchers.json``, the known-answer vectors of the voucher format.

Run ``.venv/bin/python tests/vectors/generate.py > tests/vectors/vouchers.json``
only when the format itself changes (it must not: third parties rely on it).
Ed25519 is deterministic, so the same seed and claims always give the same
text; the tests check the committed file against the codec in both
directions, so a codec change that alters one byte fails them.

Positive vectors are made by the codec (``direction: both``) or assembled by
hand (``direction: decode``: valid encodings our encoder never writes, such
as an omitted ``admissions``). Negative vectors are assembled by hand and,
where they have a signature, signed with the vector key: the decoder must
refuse them for their structure, not merely for a bad signature.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import cbor2

from sync.voucher.base45 import b45encode
from sync.voucher.codec import PREFIX, Voucher, encode_voucher, sig_structure
from sync.voucher.keys import PrivateKey

SEED = hashlib.sha256(b"CinePass voucher test vector key 1").digest()
OTHER_SEED = hashlib.sha256(b"CinePass voucher test vector key 2 (not trusted)").digest()
KEY = PrivateKey.from_raw(SEED)
OTHER = PrivateKey.from_raw(OTHER_SEED)
KID = KEY.public.kid
T0 = 1_798_761_600  # 2027-01-01T00:00:00Z
YEAR = 366 * 86400


def claims_json(v: Voucher) -> dict[str, Any]:
    return {
        "iss": v.iss,
        "sub": v.sub,
        "iat": v.iat,
        "nbf": v.nbf,
        "exp": v.exp,
        "cti": v.cti.hex(),
        "formats": list(v.formats),
        "cinemas": list(v.cinemas) if v.cinemas is not None else None,
        "holder": v.holder,
        "admissions": v.admissions,
        "campaign": v.campaign,
    }


def assemble(
    payload: Any,
    *,
    protected: Any = None,
    unprotected: Any = None,
    key: PrivateKey = KEY,
    tag: int = 18,
    signature: bytes | None = None,
    raw_payload: bytes | None = None,
    trailing: bytes = b"",
) -> tuple[str, bytes]:
    """Hand-build a COSE_Sign1 the way the docstring describes, signed for real."""
    prot = cbor2.dumps({1: -8, 4: key.public.kid} if protected is None else protected)
    body = raw_payload if raw_payload is not None else cbor2.dumps(payload)
    sig = key.sign(sig_structure(prot, body)) if signature is None else signature
    cose = cbor2.dumps(
        cbor2.CBORTag(tag, [prot, {} if unprotected is None else unprotected, body, sig])
    )
    cose += trailing
    return PREFIX + b45encode(cose), cose


def base_claims(changes: dict[Any, Any] | None = None) -> dict[Any, Any]:
    claims: dict[Any, Any] = {
        1: "ACFTU-SH",
        4: T0 + YEAR,
        5: T0,
        6: T0,
        7: bytes.fromhex("00112233445566778899"),
        -65537: {1: ["2D", "3D"], 4: 1},
    }
    claims.update(changes or {})
    return claims


def positives() -> list[dict[str, Any]]:
    out = []
    full = Voucher(
        iss="ACFTU-SH",
        sub="M-000123",
        cti=bytes.fromhex("00112233445566778899"),
        iat=T0,
        nbf=T0,
        exp=T0 + YEAR,
        formats=("2D", "3D"),
        cinemas=("SH-001", "SH-002"),
        holder="张*明",
        admissions=1,
        campaign="2027春节",
    )
    minimal = Voucher(
        iss="ACFTU-SH",
        cti=bytes.fromhex("ffeeddccbbaa99887766"),
        iat=T0,
        nbf=T0 + 3600,
        exp=T0 + YEAR,
        formats=("2D",),
    )
    family = Voucher(
        iss="ACFTU-BJ",
        sub="BJ-42",
        cti=bytes.fromhex("0a0b0c0d0e0f10111213"),
        iat=T0,
        nbf=T0,
        exp=T0 + 2 * YEAR,
        formats=("3D",),
        holder="John S.",
        admissions=2,
    )
    for name, v in (("full", full), ("minimal", minimal), ("two_admissions", family)):
        text = encode_voucher(v, KEY)
        cose = _cose_of(text)
        out.append(
            {
                "name": name,
                "direction": "both",
                "claims": claims_json(v),
                "payload_hex": cbor2.dumps(v.claims(), canonical=True).hex(),
                "cose_hex": cose.hex(),
                "text": text,
                "short_code": v.short_code,
            }
        )
    # a third-party encoder may omit admissions (default 1) and order keys differently
    claims = base_claims()
    claims[-65537] = {1: ["2D", "3D"]}
    text, cose = assemble(dict(reversed(list(claims.items()))))
    v = Voucher(
        iss="ACFTU-SH",
        cti=bytes.fromhex("00112233445566778899"),
        iat=T0,
        nbf=T0,
        exp=T0 + YEAR,
        formats=("2D", "3D"),
    )
    out.append(
        {
            "name": "admissions_omitted_keys_unsorted",
            "direction": "decode",
            "claims": claims_json(v),
            "cose_hex": cose.hex(),
            "text": text,
            "short_code": v.short_code,
        }
    )
    return out


def _cose_of(text: str) -> bytes:
    from sync.voucher.base45 import b45decode

    return b45decode(text[len(PREFIX) :])


def negatives() -> list[dict[str, Any]]:
    good_text, good_cose = assemble(base_claims())
    cases: list[tuple[str, str, str, str]] = []  # name, text, error class, reason

    def add(name: str, text: str, cls: str, reason: str) -> None:
        cases.append((name, text, cls, reason))

    add("empty", "", "NotAVoucher", "empty")
    add("other_qr", "https://example.com/ticket/1", "NotAVoucher", "wrong_prefix")
    add("eu_dcc_prefix", "HC1:" + good_text[4:], "NotAVoucher", "wrong_prefix")
    add("lower_case_prefix", "cp1:" + good_text[4:], "NotAVoucher", "wrong_prefix")
    add("too_large", PREFIX + "0" * 2100, "MalformedVoucher", "too_large")
    add(
        "lower_case_base45", good_text[:4] + good_text[4:].lower(), "MalformedVoucher", "bad_base45"
    )
    add("base45_bad_length", good_text + "0", "MalformedVoucher", "bad_base45")
    add("base45_triple_overflow", PREFIX + "GGW", "MalformedVoucher", "bad_base45")
    add("base45_bad_char", PREFIX + "AB#", "MalformedVoucher", "bad_base45")
    add("not_cbor", PREFIX + b45encode(b"\xff\xff"), "MalformedVoucher", "bad_cbor")
    add("truncated", PREFIX + b45encode(good_cose[:-10]), "MalformedVoucher", "bad_cbor")
    add(
        "trailing_byte",
        PREFIX + b45encode(good_cose + b"\x00"),
        "MalformedVoucher",
        "trailing_bytes",
    )
    add("cose_sign_tag_98", assemble(base_claims(), tag=98)[0], "MalformedVoucher", "not_cose")
    add("untagged", PREFIX + b45encode(good_cose[1:]), "MalformedVoucher", "not_cose")
    three = cbor2.dumps(
        cbor2.CBORTag(18, [cbor2.dumps({1: -8, 4: KID}), {}, cbor2.dumps(base_claims())])
    )
    add("array_of_three", PREFIX + b45encode(three), "MalformedVoucher", "not_cose")
    add(
        "unprotected_not_empty",
        assemble(base_claims(), unprotected={4: KID})[0],
        "MalformedVoucher",
        "bad_header",
    )
    add(
        "alg_es256",
        assemble(base_claims(), protected={1: -7, 4: KID})[0],
        "MalformedVoucher",
        "unsupported_alg",
    )
    add(
        "alg_as_float",
        assemble(base_claims(), protected={1: -8.0, 4: KID})[0],
        "MalformedVoucher",
        "unsupported_alg",
    )
    add("no_kid", assemble(base_claims(), protected={1: -8})[0], "MalformedVoucher", "bad_header")
    add(
        "kid_7_bytes",
        assemble(base_claims(), protected={1: -8, 4: KID[:7]})[0],
        "MalformedVoucher",
        "bad_header",
    )
    add(
        "extra_header",
        assemble(base_claims(), protected={1: -8, 4: KID, 3: 0})[0],
        "MalformedVoucher",
        "bad_header",
    )
    add(
        "signature_63_bytes",
        assemble(base_claims(), signature=bytes(63))[0],
        "MalformedVoucher",
        "bad_signature_length",
    )
    claims = base_claims()
    del claims[4]
    add("missing_exp", assemble(claims)[0], "MalformedVoucher", "bad_claims")
    add("cti_9_bytes", assemble(base_claims({7: bytes(9)}))[0], "MalformedVoucher", "bad_claims")
    add("iat_text", assemble(base_claims({6: "2027-01-01"}))[0], "MalformedVoucher", "bad_claims")
    add("iat_bool", assemble(base_claims({6: True}))[0], "MalformedVoucher", "bad_claims")
    add("iat_negative", assemble(base_claims({6: -1}))[0], "MalformedVoucher", "bad_claims")
    add("unknown_claim", assemble(base_claims({8: 1}))[0], "MalformedVoucher", "bad_claims")
    claims = base_claims()
    claims[6.0] = claims.pop(6)
    add("claim_key_float", assemble(claims)[0], "MalformedVoucher", "bad_claims")
    add(
        "unknown_cinepass_claim",
        assemble(base_claims({-65537: {1: ["2D"], 9: 1}}))[0],
        "MalformedVoucher",
        "bad_claims",
    )
    add(
        "formats_empty",
        assemble(base_claims({-65537: {1: []}}))[0],
        "MalformedVoucher",
        "bad_claims",
    )
    add(
        "formats_missing",
        assemble(base_claims({-65537: {4: 1}}))[0],
        "MalformedVoucher",
        "bad_claims",
    )
    add(
        "admissions_zero",
        assemble(base_claims({-65537: {1: ["2D"], 4: 0}}))[0],
        "MalformedVoucher",
        "bad_claims",
    )
    add(
        "holder_empty",
        assemble(base_claims({-65537: {1: ["2D"], 3: ""}}))[0],
        "MalformedVoucher",
        "bad_claims",
    )
    add("exp_before_nbf", assemble(base_claims({4: T0 - 1}))[0], "MalformedVoucher", "bad_claims")
    add("payload_array", assemble([1, 2, 3])[0], "MalformedVoucher", "bad_claims")
    add(
        "payload_trailing",
        assemble(None, raw_payload=cbor2.dumps(base_claims()) + b"\x00")[0],
        "MalformedVoucher",
        "trailing_bytes",
    )
    bad_sig = bytearray(good_cose)
    bad_sig[-1] ^= 0x01
    add("signature_flipped", PREFIX + b45encode(bytes(bad_sig)), "SignatureError", "bad_signature")
    altered = base_claims({4: T0 + 10 * YEAR})
    forged_text, _ = assemble(
        altered, signature=_cose_signature(good_cose)
    )  # a valid signature, but over the original claims
    add("exp_extended_same_signature", forged_text, "SignatureError", "bad_signature")
    add("untrusted_key", assemble(base_claims(), key=OTHER)[0], "UnknownKey", "unknown_key")
    return [{"name": n, "text": t, "error": c, "reason": r} for n, t, c, r in cases]


def _cose_signature(cose: bytes) -> bytes:
    return bytes(cbor2.loads(cose).value[3])


def main() -> None:
    doc = {
        "description": "CinePass voucher known-answer vectors (see docs/voucher-format.md)",
        "private_key_seed_hex": SEED.hex(),
        "public_key_hex": KEY.public.raw.hex(),
        "kid_hex": KID.hex(),
        "untrusted_public_key_hex": OTHER.public.raw.hex(),
        "positive": positives(),
        "negative": negatives(),
    }
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
