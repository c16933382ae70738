"""The counters of this cinema, what they told us over the LAN, and the claim rounds.

Issue 15 (docs/lan-peers.md): ``peers`` is the server's ``peers`` feed (the
only keys LAN messages are trusted from); ``peer_uses`` holds the signed use
notices of the other counters (never their QR texts), exchanged again after a
partition. (The claim rounds in flight live seconds and are kept in a file of
their own, not here: kiosk.peers.claims.)

Revision ID: 0004_lan_peers
Revises: 0003_refusal_log
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lan_peers"
down_revision = "0003_refusal_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peers",
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("address", sa.String(260), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
    )
    op.create_table(
        "peer_uses",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("voucher", sa.LargeBinary(10), nullable=False),
        sa.Column("cinema", sa.String(64), nullable=False),
        sa.Column("staff", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("voids", sa.String(36), nullable=False),
        sa.Column("sig", sa.LargeBinary(64), nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("device", "seq", name="uq_peer_uses_device_seq"),
    )
    op.create_index("ix_peer_uses_voucher", "peer_uses", ["voucher"])


def downgrade() -> None:
    op.drop_index("ix_peer_uses_voucher", "peer_uses")
    op.drop_table("peer_uses")
    op.drop_table("peers")
