"""campaigns and the console's issue jobs (issue 12)

Revision ID: 0009_campaigns
Revises: 0008_alerts_inbox

Adds ``campaign`` (code, name, first and last day, planned vouchers) and
``issue_job`` (a console batch issued in the background: progress and
result, read by whichever server process answers). Vouchers keep their
``campaign`` string, which is a campaign's code. See
sync/office/campaign_models.py and docs/office.md.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_campaigns"
down_revision = "0008_alerts_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.String(length=10), nullable=False),
        sa.Column("ends_on", sa.String(length=10), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "issue_job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(length=64), nullable=True),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("campaign", sa.String(length=128), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("files", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_issue_job_batch", "issue_job", ["batch"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_issue_job_batch", table_name="issue_job")
    op.drop_table("issue_job")
    op.drop_table("campaign")
