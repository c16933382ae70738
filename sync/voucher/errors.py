"""Error classes shared by every part of the voucher stack.

Every failure carries a stable, machine-readable ``reason`` (used by the
kiosk's verdicts, the CLI's JSON and the tests) and a ``message`` for people.
The decoder promises to raise nothing but :class:`VoucherError` subclasses,
whatever bytes it is given.
"""

from __future__ import annotations

from sync.errors import CinePassError


class VoucherError(CinePassError):
    """Base of every error the voucher codec raises.

    ``reason`` is a short snake_case code (stable, part of the public
    contract); ``message`` is an English sentence for logs and operators.
    """


class NotAVoucher(VoucherError):
    """The text is not a CinePass voucher at all (empty, other QR, wrong prefix)."""


class MalformedVoucher(VoucherError):
    """The text claims to be a voucher (``CP1:``) but its structure is broken."""


class SignatureError(VoucherError):
    """The structure is valid but the signature does not check out."""


class UnknownKey(VoucherError):
    """The voucher names an issuer key (kid) that this side does not trust."""


class ShortCodeError(VoucherError):
    """A typed short code is not 16 Crockford Base32 characters."""


class KeyFileError(VoucherError):
    """An issuer or device key file is missing, unreadable or not Ed25519."""
