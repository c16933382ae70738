"""The CinePass voucher codec: ``CP1:`` + Base45(COSE_Sign1(CWT claims)).

This is the one place that turns a voucher into QR text and back; the admin
tool, the kiosk, the server and the tests all call it. It is the same stack as
the EU digital COVID certificate (CBOR, COSE, CWT, Base45), minus zlib: our
payload is ~150 bytes and compression would only add an attack surface.

Byte by byte
============

QR text::

    "CP1:" || Base45(COSE)            Base45 per RFC 9285, upper case only

COSE (RFC 9052 COSE_Sign1, tagged)::

    d2                                  tag 18 (COSE_Sign1)
      84                                array(4)
        4d a2 01 27 04 48 <kid:8>       bstr(13): protected = {1: -8, 4: kid}
        a0                              unprotected = {} (must be empty)
        58 xx <payload>                 bstr: payload (CWT claims, below)
        58 40 <signature:64>            bstr(64): Ed25519 signature

``kid`` = SHA-256(raw 32-byte issuer public key)[0:8]. ``1: -8`` is alg EdDSA.
The signature is Ed25519 over the RFC 9052 Sig_structure::

    ["Signature1", protected_bstr, h'' (external AAD, empty), payload_bstr]

Payload (RFC 8392 CWT claims, a CBOR map with integer keys, deterministic
order as written by the issuer)::

    1  iss   text     issuing union's code, e.g. "ACFTU-SH"
    2  sub   text     optional: member reference
    4  exp   int      not valid after (seconds since 1970 UTC)
    5  nbf   int      not valid before
    6  iat   int      issued at
    7  cti   bstr(10) voucher id (random); its Crockford Base32 is the short code
    -65537   map      CinePass claims:
        1  formats     array of text, non-empty (e.g. ["2D", "3D"])
        2  cinemas     array of text, optional (absent = every partner cinema)
        3  holder      text, optional, already masked (e.g. "张*明")
        4  admissions  int >= 1, optional (absent = 1)
        5  campaign    text, optional

Decoding is strict and total: unknown headers or claims, wrong types, booleans
or floats where integers belong (map keys and alg included: ``6.0 == 6`` in
Python, not in CBOR), trailing bytes after any CBOR item, a signature that is
not 64 bytes, any of these raises a :class:`~sync.voucher.errors.VoucherError`
subclass with a reason code. Nothing else escapes :func:`decode_voucher`.
Known-answer vectors: ``tests/vectors/vouchers.json``; the same format for
third-party implementers, with a worked example: ``docs/voucher-format.md``.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cbor2

from .base45 import b45decode, b45encode
from .errors import MalformedVoucher, NotAVoucher, SignatureError, UnknownKey, VoucherError
from .keys import KID_LENGTH, PrivateKey, PublicKey
from .shortcode import CTI_LENGTH, encode_short_code

PREFIX = "CP1:"
MAX_TEXT_LENGTH = 2048  # a real voucher is ~300 characters
COSE_SIGN1_TAG = 18
ALG_EDDSA = -8
HDR_ALG = 1
HDR_KID = 4
CLAIM_ISS, CLAIM_SUB, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI = 1, 2, 4, 5, 6, 7
CLAIM_CINEPASS = -65537
CP_FORMATS, CP_CINEMAS, CP_HOLDER, CP_ADMISSIONS, CP_CAMPAIGN = 1, 2, 3, 4, 5
MAX_TEXT_CLAIM = 128
# isinstance() with a tuple is several times faster than with an X | Y union,
# and this runs on every scan. cbor2 gives frozendict/tuple inside tags.
_MAP = (dict, cbor2.frozendict)
_SEQ = (list, tuple)
MAX_LIST = 64


@dataclass(frozen=True)
class Voucher:
    """The claims of one voucher, as issued (all times are UTC epoch seconds)."""

    iss: str
    cti: bytes
    iat: int
    nbf: int
    exp: int
    formats: tuple[str, ...] = ("2D", "3D")
    cinemas: tuple[str, ...] | None = None
    holder: str | None = None
    admissions: int = 1
    campaign: str | None = None
    sub: str | None = None

    @property
    def short_code(self) -> str:
        return encode_short_code(self.cti)

    def claims(self) -> dict[int, Any]:
        """The CWT claims map exactly as it is signed."""
        cp: dict[int, Any] = {CP_FORMATS: list(self.formats)}
        if self.cinemas is not None:
            cp[CP_CINEMAS] = list(self.cinemas)
        if self.holder is not None:
            cp[CP_HOLDER] = self.holder
        cp[CP_ADMISSIONS] = self.admissions
        if self.campaign is not None:
            cp[CP_CAMPAIGN] = self.campaign
        claims: dict[int, Any] = {CLAIM_ISS: self.iss}
        if self.sub is not None:
            claims[CLAIM_SUB] = self.sub
        claims.update(
            {
                CLAIM_EXP: self.exp,
                CLAIM_NBF: self.nbf,
                CLAIM_IAT: self.iat,
                CLAIM_CTI: self.cti,
                CLAIM_CINEPASS: cp,
            }
        )
        return claims


@dataclass(frozen=True)
class DecodedVoucher:
    """A structurally valid voucher whose signature is not yet checked."""

    voucher: Voucher
    kid: bytes
    protected: bytes = field(repr=False)
    payload: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    def signed_bytes(self) -> bytes:
        return sig_structure(self.protected, self.payload)


def new_cti() -> bytes:
    """A fresh random 10-byte voucher id (80 bits: collisions are not a concern)."""
    return os.urandom(CTI_LENGTH)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 Sig_structure for COSE_Sign1 with empty external AAD."""
    return bytes(cbor2.dumps(["Signature1", protected, b"", payload]))


