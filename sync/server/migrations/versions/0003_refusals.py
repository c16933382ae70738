"""the counters' refusal log (issue 11 item 8)

Revision ID: 0003_refusals
Revises: 0002_cinema_contact_bday

One row per refusal a counter uploaded (``POST /api/v1/refusals``), keyed by
(device, refusal id) so a resend is stored once; see sync/office/refusals.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_refusals"
down_revision = "0002_cinema_contact_bday"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refusals",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("cinema", sa.String(length=64), nullable=False),
        sa.Column("counter", sa.String(length=200), nullable=False),
        sa.Column("staff", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("voucher", sa.String(length=19), nullable=True),
        sa.Column("text_hash", sa.String(length=64), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device", "id"),
    )
    op.create_index("ix_refusals_cinema_at", "refusals", ["cinema", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refusals_cinema_at", table_name="refusals")
    op.drop_table("refusals")
