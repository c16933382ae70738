"""Base45 (RFC 9285): the QR-alphanumeric-friendly encoding of the voucher bytes.

Base45 text uses only the 45 characters of QR's alphanumeric mode, so a QR
code carries it at 5.5 bits per character instead of 8 in byte mode: the
same voucher fits a smaller, easier-to-scan symbol. Hand-written (no extra
dependency) and strict: anything a conforming encoder could not produce is
rejected, so a given byte string has exactly one text form.
"""

from __future__ import annotations

from .errors import MalformedVoucher

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text (two bytes -> three characters)."""
    out: list[str] = []
    a = ALPHABET
    for i in range(0, len(data) - 1, 2):
        n = (data[i] << 8) | data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(a[c] + a[d] + a[e])
    if len(data) % 2:
        c, d = divmod(data[-1], 45)
        out.append(a[d] + a[c])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text; raise :class:`MalformedVoucher` (``bad_base45``) on any defect."""
    if len(text) % 3 == 1:
        raise MalformedVoucher("bad_base45", "Base45 text has an impossible length")
    value = _VALUE
    out = bytearray()
    try:
        full = len(text) - len(text) % 3
        for i in range(0, full, 3):
            n = value[text[i]] + value[text[i + 1]] * 45 + value[text[i + 2]] * 2025
            if n > 0xFFFF:
                raise MalformedVoucher("bad_base45", "Base45 triple out of range")
            out.append(n >> 8)
            out.append(n & 0xFF)
        if full != len(text):
            n = value[text[full]] + value[text[full + 1]] * 45
            if n > 0xFF:
                raise MalformedVoucher("bad_base45", "Base45 final pair out of range")
            out.append(n)
    except KeyError as exc:
        raise MalformedVoucher("bad_base45", "character outside the Base45 alphabet") from exc
    return bytes(out)
