"""console accounts and sessions, and the indexes the console reads

Revision ID: 0005_console_users
Revises: 0004_trust
Create Date: 2026-12-03 06:10:00

The union office's web console (sync/console): console_user (argon2 hash,
lockout, optional TOTP, role, cinema) and console_session (cookie hash, CSRF
token, last use), two indexes on redemption for the console's counts and
one on the audit log's subject (a voucher's trace).
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_console_users'
down_revision = '0004_trust'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_user',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('cinema', sa.String(length=64), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('last_login', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('console_session',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_name', sa.String(length=64), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('last_seen', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.create_index('ix_console_session_user_name', ['user_name'], unique=False)

    # the console's counts (overview, settlement month) read from the index alone
    with op.batch_alter_table('redemption', schema=None) as batch_op:
        batch_op.create_index('ix_redemption_at_counts', ['at', 'kind', 'status', 'cinema', 'format'], unique=False)
        batch_op.create_index('ix_redemption_status_kind_voucher', ['status', 'kind', 'voucher'], unique=False)

    # a voucher's trace reads the audit lines about it
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_subject', ['subject'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_subject')
    with op.batch_alter_table('redemption', schema=None) as batch_op:
        batch_op.drop_index('ix_redemption_status_kind_voucher')
        batch_op.drop_index('ix_redemption_at_counts')
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.drop_index('ix_console_session_user_name')
    op.drop_table('console_session')
    op.drop_table('console_user')
