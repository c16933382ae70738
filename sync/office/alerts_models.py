"""The monitoring tables (issue 13): alerts, their notification outbox, the evaluation leases.

Declared on the server's :class:`sync.server.models.Base` like every other
table (so Alembic and ``schema_matches`` see them); the schema comes from the
server migration ``0006_alerts``. Times are UTC epoch milliseconds, as in
:mod:`sync.server.models`.

One open alert per rule and subject is a **database constraint**, not a
convention: ``open_key`` is ``rule|kind|key`` while the alert is ``open`` or
``acked`` and NULL once ``resolved``, under a unique index (NULLs never
collide, on SQLite as on PostgreSQL). Two server processes that see the same
pattern at once both try to insert; one wins, the other's insert fails on the
index and it adds to the winner's row instead (:func:`sync.office.alerts.raise_alert`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sync.server.models import Base, now_ms

SEVERITIES = ("low", "medium", "high")
STATUSES = ("open", "acked", "resolved")


class Alert(Base):
    """One alert: a rule that fired on a subject (voucher, member, counter, clerk, cinema)."""

    __tablename__ = "alert"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(200))
    open_key: Mapped[str | None] = mapped_column(String(260), nullable=True, unique=True)
    cinema: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device: Mapped[str | None] = mapped_column(String(64), nullable=True)
    voucher: Mapped[str | None] = mapped_column(String(20), nullable=True)
    member: Mapped[str | None] = mapped_column(String(128), nullable=True)
    staff: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_seen: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer, default=1)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    acked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AlertNotice(Base):
    """One webhook delivery owed (the outbox, written in the alert's own transaction).

    ``status`` is ``pending`` (tried again at ``next_at``), ``sent`` or
    ``dead`` (still failing a day after ``created_at``: kept for the office).
    A sender claims a row by moving ``next_at`` forward with a conditional
    UPDATE, so two processes never post the same notice at the same time.
    """

    __tablename__ = "alert_notice"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(Integer, index=True)
    event: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    sent_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (Index("ix_alert_notice_status_next", "status", "next_at"),)


class AlertLease(Base):
    """A named job only one server process runs at a time (the schedule, the catch-up sweep).

    Taken with ``UPDATE ... WHERE name = ? AND (holder = me OR until < now)``:
    the database decides, so with several processes exactly one holds it.
    ``position`` is how far the catch-up sweep has evaluated (``received_at``).
    """

    __tablename__ = "alert_lease"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64), default="")
    until: Mapped[int] = mapped_column(BigInteger, default=0)
    position: Mapped[int] = mapped_column(BigInteger, default=0)


class AlertInbox(Base):
    """What an upload stored and no process has evaluated yet (migration 0008_alerts_inbox).

    Written in the upload's own transaction (one row per upload, not per
    record), so what is new survives a crash and any server process can take
    it; the evaluating process deletes the rows it evaluated in the same
    transaction that stores their alerts, so each upload is evaluated exactly
    once (:mod:`sync.server.alerts_worker`).
    """

    __tablename__ = "alert_inbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(64), default="")
    records: Mapped[list[str]] = mapped_column(
        JSON, default=list
    )  # redemption (or quarantine) uuids
    refusals: Mapped[list[str]] = mapped_column(JSON, default=list)  # refusal ids of ``device``
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
