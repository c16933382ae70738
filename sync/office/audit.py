"""The office's audit log: who changed what, when, from where.

# integrator: replaced by trust's audit module/table at merge
A minimal stand-in with the agreed API, so ``alerts ack|resolve`` is audited
on this branch; its table comes from migration ``0004_alerts``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from sync.server.models import Base, now_ms


class AuditEntry(Base):
    """One audited change (append-only)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    address: Mapped[str] = mapped_column(String(64), default="")


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
    """Append one entry in the caller's transaction (so a refused change leaves none)."""
    session.add(
        AuditEntry(
            at=now_ms(),
            actor=actor,
            action=action,
            subject=subject,
            before=before,
            after=after,
            address=address,
        )
    )
