"""Short codes: the voucher id (cti) as 16 Crockford Base32 characters.

Printed under the QR as ``XXXX-XXXX-XXXX-XXXX`` so a clerk can type it when a
phone screen is cracked or the printer smudged the code. Crockford's alphabet
has no I, L, O or U, and parsing forgives the confusable letters (I/L -> 1,
O -> 0), lower case, spaces and dashes, because people type what they see.
"""

from __future__ import annotations

from .errors import ShortCodeError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_VALUE.update({"I": 1, "L": 1, "O": 0})
CTI_LENGTH = 10
CODE_LENGTH = 16


def encode_short_code(cti: bytes) -> str:
    """Format a 10-byte voucher id as ``XXXX-XXXX-XXXX-XXXX``."""
    if len(cti) != CTI_LENGTH:
        raise ShortCodeError("bad_cti", f"voucher id must be {CTI_LENGTH} bytes, got {len(cti)}")
    n = int.from_bytes(cti, "big")
    chars = []
    for _ in range(CODE_LENGTH):
        n, r = divmod(n, 32)
        chars.append(ALPHABET[r])
    raw = "".join(reversed(chars))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def parse_short_code(text: str) -> bytes:
    """Parse what a person typed into the 10-byte voucher id.

    Accepts lower case, missing or extra dashes/spaces, and the I/L/O aliases.
    """
    if len(text) > 64:
        raise ShortCodeError("bad_short_code", "short code is far too long")
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    if len(cleaned) != CODE_LENGTH:
        raise ShortCodeError(
            "bad_short_code",
            f"a short code has {CODE_LENGTH} characters, got {len(cleaned)}",
        )
    n = 0
    for ch in cleaned:
        v = _VALUE.get(ch)
        if v is None:
            raise ShortCodeError("bad_short_code", f"character {ch!r} is not used in short codes")
        n = n * 32 + v
    return n.to_bytes(CTI_LENGTH, "big")


def normalize_short_code(text: str) -> str:
    """Canonical printed form of a typed code (``XXXX-XXXX-XXXX-XXXX``)."""
    return encode_short_code(parse_short_code(text))


def looks_like_short_code(text: str) -> bool:
    """True if ``text`` parses as a short code (used to route typed input)."""
    try:
        parse_short_code(text)
    except ShortCodeError:
        return False
    return True
