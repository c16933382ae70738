"""monitoring: the alert inbox, what uploads stored and is not evaluated yet (issue 13)

Revision ID: 0008_alerts_inbox
Revises: 0007_online_partners_holds

One row per upload (``device``, the record uuids, the refusal ids), written in
the upload's transaction; the process holding the ``eval`` lease evaluates the
rows and deletes them in the transaction that stores their alerts. Alert
evaluation thereby leaves the request path (the upload only adds one row) and
is exactly once with several server processes. See sync/server/alerts_worker.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_alerts_inbox"
down_revision = "0007_online_partners_holds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_inbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("refusals", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_inbox")
