"""The manager PIN hash: salted, verifiable, and strict about what a PIN is."""

from __future__ import annotations

import pytest

from kiosk.pin import (
    PIN_LOCK_S,
    PIN_TRIES,
    PinError,
    PinGuard,
    choose_pin,
    hash_pin,
    is_pin_set,
    validate_pin,
    verify_pin,
)


def test_hash_verifies_and_is_salted() -> None:
    a, b = hash_pin("2468"), hash_pin("2468")
    assert a != b  # random salt
    assert "2468" not in a
    assert verify_pin("2468", a) and verify_pin("2468", b)
    assert not verify_pin("2469", a)
    assert not verify_pin("", a)
    assert not verify_pin("abcd", a)


@pytest.mark.parametrize("bad", ["", "123", "1234567890123", "12a4", "١٢٣٤", " 1234"])
def test_bad_pins_refused(bad: str) -> None:
    with pytest.raises(PinError) as e:
        hash_pin(bad)
    assert e.value.reason == "bad_pin"
    assert "4 to 12 digits" in e.value.message


def test_damaged_stored_hash_is_reported() -> None:
    with pytest.raises(PinError) as e:
        verify_pin("1234", "plain1234")
    assert e.value.reason == "bad_pin_hash"
    good = hash_pin("1234")
    with pytest.raises(PinError):
        verify_pin("1234", good.rsplit("$", 1)[0] + "$zz")


def test_is_pin_set() -> None:
    assert not is_pin_set("")
    assert is_pin_set(hash_pin("0000"))
    assert validate_pin("000000") == "000000"


def test_choose_pin_checks_the_rule_then_the_repeat() -> None:
    stored = choose_pin("1357", "1357")
    assert verify_pin("1357", stored)
    with pytest.raises(PinError) as e:
        choose_pin("12", "13")  # the rule is told first, even if the two also differ
    assert e.value.reason == "bad_pin"
    with pytest.raises(PinError) as e:
        choose_pin("1357", "1358")
    assert e.value.reason == "pin_mismatch"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_guard_locks_after_the_wrong_tries_then_opens_again() -> None:
    stored, clock = hash_pin("8642"), FakeClock()
    guard = PinGuard(clock=clock)
    assert [guard.check("1111", stored) for _ in range(PIN_TRIES)] == ["wrong"] * PIN_TRIES
    assert guard.check("8642", stored) == "locked"  # even the right PIN waits out the lock
    clock.t += PIN_LOCK_S - 1
    assert guard.check("8642", stored) == "locked"
    clock.t += 1
    assert guard.check("8642", stored) == "ok"


def test_guard_right_pin_resets_the_count_and_a_damaged_hash_is_wrong() -> None:
    stored, clock = hash_pin("8642"), FakeClock()
    guard = PinGuard(clock=clock)
    for _ in range(PIN_TRIES - 1):
        assert guard.check("0000", stored) == "wrong"
    assert guard.check("8642", stored) == "ok"
    for _ in range(PIN_TRIES - 1):
        assert guard.check("0000", stored) == "wrong"  # a fresh count: not locked yet
    assert guard.check("8642", stored) == "ok"
    damaged = PinGuard(tries=2, clock=clock)
    assert [damaged.check("8642", "plain8642") for _ in range(3)] == ["wrong", "wrong", "locked"]
