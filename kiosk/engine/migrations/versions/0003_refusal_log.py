"""The refusal log goes to the office; the server's quarantine and review are indexed.

Every refusal in ``attempts`` gets an id (the server stores it once, however
often it is sent), a SHA-256 of the scanned text when the voucher could not
be verified (never the text itself: an unreadable or forged code is shown to
the office only as its hash), and ``uploaded_at`` once the server has it.
Refusals logged before this revision get their ids here, so they are
uploaded too.

Revision ID: 0003_refusal_log
Revises: 0002
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003_refusal_log"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("uuid", sa.String(36), nullable=True))
        batch.add_column(sa.Column("text_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("uploaded_at", sa.BigInteger, nullable=True))
    conn = op.get_bind()
    ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM attempts WHERE reason != 'accepted'")]
    if ids:
        conn.exec_driver_sql(
            "UPDATE attempts SET uuid = ? WHERE id = ?", [(str(uuid.uuid4()), i) for i in ids]
        )
    op.create_index("ix_attempts_uuid", "attempts", ["uuid"], unique=True)
    op.create_index(
        "ix_attempts_to_upload",
        "attempts",
        ["id"],
        sqlite_where=sa.text("uploaded_at IS NULL AND uuid IS NOT NULL"),
    )
    op.create_index("ix_records_server_status", "records", ["server_status"])


def downgrade() -> None:
    op.drop_index("ix_records_server_status", "records")
    op.drop_index("ix_attempts_to_upload", "attempts")
    op.drop_index("ix_attempts_uuid", "attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("uploaded_at")
        batch.drop_column("text_hash")
        batch.drop_column("uuid")
