"""The kiosk store's tables as SQLAlchemy Core objects (the schema at head).

Kept apart from :mod:`kiosk.engine.store` so that importing the store (and
running ``cinepass-kiosk verify``, which only reads through sqlite3) does not
pay for importing SQLAlchemy; the write paths import this module on first use.
Alembic's ``versions/`` scripts are the source of truth for how the schema
came to be; this module must match their head.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
records = sa.Table(
    "records",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("device", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("voucher", sa.LargeBinary(10), nullable=False),
    sa.Column("token", sa.Text, nullable=False),
    sa.Column("cinema", sa.String(64), nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("staff", sa.String(64), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("voids", sa.String(36), nullable=False),
    sa.Column("prev", sa.LargeBinary(32), nullable=False),
    sa.Column("v", sa.Integer, nullable=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
    sa.Column("sig", sa.LargeBinary(64), nullable=False),
    sa.Column("synced_at", sa.BigInteger, nullable=True),
    sa.Column("server_status", sa.String(16), nullable=True),
    sa.Column("server_detail", sa.Text, nullable=True),
)
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("short_code", sa.String(19), nullable=True),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("staff", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("record_uuid", sa.String(36), nullable=True),
    sa.Column("uuid", sa.String(36), nullable=True, unique=True),  # refusals only
    sa.Column("text_hash", sa.String(64), nullable=True),
    sa.Column("uploaded_at", sa.BigInteger, nullable=True),
)
revocations = sa.Table(
    "revocations",
    metadata,
    sa.Column("cti", sa.LargeBinary(10), primary_key=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("cinema", sa.String(64), nullable=False, server_default=""),
    sa.Column("device", sa.String(64), nullable=False, server_default=""),
    sa.Column("staff", sa.String(64), nullable=False, server_default=""),
)
remote_redemptions = sa.Table(
    "remote_redemptions",
    metadata,
    sa.Column("cti", sa.LargeBinary(10), primary_key=True),
    sa.Column("at", sa.BigInteger, primary_key=True),
    sa.Column("device", sa.String(64), primary_key=True),
    sa.Column("cinema", sa.String(64), nullable=False),
    sa.Column("staff", sa.String(64), nullable=False),
)
roster = sa.Table(
    "roster",
    metadata,
    sa.Column("cti", sa.LargeBinary(10), primary_key=True),
    sa.Column("token", sa.Text, nullable=False),
)
trusted_keys_t = sa.Table(
    "trusted_keys",
    metadata,
    sa.Column("kid", sa.LargeBinary(8), primary_key=True),
    sa.Column("raw", sa.LargeBinary(32), nullable=False),
    sa.Column("issuer", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)
cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("feed", sa.String(32), primary_key=True),
    sa.Column("cursor", sa.Text, nullable=False),
)
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
conflicts_t = sa.Table(
    "conflicts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("first_record_uuid", sa.String(36), nullable=False),
    sa.Column("cinema", sa.String(64), nullable=False),
    sa.Column("device", sa.String(64), nullable=False),
    sa.Column("staff", sa.String(64), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),
)
# the LAN peers (0004_lan_peers, kiosk.engine.peerstore; docs/lan-peers.md)
peers_t = sa.Table(
    "peers",
    metadata,
    sa.Column("device", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("public_key", sa.LargeBinary(32), nullable=False),
    sa.Column("address", sa.String(260), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False, server_default="active"),
)
peer_uses = sa.Table(
    "peer_uses",
    metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("device", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("voucher", sa.LargeBinary(10), nullable=False, index=True),
    sa.Column("cinema", sa.String(64), nullable=False),
    sa.Column("staff", sa.String(64), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("voids", sa.String(36), nullable=False),
    sa.Column("sig", sa.LargeBinary(64), nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("device", "seq", name="uq_peer_uses_device_seq"),
)
