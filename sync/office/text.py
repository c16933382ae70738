"""Text that is safe to store and to print: no lone surrogates, no NUL.

The API refuses such text (``bad_text``, see :mod:`sync.protocol`); this is
the reader's side of the same promise, for values stored before that check
existed or arriving by another road: a report or ``devices --json`` must
never crash on what a counter once sent.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def clean(value: T) -> T:
    """``value`` with every string made valid Unicode (lone surrogates and NUL -> U+FFFD)."""
    return _clean(value, 0)  # type: ignore[no-any-return]


def _clean(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        return "".join("\ufffd" if c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if depth > 32:
        return None
    if isinstance(value, dict):
        return {_clean(k, depth + 1): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    return value
