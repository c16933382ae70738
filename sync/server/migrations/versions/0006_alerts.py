"""monitoring: alerts, their webhook outbox, evaluation leases (issue 13)

Revision ID: 0006_alerts
Revises: 0005_console_users

The tables of sync/office/alerts_models.py. ``alert.open_key`` is unique and
NULL once resolved: one open alert per rule and subject, enforced by the
database. Acknowledging and resolving are audited in ``audit_log``
(migration 0004_trust).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_alerts"
down_revision = "0005_console_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_key", sa.String(length=200), nullable=False),
        sa.Column("open_key", sa.String(length=260), nullable=True),
        sa.Column("cinema", sa.String(length=64), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("voucher", sa.String(length=20), nullable=True),
        sa.Column("member", sa.String(length=128), nullable=True),
        sa.Column("staff", sa.String(length=64), nullable=True),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("acked_by", sa.String(length=128), nullable=True),
        sa.Column("acked_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("open_key"),
    )
    op.create_index("ix_alert_rule", "alert", ["rule"])
    op.create_index("ix_alert_status", "alert", ["status"])
    op.create_table(
        "alert_notice",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
    )
    op.create_index("ix_alert_notice_alert_id", "alert_notice", ["alert_id"])
    op.create_index("ix_alert_notice_status_next", "alert_notice", ["status", "next_at"])
    op.create_table(
        "alert_lease",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_lease")
    op.drop_index("ix_alert_notice_status_next", table_name="alert_notice")
    op.drop_index("ix_alert_notice_alert_id", table_name="alert_notice")
    op.drop_table("alert_notice")
    op.drop_index("ix_alert_status", table_name="alert")
    op.drop_index("ix_alert_rule", table_name="alert")
    op.drop_table("alert")
