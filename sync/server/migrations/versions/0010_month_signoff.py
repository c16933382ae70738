"""month sign-off: signed statements, adjustments, the counters page's indexes (issue 12)

Revision ID: 0010_month_signoff
Revises: 0009_campaigns

The tables of sync/office/signoff_models.py. ``month_signoff`` holds one row
per cinema and signed month with the statement as it was signed (who, when,
from where); ``settlement_adjustment`` holds each later change to a signed
month's line, counted in the cinema's next open month (docs/settlement.md).
Two indexes let the counters page count chain gaps and forks per counter
without reading the whole ``redemption`` table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_month_signoff"
down_revision = "0009_campaigns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "month_signoff",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("cinema", sa.String(length=64), nullable=False),
        sa.Column("signed_by", sa.String(length=128), nullable=False),
        sa.Column("signed_at", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("statement", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.UniqueConstraint("month", "cinema", name="uq_month_signoff_month_cinema"),
    )
    op.create_table(
        "settlement_adjustment",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("cinema", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("origin_month", sa.String(length=7), nullable=False),
        sa.Column("record", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("before", sa.String(length=16), nullable=True),
        sa.Column("after", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_settlement_adjustment_cinema_month", "settlement_adjustment", ["cinema", "month"]
    )
    op.create_index("ix_redemption_chain_gap_device", "redemption", ["chain_gap", "device"])
    op.create_index("ix_redemption_chain_fork_device", "redemption", ["chain_fork", "device"])


def downgrade() -> None:
    op.drop_index("ix_redemption_chain_fork_device", table_name="redemption")
    op.drop_index("ix_redemption_chain_gap_device", table_name="redemption")
    op.drop_index("ix_settlement_adjustment_cinema_month", table_name="settlement_adjustment")
    op.drop_table("settlement_adjustment")
    op.drop_table("month_signoff")
