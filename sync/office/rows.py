"""Two small things every office module does with a row: find it or refuse, and show it.

One lookup that names what is missing and how to list what exists (the
caller's message), and one plain-dict view of chosen columns (what ``--json``
and the console print), so each module does not write its own.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from .errors import OfficeError

T = TypeVar("T")


def get_or_refuse(session: Session, model: type[T], key: str, reason: str, message: str) -> T:
    """The row of ``model`` with primary key ``key`` (stripped), or ``OfficeError(reason, message)``."""
    row = session.get(model, key.strip())
    if row is None:
        raise OfficeError(reason, message)
    return row


def fields(row: object, names: tuple[str, ...]) -> dict[str, Any]:
    """``{name: row.name}`` for each of ``names``, in that order."""
    return {name: getattr(row, name) for name in names}
