"""The campaign and issue-job tables (issue 12: campaigns, issuing from the console).

Declared on the server's :class:`sync.server.models.Base` like every other
table; the schema comes from the server migration ``0009_campaigns``. Times
are UTC epoch milliseconds, days ``YYYY-MM-DD`` (China Standard Time, the
days printed on the cards).

A campaign is what the office plans ("2027 春节观影", 1 Feb to 28 Feb, 20,000
vouchers); a voucher belongs to one by its ``campaign`` string, the code,
which has been on every voucher (and its card) since the first release. So
no voucher row changes: registering a campaign whose code vouchers already
carry gathers them under it.

An issue job is the console's batch being made in the background. Its state
is here, not in a server process's memory, because several server processes
may answer the same office (issue 16): whichever answers the progress poll
reads the same row; ``updated_at`` is its heartbeat.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sync.server.models import Base, now_ms

JOB_STATES = ("running", "done", "failed")


class Campaign(Base):
    """One campaign (``cinepass-admin campaign add``)."""

    __tablename__ = "campaign"
    code: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[str] = mapped_column(String(10))
    ends_on: Mapped[str] = mapped_column(String(10))
    planned: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    created_by: Mapped[str] = mapped_column(String(128), default="")


class IssueJob(Base):
    """A batch being issued from the console: its progress and, at the end, its result."""

    __tablename__ = "issue_job"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(8), default="running")
    phase: Mapped[str] = mapped_column(String(16), default="sign")
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    batch: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    folder: Mapped[str] = mapped_column(Text)
    campaign: Mapped[str | None] = mapped_column(String(128), nullable=True)
    actor: Mapped[str] = mapped_column(String(128))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    files: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