def protected_header(kid: bytes) -> bytes:
    return bytes(cbor2.dumps({HDR_ALG: ALG_EDDSA, HDR_KID: kid}))


def encode_voucher(voucher: Voucher, key: PrivateKey) -> str:
    """Sign ``voucher`` with the issuer's key and return its QR text."""
    payload = _checked_payload(voucher)
    protected = protected_header(key.public.kid)
    signature = key.sign(sig_structure(protected, payload))
    cose = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return PREFIX + b45encode(bytes(cose))


def make_voucher(
    iss: str,
    *,
    valid_days: int = 365,
    now: int | None = None,
    formats: tuple[str, ...] = ("2D", "3D"),
    cinemas: tuple[str, ...] | None = None,
    holder: str | None = None,
    campaign: str | None = None,
    sub: str | None = None,
    admissions: int = 1,
    cti: bytes | None = None,
    exp: int | None = None,
) -> Voucher:
    """Build the claims of a new voucher valid from ``now`` for ``valid_days`` days.

    The one place claims are put together: issuing (:func:`sync.issuing.create_voucher`,
    which passes an ``exp`` at the end of a calendar day), reissuing, the tests and the
    benchmarks all come through here, so a new claim is added once.
    """
    t = int(time.time()) if now is None else now
    return Voucher(
        iss=iss,
        cti=new_cti() if cti is None else cti,
        iat=t,
        nbf=t,
        exp=t + valid_days * 86400 if exp is None else exp,
        formats=formats,
        cinemas=cinemas,
        holder=holder,
        admissions=admissions,
        campaign=campaign,
        sub=sub,
    )


def _loads_exact(data: bytes, what: str) -> Any:
    """Decode exactly one CBOR item; trailing bytes are an error."""
    fp = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(fp).decode()
    except VoucherError:
        raise
    except Exception as exc:  # noqa: BLE001 - cbor2 raises many types on hostile input
        raise MalformedVoucher("bad_cbor", f"{what} is not valid CBOR") from exc
    if fp.tell() != len(data):
        raise MalformedVoucher("trailing_bytes", f"extra bytes after the {what}")
    return item


