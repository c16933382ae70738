"""The audit log: who did what, when, from where, before and after (append-only).

integrator: replaced by trust's audit module/table at merge.

STUB for the console branch: the ``trust`` branch writes the real module with
this same :func:`record` signature; the integrator replaces this file and its
table at merge. Every office change made from the console or
``cinepass-admin user`` calls :func:`record` in the change's own transaction,
so an action and its audit row are committed together or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from sync.server.models import Base, now_ms


class AuditLog(Base):
    """One audited action (rows are only ever inserted)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger, default=now_ms, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    address: Mapped[str] = mapped_column(Text, default="")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    address: str = "",
) -> None:
    """Append one row in the caller's transaction."""
    session.add(
        AuditLog(
            at=now_ms(),
            actor=actor,
            action=action,
            subject=subject,
            before=before,
            after=after,
            address=address,
        )
    )
