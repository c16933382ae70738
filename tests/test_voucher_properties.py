"""Property tests (hypothesis): round trips, and a decoder that is total.

Whatever it is given (any text, text starting with ``CP1:``, random Base45,
random CBOR wrapped in tag 18, random claim maps that are properly signed)
the decoder returns a voucher or raises a VoucherError subclass, nothing else.
"""

from __future__ import annotations

from typing import Any

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.voucher import (
    PREFIX,
    PrivateKey,
    Voucher,
    VoucherError,
    decode_and_verify,
    decode_voucher,
    encode_short_code,
    encode_voucher,
    keyring,
    parse_short_code,
)
from sync.voucher.base45 import ALPHABET, b45decode, b45encode
from sync.voucher.codec import sig_structure

KEY = PrivateKey.from_raw(bytes(range(32)))
TRUSTED = keyring(KEY.public)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

codes = st.text(alphabet="ABCDEFGHJKMNPQRSTVWXYZ0123456789-", min_size=1, max_size=20)


@st.composite
def vouchers(draw: st.DrawFn) -> Voucher:
    nbf = draw(st.integers(0, 2**39))
    return Voucher(
        iss=draw(st.text(min_size=1, max_size=64)),
        sub=draw(st.none() | st.text(min_size=1, max_size=64)),
        cti=draw(st.binary(min_size=10, max_size=10)),
        iat=draw(st.integers(0, 2**40 - 1)),
        nbf=nbf,
        exp=draw(st.integers(nbf + 1, 2**40 - 1)),
        formats=tuple(draw(st.lists(st.text(min_size=1, max_size=32), min_size=1, max_size=5))),
        cinemas=draw(st.none() | st.lists(codes, min_size=1, max_size=8).map(tuple)),
        holder=draw(st.none() | st.text(min_size=1, max_size=32)),
        admissions=draw(st.integers(1, 100)),
        campaign=draw(st.none() | st.text(min_size=1, max_size=64)),
    )


@FAST
@given(vouchers())
def test_round_trip(v: Voucher) -> None:
    text = encode_voucher(v, KEY)
    assert text.startswith(PREFIX)
    assert set(text[len(PREFIX) :]) <= set(ALPHABET)
    assert decode_and_verify(text, TRUSTED) == v


def _total(text: Any) -> None:
    try:
        decode_and_verify(text, TRUSTED)
    except VoucherError as exc:
        assert exc.reason and exc.message


@FAST
@given(st.text(max_size=400))
def test_any_text(text: str) -> None:
    _total(text)


@FAST
@given(st.text(max_size=400))
def test_any_text_with_the_prefix(text: str) -> None:
    _total(PREFIX + text)


@FAST
@given(st.text(alphabet=ALPHABET, max_size=600))
def test_random_base45(text: str) -> None:
    _total(PREFIX + text)


@FAST
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    _total(PREFIX + b45encode(data))


@FAST
@given(st.binary(max_size=100) | st.integers() | st.none() | st.lists(st.integers()))
def test_not_text_at_all(value: Any) -> None:
    _total(value)


cbor_leaf = (
    st.integers(-(2**70), 2**70)
    | st.binary(max_size=20)
    | st.text(max_size=10)
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=True)
    | st.sampled_from([1, 2, 4, 5, 6, 7, -8, -65537, 18, b"", "", 0])
)
cbor_values = st.recursive(
    cbor_leaf,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.integers(-70000, 10) | st.text(max_size=3) | st.floats(allow_nan=False),
            inner,
            max_size=5,
        )
        | st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 3, 18, 24, 258, 55799]), inner)
    ),
    max_leaves=20,
)


def _dumps(value: Any) -> bytes | None:
    try:
        return bytes(cbor2.dumps(value))
    except Exception:  # noqa: BLE001 - some random structures are not encodable (e.g. tag 0 on an int)
        return None


@FAST
@given(cbor_values)
def test_random_cbor_in_tag_18(value: Any) -> None:
    data = _dumps(cbor2.CBORTag(18, value))
    if data is not None:
        _total(PREFIX + b45encode(data))


@FAST
@given(cbor_values, cbor_values, cbor_values, st.binary(min_size=64, max_size=64) | cbor_values)
def test_random_cose_shaped_arrays(p: Any, u: Any, payload: Any, sig: Any) -> None:
    prot = _dumps(p)
    body = _dumps(payload)
    if prot is None or body is None:
        return
    data = _dumps(cbor2.CBORTag(18, [prot, u, body, sig]))
    if data is not None:
        _total(PREFIX + b45encode(data))


claim_keys = st.sampled_from([1, 2, 4, 5, 6, 7, -65537, 3, 8, -65536])
cp_keys = st.sampled_from([1, 2, 3, 4, 5, 0, 6])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(claim_keys, cbor_values, max_size=8),
    st.dictionaries(cp_keys, cbor_values, max_size=6),
    st.booleans(),
)
def test_signed_random_claims(claims: dict[Any, Any], cp: dict[Any, Any], with_cp: bool) -> None:
    """Properly signed, badly shaped claims: refused for their shape, or valid and typed."""
    if with_cp:
        claims[-65537] = cp
    payload = _dumps(claims)
    if payload is None:
        return
    protected = cbor2.dumps({1: -8, 4: KEY.public.kid})
    sig = KEY.sign(sig_structure(protected, payload))
    text = PREFIX + b45encode(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, sig])))
    try:
        v = decode_and_verify(text, TRUSTED)
    except VoucherError:
        return
    assert isinstance(v.iss, str) and isinstance(v.cti, bytes) and len(v.cti) == 10
    assert all(isinstance(f, str) for f in v.formats) and v.exp > v.nbf


@FAST
@given(st.binary(min_size=10, max_size=10))
def test_short_code_round_trip(cti: bytes) -> None:
    code = encode_short_code(cti)
    assert len(code) == 19
    assert parse_short_code(code) == cti
    assert parse_short_code(code.lower().replace("-", "")) == cti
    assert parse_short_code(code.replace("0", "O").replace("1", "I")) == cti


@FAST
@given(st.binary(max_size=300))
def test_base45_round_trip(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


def test_decode_voucher_of_a_huge_input_is_quick_and_specific() -> None:
    for text in (PREFIX + "0" * 1_000_000, "x" * 1_000_000, PREFIX + "\x00" * 5000):
        try:
            decode_voucher(text)
        except VoucherError as exc:
            assert exc.reason in ("too_large", "wrong_prefix")
        else:
            raise AssertionError("accepted")


def test_deeply_nested_cbor_is_a_voucher_error() -> None:
    data = b"\xd2" + b"\x81" * 1200 + b"\x00"
    _total(PREFIX + b45encode(data))
    nested_key = b"\xd2\x84\x40\xa1" + b"\x81" * 1000 + b"\x00\x00\x40\x40"
    _total(PREFIX + b45encode(nested_key))
