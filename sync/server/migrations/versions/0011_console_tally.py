"""console tally: running counts of the ledger for the console's pages (issue 12)

Revision ID: 0011_console_tally
Revises: 0010_month_signoff

The tables of sync/office/tally.py: ``redemption_tally`` (lines per cinema,
business day, format, kind and status), ``voucher_use`` (valid redeems per
voucher and format) and ``campaign_tally`` (vouchers used per campaign and
format), filled here from the stored lines; from then on the ledger's one
status hook keeps them in step. Two voucher indexes (``exp``; ``campaign``,
``replaced_by``) let the overview count what expires and what was issued
without a table scan. The fill is written against the tables as they are at
this revision (plain SQL), not the models, so a later model change cannot
alter what this step does.
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from sync.businessday import BusinessDay

revision = "0011_console_tally"
down_revision = "0010_month_signoff"
branch_labels = None
depends_on = None

CHUNK = 5000


def upgrade() -> None:
    op.create_table(
        "redemption_tally",
        sa.Column("cinema", sa.String(length=64), primary_key=True),
        sa.Column("day", sa.String(length=10), primary_key=True),
        sa.Column("format", sa.String(length=8), primary_key=True),
        sa.Column("kind", sa.String(length=8), primary_key=True),
        sa.Column("status", sa.String(length=16), primary_key=True),
        sa.Column("basis", sa.String(length=80), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_index("ix_redemption_tally_day", "redemption_tally", ["day"])
    op.create_table(
        "voucher_use",
        sa.Column("cti", sa.String(length=20), primary_key=True),
        sa.Column("format", sa.String(length=8), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_table(
        "campaign_tally",
        sa.Column("campaign", sa.String(length=128), primary_key=True),
        sa.Column("format", sa.String(length=8), primary_key=True),
        sa.Column("vouchers", sa.Integer(), nullable=False),
    )
    op.create_index("ix_voucher_exp", "voucher", ["exp"])
    op.create_index("ix_voucher_campaign_replaced", "voucher", ["campaign", "replaced_by"])
    fill(op.get_bind())


def fill(conn: sa.Connection) -> None:
    settings = {
        code: BusinessDay.of(tz, starts)
        for code, tz, starts in conn.execute(
            sa.text("SELECT code, timezone, day_starts FROM cinema")
        )
    }
    lines: dict[tuple[str, ...], int] = defaultdict(int)
    for cinema, at, fmt, kind, status in conn.execute(
        sa.text("SELECT cinema, at, format, kind, status FROM redemption")
    ):
        bd = settings.get(cinema) or BusinessDay()
        basis = f"{bd.timezone} {bd.day_starts}"
        lines[(cinema, bd.day_of(at).isoformat(), fmt, kind, status, basis)] += 1
    rows = [
        {"cinema": c, "day": d, "format": f, "kind": k, "status": s, "basis": b, "n": n}
        for (c, d, f, k, s, b), n in lines.items()
    ]
    insert = sa.text(
        "INSERT INTO redemption_tally (cinema, day, format, kind, status, basis, n) "
        "VALUES (:cinema, :day, :format, :kind, :status, :basis, :n)"
    )
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert, rows[i : i + CHUNK])
    valid = "kind = 'redeem' AND status = 'valid'"
    conn.execute(
        sa.text(
            "INSERT INTO voucher_use (cti, format, n) SELECT voucher, format, count(*) "
            f"FROM redemption WHERE {valid} GROUP BY voucher, format"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO voucher_use (cti, format, n) SELECT voucher, '*', count(*) "
            f"FROM redemption WHERE {valid} GROUP BY voucher"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO campaign_tally (campaign, format, vouchers) "
            "SELECT coalesce(v.campaign, ''), u.format, count(*) FROM voucher_use u "
            "LEFT JOIN voucher v ON v.cti = u.cti GROUP BY coalesce(v.campaign, ''), u.format"
        )
    )


def downgrade() -> None:
    op.drop_index("ix_voucher_campaign_replaced", table_name="voucher")
    op.drop_index("ix_voucher_exp", table_name="voucher")
    op.drop_table("campaign_tally")
    op.drop_table("voucher_use")
    op.drop_index("ix_redemption_tally_day", table_name="redemption_tally")
    op.drop_table("redemption_tally")
