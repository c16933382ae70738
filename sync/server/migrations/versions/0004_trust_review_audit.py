"""trust: review flags, quarantine, audit log (issue 10)

Revision ID: 0004_trust
Revises: 0003_refusals
Create Date: 2026-12-03 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_trust'
down_revision = '0003_refusals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_at', sa.BigInteger(), nullable=False, server_default='0'))
    with op.batch_alter_table('redemption', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flags', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('at_server', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('decision', sa.String(length=16), nullable=True))
    op.create_table('quarantine',
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=True),
    sa.Column('problem', sa.String(length=64), nullable=False),
    sa.Column('message', sa.String(length=300), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('first_at', sa.BigInteger(), nullable=False),
    sa.Column('last_at', sa.BigInteger(), nullable=False),
    sa.Column('times', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('device', 'uuid')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('address', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_at', ['at'], unique=False)
    # lines stored before this release: their chain booleans become flags, so the
    # office sees them the same way (status stays: they were settled under the old rules)
    op.execute("UPDATE redemption SET flags = '[]'")
    op.execute("UPDATE redemption SET flags = '[\"chain_gap\"]' WHERE chain_gap AND NOT chain_fork")
    op.execute("UPDATE redemption SET flags = '[\"chain_fork\"]' WHERE chain_fork AND NOT chain_gap")
    op.execute("UPDATE redemption SET flags = '[\"chain_gap\", \"chain_fork\"]' WHERE chain_gap AND chain_fork")
    op.execute("UPDATE redemption SET at_server = at")
    with op.batch_alter_table('redemption', schema=None) as batch_op:
        batch_op.alter_column('flags', existing_type=sa.JSON(), nullable=False)
    op.execute("UPDATE device SET chain_at = COALESCE((SELECT MAX(r.at) FROM redemption r WHERE r.device = device.id AND r.seq = device.chain_seq), 0)")


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_at')
    op.drop_table('audit_log')
    op.drop_table('quarantine')
    with op.batch_alter_table('redemption', schema=None) as batch_op:
        batch_op.drop_column('decision')
        batch_op.drop_column('at_server')
        batch_op.drop_column('flags')
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_column('chain_at')
