"""The manager PIN hash: salted, verifiable, and strict about what a PIN is."""

from __future__ import annotations

import pytest

from kiosk.pin import PinError, hash_pin, is_pin_set, validate_pin, verify_pin


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