def _text(value: Any, name: str, max_len: int = MAX_TEXT_CLAIM) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise MalformedVoucher("bad_claims", f"claim {name} must be non-empty text")
    return value


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**40:
        raise MalformedVoucher("bad_claims", f"claim {name} must be a non-negative integer")
    return value


def _text_list(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, _SEQ) or not value or len(value) > MAX_LIST:
        raise MalformedVoucher("bad_claims", f"claim {name} must be a non-empty list")
    return tuple(_text(v, name, 32) for v in value)


def _parse_claims(payload: bytes) -> Voucher:
    claims = _loads_exact(payload, "payload")
    if not isinstance(claims, _MAP):
        raise MalformedVoucher("bad_claims", "payload is not a claims map")
    allowed = {CLAIM_ISS, CLAIM_SUB, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI, CLAIM_CINEPASS}
    for k in claims:
        if type(k) is not int or k not in allowed:  # not bool, not 6.0 (== 6 in Python)
            raise MalformedVoucher("bad_claims", f"unknown claim {k!r}")
    for k in (CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI, CLAIM_CINEPASS):
        if k not in claims:
            raise MalformedVoucher("bad_claims", f"required claim {k} is missing")
    cti = claims[CLAIM_CTI]
    if not isinstance(cti, bytes) or len(cti) != CTI_LENGTH:
        raise MalformedVoucher("bad_claims", "cti must be exactly 10 bytes")
    cp = claims[CLAIM_CINEPASS]
    if not isinstance(cp, _MAP):
        raise MalformedVoucher("bad_claims", "CinePass claims (-65537) must be a map")
    for k in cp:
        if type(k) is not int or k not in (
            CP_FORMATS,
            CP_CINEMAS,
            CP_HOLDER,
            CP_ADMISSIONS,
            CP_CAMPAIGN,
        ):
            raise MalformedVoucher("bad_claims", f"unknown CinePass claim {k!r}")
    if CP_FORMATS not in cp:
        raise MalformedVoucher("bad_claims", "formats claim is missing")
    admissions = _int(cp.get(CP_ADMISSIONS, 1), "admissions")
    if not 1 <= admissions <= 100:
        raise MalformedVoucher("bad_claims", "admissions must be between 1 and 100")
    v = Voucher(
        iss=_text(claims[CLAIM_ISS], "iss"),
        sub=_text(claims[CLAIM_SUB], "sub") if CLAIM_SUB in claims else None,
        cti=bytes(cti),
        iat=_int(claims[CLAIM_IAT], "iat"),
        nbf=_int(claims[CLAIM_NBF], "nbf"),
        exp=_int(claims[CLAIM_EXP], "exp"),
        formats=_text_list(cp[CP_FORMATS], "formats"),
        cinemas=_text_list(cp[CP_CINEMAS], "cinemas") if CP_CINEMAS in cp else None,
        holder=_text(cp[CP_HOLDER], "holder") if CP_HOLDER in cp else None,
        admissions=admissions,
        campaign=_text(cp[CP_CAMPAIGN], "campaign") if CP_CAMPAIGN in cp else None,
    )
    if v.exp <= v.nbf:
        raise MalformedVoucher("bad_claims", "exp must be after nbf")
    return v


def _checked_payload(v: Voucher) -> bytes:
    """The claims as signed; refuses to sign what the decoder would refuse to read."""
    if len(v.cti) != CTI_LENGTH:
        raise MalformedVoucher("bad_claims", "cti must be exactly 10 bytes")
    payload = bytes(cbor2.dumps(v.claims(), canonical=True))
    _parse_claims(payload)
    return payload


