"""Partner cinemas: adding one, and checking codes a batch names."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.server.models import Cinema, now_ms

from .errors import OfficeError

CINEMA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def add_cinema(session: Session, code: str, name: str) -> Cinema:
    """Add a partner cinema (``code`` is what counters and vouchers name)."""
    code = code.strip()
    if not CINEMA_RE.match(code):
        raise OfficeError(
            "bad_cinema", f"--code {code!r}: letters, digits, - _ . (max 32), e.g. SH-WANDA-01"
        )
    if not name.strip() or len(name) > 200:
        raise OfficeError("bad_name", "--name must be 1 to 200 characters")
    if session.get(Cinema, code) is not None:
        raise OfficeError("cinema_exists", f"cinema {code} already exists")
    cinema = Cinema(code=code, name=name.strip(), created_at=now_ms())
    session.add(cinema)
    return cinema


def check_cinemas(session: Session, cinemas: tuple[str, ...] | None) -> None:
    """Refuse cinema codes the central database does not know (a typo would make
    every voucher of the batch unusable at every counter)."""
    if not cinemas:
        return
    known = set(session.execute(select(Cinema.code).where(Cinema.code.in_(cinemas))).scalars())
    unknown = [c for c in cinemas if c not in known]
    if unknown:
        raise OfficeError(
            "unknown_cinema",
            f"--cinemas: {', '.join(unknown)} not a partner cinema here "
            "(add it with `cinepass-admin cinema add --code C --name N`)",
        )
