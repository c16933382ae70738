"""The office's append-only audit log: who changed what, when, from where.

One table (:class:`sync.server.models.AuditEntry`) and one writer,
:func:`record`, called in the *same* transaction as the change it describes,
so a change and its audit line are committed together or not at all. Every
``cinepass-admin`` command that changes the central data writes one line
(``actor`` = the OS user, ``address`` = ``"cli"``); a web console or online
API would pass its signed-in user and the client address. Lines are never
updated or deleted by CinePass. ``before`` / ``after`` are small JSON
objects of the fields that changed (never a secret: no enrolment code, no
token).
"""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.server.models import AuditEntry, now_ms

from .reports import iso_utc
from .text import clean


def os_user() -> str:
    """The signed-in OS user (the actor of a command line change)."""
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):  # no passwd entry, no USER variable (a container)
        return "unknown"


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    address: str = "cli",
) -> AuditEntry:
    """Append one audit line in the caller's transaction (it commits with the change)."""
    entry = AuditEntry(
        at=now_ms(),
        actor=clean(actor)[:128],
        address=clean(address)[:128],
        action=clean(action)[:64],
        subject=clean(subject)[:200],
        before=clean(before),
        after=clean(after),
    )
    session.add(entry)
    session.flush()
    return entry


def entries(session: Session, since_ms: int | None = None) -> list[dict[str, Any]]:
    """The audit lines (oldest first), from ``since_ms`` on when given."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if since_ms is not None:
        query = query.where(AuditEntry.at >= since_ms)
    return [
        {
            "id": e.id,
            "at": iso_utc(e.at),
            "actor": e.actor,
            "address": e.address,
            "action": e.action,
            "subject": e.subject,
            "before": e.before,
            "after": e.after,
        }
        for e in session.scalars(query)
    ]
