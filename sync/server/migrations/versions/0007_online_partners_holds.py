"""the online channel: partners, holds, idempotent answers, seen signatures (issue 14)

Revision ID: 0007_online_partners_holds
Revises: 0006_alerts

Adds the ``partner``, ``online_hold``, ``online_request`` and
``online_signature`` tables and three nullable columns on ``redemption``
(``source`` = ``online`` for a partner's confirmed hold, NULL for a counter's
record; ``partner``; ``order_ref``), so an online use is a line of the same
ledger the settlement reads. See sync/office/online.py and docs/online-api.md.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_online_partners_holds"
down_revision = "0006_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("redemption") as batch:
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("partner", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("order_ref", sa.String(length=128), nullable=True))
    op.create_index("ix_redemption_partner", "redemption", ["partner"], unique=False)
    op.create_table(
        "partner",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("cinemas", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "online_hold",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("partner", sa.String(length=32), nullable=False),
        sa.Column("voucher", sa.String(length=20), nullable=False),
        sa.Column("active", sa.String(length=20), nullable=True),
        sa.Column("cinema", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("order_ref", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("record_id", sa.String(length=36), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active"),
    )
    op.create_index("ix_online_hold_partner", "online_hold", ["partner"], unique=False)
    op.create_index("ix_online_hold_voucher", "online_hold", ["voucher"], unique=False)
    op.create_index("ix_online_hold_expires_at", "online_hold", ["expires_at"], unique=False)
    op.create_table(
        "online_request",
        sa.Column("partner", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partner", "key"),
    )
    op.create_index("ix_online_request_at", "online_request", ["at"], unique=False)
    op.create_table(
        "online_signature",
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("partner", sa.String(length=32), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("signature"),
    )
    op.create_index("ix_online_signature_at", "online_signature", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_online_signature_at", table_name="online_signature")
    op.drop_table("online_signature")
    op.drop_index("ix_online_request_at", table_name="online_request")
    op.drop_table("online_request")
    op.drop_index("ix_online_hold_expires_at", table_name="online_hold")
    op.drop_index("ix_online_hold_voucher", table_name="online_hold")
    op.drop_index("ix_online_hold_partner", table_name="online_hold")
    op.drop_table("online_hold")
    op.drop_table("partner")
    op.drop_index("ix_redemption_partner", table_name="redemption")
    with op.batch_alter_table("redemption") as batch:
        batch.drop_column("order_ref")
        batch.drop_column("partner")
        batch.drop_column("source")

