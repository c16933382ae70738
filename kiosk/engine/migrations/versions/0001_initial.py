"""The first kiosk schema: redemption chain, attempts, revocations, keys, cursors, meta.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("voucher", sa.LargeBinary(10), nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("cinema", sa.String(64), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("staff", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("voids", sa.String(36), nullable=False),
        sa.Column("prev", sa.LargeBinary(32), nullable=False),
        sa.Column("v", sa.Integer, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("sig", sa.LargeBinary(64), nullable=False),
        sa.Column("synced_at", sa.BigInteger, nullable=True),
        sa.Column("server_status", sa.String(16), nullable=True),
        sa.Column("server_detail", sa.Text, nullable=True),
    )
    op.create_index("ix_records_voucher", "records", ["voucher"])
    op.create_index("ix_records_at", "records", ["at"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("short_code", sa.String(19), nullable=True),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("staff", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("record_uuid", sa.String(36), nullable=True),
    )
    op.create_index("ix_attempts_at", "attempts", ["at"])
    op.create_table(
        "revocations",
        sa.Column("cti", sa.LargeBinary(10), primary_key=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "trusted_keys",
        sa.Column("kid", sa.LargeBinary(8), primary_key=True),
        sa.Column("raw", sa.LargeBinary(32), nullable=False),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_table(
        "cursors",
        sa.Column("feed", sa.String(32), primary_key=True),
        sa.Column("cursor", sa.Text, nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in ("meta", "cursors", "trusted_keys", "revocations", "attempts", "records"):
        op.drop_table(name)
