"""The voucher stack every side shares: codec, keys, short codes, errors."""

from .codec import (
    MAX_TEXT_LENGTH,
    PREFIX,
    DecodedVoucher,
    Voucher,
    decode_and_verify,
    decode_voucher,
    encode_voucher,
    keyring,
    make_voucher,
    new_cti,
    verify_signature,
)
from .errors import (
    KeyFileError,
    MalformedVoucher,
    NotAVoucher,
    ShortCodeError,
    SignatureError,
    UnknownKey,
    VoucherError,
)
from .keys import PrivateKey, PublicKey, kid_for, load_private_key, load_public_key
from .shortcode import (
    encode_short_code,
    looks_like_short_code,
    normalize_short_code,
    parse_short_code,
)

__all__ = [
    "MAX_TEXT_LENGTH",
    "PREFIX",
    "DecodedVoucher",
    "KeyFileError",
    "MalformedVoucher",
    "NotAVoucher",
    "PrivateKey",
    "PublicKey",
    "ShortCodeError",
    "SignatureError",
    "UnknownKey",
    "Voucher",
    "VoucherError",
    "decode_and_verify",
    "decode_voucher",
    "encode_short_code",
    "encode_voucher",
    "keyring",
    "kid_for",
    "load_private_key",
    "load_public_key",
    "looks_like_short_code",
    "make_voucher",
    "new_cti",
    "normalize_short_code",
    "parse_short_code",
    "verify_signature",
]
