"""Roster (typed short codes), conflicts, redemptions elsewhere, revocation detail.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("revocations") as batch:
        batch.add_column(sa.Column("cinema", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("device", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("staff", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "remote_redemptions",
        sa.Column("cti", sa.LargeBinary(10), primary_key=True),
        sa.Column("at", sa.BigInteger, primary_key=True),
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("cinema", sa.String(64), nullable=False),
        sa.Column("staff", sa.String(64), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "roster",
        sa.Column("cti", sa.LargeBinary(10), primary_key=True),
        sa.Column("token", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("first_record_uuid", sa.String(36), nullable=False),
        sa.Column("cinema", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("staff", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conflicts")
    op.drop_table("roster")
    op.drop_table("remote_redemptions")
    with op.batch_alter_table("revocations") as batch:
        batch.drop_column("staff")
        batch.drop_column("device")
        batch.drop_column("cinema")
