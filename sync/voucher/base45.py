"""Base45 (RFC 9285): the QR-alphanumeric-friendly encoding of the voucher bytes.

Base45 text uses only the 45 characters of QR's alphanumeric mode, so a QR
code carries it at 5.5 bits per character instead of 8 in byte mode: the
same voucher fits a smaller, easier-to-scan symbol. Hand-written (no extra
dependency) and strict: anything a conforming encoder could not produce is
rejected, so a given byte string has exactly one text form.
"""

from __future__ import annotations

import struct
from itertools import repeat
from operator import floordiv, mod

from .errors import MalformedVoucher

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_INVALID = 0xFF
# ASCII code -> digit value (0xFF outside the alphabet), and digit value -> ASCII code:
# bytes.translate does the per-character work in C; the arithmetic runs in map().
_DECODE = bytes(_VALUE.get(chr(b), _INVALID) for b in range(256))
_ENCODE = ALPHABET.encode("ascii").ljust(256, b"\0")


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text (two bytes -> three characters)."""
    pairs = len(data) // 2
    values = struct.unpack(f">{pairs}H", data[: 2 * pairs])
    out = bytearray(3 * pairs + (2 if len(data) % 2 else 0))
    out[0 : 3 * pairs : 3] = bytes(map(mod, values, repeat(45)))
    out[1 : 3 * pairs : 3] = bytes(map(mod, map(floordiv, values, repeat(45)), repeat(45)))
    out[2 : 3 * pairs : 3] = bytes(map(floordiv, values, repeat(2025)))
    if len(data) % 2:
        out[-2], out[-1] = data[-1] % 45, data[-1] // 45
    return out.translate(_ENCODE).decode("ascii")


def b45decode(text: str) -> bytes:
    """Decode Base45 text; raise :class:`MalformedVoucher` (``bad_base45``) on any defect."""
    if len(text) % 3 == 1:
        raise MalformedVoucher("bad_base45", "Base45 text has an impossible length")
    try:
        digits = text.encode("ascii").translate(_DECODE)
    except UnicodeEncodeError as exc:
        raise MalformedVoucher("bad_base45", "character outside the Base45 alphabet") from exc
    if _INVALID in digits:
        raise MalformedVoucher("bad_base45", "character outside the Base45 alphabet")
    full = len(digits) - len(digits) % 3
    m = full // 3
    # Each triple's value c + 45d + 2025e (< 2**17) is computed for all triples at once:
    # the digits are spread into 3-byte slots of one big integer, where no sum can carry
    # into the next slot. A value above 0xFFFF shows as a non-zero top byte of its slot.
    slots = [bytearray(full) for _ in range(3)]
    for k, slot in enumerate(slots):
        slot[2::3] = digits[k:full:3]
    total = (
        int.from_bytes(slots[0], "big")
        + 45 * int.from_bytes(slots[1], "big")
        + 2025 * int.from_bytes(slots[2], "big")
    ).to_bytes(full, "big")
    if total[0::3] != bytes(m):
        raise MalformedVoucher("bad_base45", "Base45 triple out of range")
    out = bytearray(2 * m)
    out[0::2] = total[1::3]
    out[1::2] = total[2::3]
    if full != len(digits):
        n = digits[full] + digits[full + 1] * 45
        if n > 0xFF:
            raise MalformedVoucher("bad_base45", "Base45 final pair out of range")
        out.append(n)
    return bytes(out)