def decode_voucher(text: str) -> DecodedVoucher:
    """Parse QR text into a :class:`DecodedVoucher` without checking the signature.

    Raises :class:`NotAVoucher` (``empty``, ``wrong_prefix``) or
    :class:`MalformedVoucher` (``too_large``, ``bad_base45``, ``bad_cbor``,
    ``trailing_bytes``, ``not_cose``, ``bad_header``, ``unsupported_alg``,
    ``bad_claims``, ``bad_signature_length``) and nothing else.
    """
    if not isinstance(text, str):
        raise NotAVoucher("not_text", "voucher input must be text")
    if not text:
        raise NotAVoucher("empty", "nothing was scanned")
    if not text.startswith(PREFIX):
        raise NotAVoucher("wrong_prefix", "this code is not a CinePass voucher")
    if len(text) > MAX_TEXT_LENGTH:
        raise MalformedVoucher(
            "too_large", f"voucher text longer than {MAX_TEXT_LENGTH} characters"
        )
    raw = b45decode(text[len(PREFIX) :])
    outer = _loads_exact(raw, "COSE message")
    if not isinstance(outer, cbor2.CBORTag) or outer.tag != COSE_SIGN1_TAG:
        raise MalformedVoucher("not_cose", "not a tagged COSE_Sign1 message")
    body = outer.value
    if not isinstance(body, _SEQ) or len(body) != 4:
        raise MalformedVoucher("not_cose", "COSE_Sign1 must be an array of four items")
    protected, unprotected, payload, signature = body
    if not isinstance(protected, bytes) or not isinstance(payload, bytes):
        raise MalformedVoucher("not_cose", "protected header and payload must be byte strings")
    if not isinstance(unprotected, _MAP) or len(unprotected):
        raise MalformedVoucher("bad_header", "unprotected header must be an empty map")
    if not isinstance(signature, bytes):
        raise MalformedVoucher("not_cose", "signature must be a byte string")
    if len(signature) != 64:
        raise MalformedVoucher("bad_signature_length", "an Ed25519 signature has 64 bytes")
    header = _loads_exact(protected, "protected header")
    if (
        not isinstance(header, _MAP)
        or any(type(k) is not int for k in header)
        or set(header) != {HDR_ALG, HDR_KID}
    ):
        raise MalformedVoucher("bad_header", "protected header must hold exactly alg and kid")
    if type(header[HDR_ALG]) is not int or header[HDR_ALG] != ALG_EDDSA:
        raise MalformedVoucher("unsupported_alg", "only EdDSA (Ed25519) vouchers are accepted")
    kid = header[HDR_KID]
    if not isinstance(kid, bytes) or len(kid) != KID_LENGTH:
        raise MalformedVoucher("bad_header", "kid must be 8 bytes")
    voucher = _parse_claims(payload)
    return DecodedVoucher(
        voucher=voucher, kid=bytes(kid), protected=protected, payload=payload, signature=signature
    )


def verify_signature(decoded: DecodedVoucher, keys: Mapping[bytes, PublicKey]) -> PublicKey:
    """Check the issuer signature against trusted keys (kid -> key).

    Raises :class:`UnknownKey` (``unknown_key``) or :class:`SignatureError`
    (``bad_signature``); returns the key that signed.
    """
    key = keys.get(decoded.kid)
    if key is None:
        raise UnknownKey("unknown_key", f"issuer key {decoded.kid.hex()} is not trusted here")
    if not key.verify(decoded.signature, decoded.signed_bytes()):
        raise SignatureError("bad_signature", "the signature does not match: forged or altered")
    return key


def decode_and_verify(text: str, keys: Mapping[bytes, PublicKey]) -> Voucher:
    """Decode QR text and verify its signature; the usual one-call entry point."""
    decoded = decode_voucher(text)
    verify_signature(decoded, keys)
    return decoded.voucher


def keyring(*keys: PublicKey) -> dict[bytes, PublicKey]:
    """A kid -> key map for :func:`verify_signature`."""
    return {k.kid: k for k in keys}
