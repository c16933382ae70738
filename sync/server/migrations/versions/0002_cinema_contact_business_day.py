"""cinema contact and business day; issuer hotline and after-sales text (issue 11)

A cinema gets its address and phone (printed on the member's card) and its
business day (time zone, default Asia/Shanghai; the day starts at 06:00 by
default, so a 00:30 admission counts to the evening before). An issuer gets
the hotline and the after-sales rule its cards print. Existing rows take the
defaults, which are what the reports assumed before (China time).

Revision ID: 0002_cinema_contact_bday
Revises: 0001
Create Date: 2026-12-03 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_cinema_contact_bday'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cinema', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('phone', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(
            sa.Column('timezone', sa.String(length=64), nullable=False, server_default='Asia/Shanghai')
        )
        batch_op.add_column(sa.Column('day_starts', sa.String(length=5), nullable=False, server_default='06:00'))
    with op.batch_alter_table('issuer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hotline', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('after_sales', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('issuer', schema=None) as batch_op:
        batch_op.drop_column('after_sales')
        batch_op.drop_column('hotline')
    with op.batch_alter_table('cinema', schema=None) as batch_op:
        batch_op.drop_column('day_starts')
        batch_op.drop_column('timezone')
        batch_op.drop_column('phone')
        batch_op.drop_column('address')
