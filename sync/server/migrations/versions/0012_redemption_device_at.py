"""an index on redemption (device, at): the alert rules' window of one counter or partner

Revision ID: 0012_redemption_device_at
Revises: 0011_console_tally

The burst rule reads one device's redemptions of the last window (10 minutes)
on every evaluation, and its baseline the last two weeks once an hour. With
only ``ix_redemption_device`` that read walks every row the device ever
stored: an online partner sells thousands of tickets a day, and months of
them made each evaluation slower than the requests it watched. With
(device, at) it reads the window alone.
"""

from alembic import op

revision = "0012_redemption_device_at"
down_revision = "0011_console_tally"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_redemption_device_at", "redemption", ["device", "at"])


def downgrade() -> None:
    op.drop_index("ix_redemption_device_at", table_name="redemption")
