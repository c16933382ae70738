"""A revocation snapshot stored a page to a row (docs/feeds.md, "The store").

``revocation_pages``: one row per packed snapshot page (per kind and ascending
run): its 10-byte ids concatenated in ascending order, the first and last id,
and what a hit needs (the page's texts once, the numbers as packed arrays).
``revocation_removed``: ids an event after the snapshot took off the list (an
unfreeze, a cancelled redemption), which hide their page entry. Meta
``revocation_pages_gen`` changes with every swap, so a reader holding pages in
memory notices another process's swap.

Downgrade drops both and forgets the revocation cursor and any staged
snapshot: the older kiosk then asks for the whole list again (its tables
alone would miss what the pages held).

Revision ID: 0005_revocation_pages
Revises: 0004_lan_peers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_revocation_pages"
down_revision = "0004_lan_peers"
branch_labels = None
depends_on = None

GEN_KEY = "revocation_pages_gen"


def upgrade() -> None:
    op.create_table(
        "revocation_pages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(1), nullable=False),  # f: revocations, r: remote redemptions
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("first", sa.LargeBinary(10), nullable=False),
        sa.Column("last", sa.LargeBinary(10), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("ctis", sa.LargeBinary, nullable=False),
        sa.Column("strings", sa.Text, nullable=False),
        sa.Column("reason", sa.LargeBinary, nullable=False),
        sa.Column("at", sa.LargeBinary, nullable=False),
        sa.Column("cinema", sa.LargeBinary, nullable=False),
        sa.Column("device", sa.LargeBinary, nullable=False),
        sa.Column("staff", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "revocation_removed",
        sa.Column("cti", sa.LargeBinary(10), primary_key=True),
        sa.Column("kind", sa.String(1), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.get_bind().exec_driver_sql(
        "INSERT OR IGNORE INTO meta(key, value) VALUES (?, '0')", (GEN_KEY,)
    )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.exec_driver_sql("SELECT 1 FROM revocation_pages LIMIT 1").first() is not None:
        conn.exec_driver_sql("DELETE FROM cursors WHERE feed = 'revocations'")
    conn.exec_driver_sql("DELETE FROM cursors WHERE feed = 'revocations_snapshot'")
    conn.exec_driver_sql("DELETE FROM meta WHERE key = ?", (GEN_KEY,))
    for stage in ("revocation_pages_stage", "revocation_removed_stage"):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage}")
    op.drop_table("revocation_removed")
    op.drop_table("revocation_pages")
