"""The manager PIN: checked against a salted scrypt hash, never stored in clear.

The hash lives in ``config.json`` (``pin_hash``) because the config file is
the one thing IT copies when it clones a counter, and the PIN must travel with
it. scrypt (memory-hard) makes a stolen config expensive to brute-force even
though a PIN has few digits; the per-PIN random salt stops precomputed tables.
Format: ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` so the cost parameters
can be raised later without breaking old hashes.

:class:`PinGuard` is the manager gate's logic (choosing a PIN, the lockout
after wrong ones) without Qt, so it is tested on its own with a fake clock;
the window only paints what it answers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from typing import Literal

from .errors import UsageError

PIN_MIN, PIN_MAX = 4, 12
PIN_TRIES = 5  # wrong PINs in a row before the gate locks
PIN_LOCK_S = 60.0  # how long it stays locked: long for a guesser, short for a manager
_N, _R, _P = 2**14, 8, 1  # ~16 MiB, ~30 ms here: slow for a brute force, instant for a manager
_SALT_BYTES = 16
_SCHEME = "scrypt"


class PinError(UsageError):
    """A PIN that cannot be used (reason ``bad_pin``) or a broken stored hash."""


def validate_pin(pin: str) -> str:
    """Return ``pin`` if it is 4 to 12 digits, else raise :class:`PinError`.

    Digits only, because the counter's numeric keypad is what a manager has.
    """
    if not (PIN_MIN <= len(pin) <= PIN_MAX) or not pin.isascii() or not pin.isdigit():
        raise PinError("bad_pin", f"a PIN is {PIN_MIN} to {PIN_MAX} digits (0-9)")
    return pin


def _derive(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)


def hash_pin(pin: str) -> str:
    """A fresh salted hash of ``pin`` for ``config.pin_hash``."""
    validate_pin(pin)
    salt = os.urandom(_SALT_BYTES)
    digest = _derive(pin, salt, _N, _R, _P)
    return f"{_SCHEME}${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    """True if ``pin`` matches ``stored``; a wrong or malformed PIN is simply False.

    Raises :class:`PinError` only if ``stored`` itself is not a hash we wrote
    (a hand-edited config), so that case is reported, not mistaken for a typo.
    """
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        raise PinError("bad_pin_hash", "config.json: 'pin_hash' is not a CinePass PIN hash")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, want = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError as exc:
        raise PinError("bad_pin_hash", "config.json: 'pin_hash' is damaged") from exc
    try:
        validate_pin(pin)
    except PinError:
        return False
    return hmac.compare_digest(_derive(pin, salt, n, r, p), want)


def is_pin_set(stored: str) -> bool:
    """Whether a PIN has been chosen yet (the first manager visit sets it)."""
    return bool(stored)


def choose_pin(pin: str, confirm: str) -> str:
    """The hash of a newly chosen PIN typed twice; :class:`PinError` if it cannot be used.

    ``bad_pin`` when it is not 4 to 12 digits, ``pin_mismatch`` when the two
    entries differ (checked in that order, as the manager reads the messages).
    """
    validate_pin(pin)
    if pin != confirm:
        raise PinError("pin_mismatch", "the two PINs differ")
    return hash_pin(pin)


PinAnswer = Literal["ok", "wrong", "locked"]


class PinGuard:
    """Checks the manager PIN and locks the gate after :data:`PIN_TRIES` wrong ones.

    After that many wrong PINs in a row every attempt, even the right PIN, is
    ``locked`` for :data:`PIN_LOCK_S` seconds: a guesser gets a few tries a
    minute, a manager who mistyped waits a minute. A right PIN resets the
    count. A damaged stored hash counts as wrong (nobody can open the gate
    with it; IT resets the PIN in the config). ``clock`` is monotonic seconds,
    injectable so tests need not wait.
    """

    def __init__(
        self,
        *,
        tries: int = PIN_TRIES,
        lock_s: float = PIN_LOCK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tries = tries
        self.lock_s = lock_s
        self._clock = clock
        self.failures = 0
        self.locked_until = 0.0

    def check(self, pin: str, stored: str) -> PinAnswer:
        now = self._clock()
        if now < self.locked_until:
            return "locked"
        try:
            ok = verify_pin(pin, stored)
        except PinError:
            ok = False
        if ok:
            self.failures = 0
            return "ok"
        self.failures += 1
        if self.failures >= self.tries:
            self.failures = 0
            self.locked_until = now + self.lock_s
        return "wrong"
