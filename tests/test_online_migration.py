"""Issue 14's schema (server migration ``0007_online_partners_holds``) from the first released one."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from sync.server.db import alembic_config, make_engine, migrate

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_online_tables_and_columns_appear_on_a_first_schema_database(db_url: str) -> None:
    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    command.upgrade(cfg, "0001")
    with engine.begin() as c:  # a counter's line stored under the first schema
        c.execute(
            text(
                "INSERT INTO redemption (uuid, v, device, seq, kind, voucher, token, cinema, "
                "format, staff, at, voids, prev, hash, sig, status, received_at, chain_gap, "
                "chain_fork) VALUES ('u1', 1, 'd1', 1, 'redeem', 'aa', 'CP1:x', 'CIN-A', '2D', "
                "'w', 1, '', '00', 'h', 's', 'valid', 1, 0, 0)"
            )
        )
    migrate(engine)
    names = set(inspect(engine).get_table_names())
    assert {"partner", "online_hold", "online_request", "online_signature"} <= names
    cols = {c["name"] for c in inspect(engine).get_columns("redemption")}
    assert {"source", "partner", "order_ref"} <= cols
    uniques = inspect(engine).get_unique_constraints("online_hold")
    assert any(u["column_names"] == ["active"] for u in uniques)
    with engine.connect() as c:
        row = c.execute(text("SELECT source, partner, status FROM redemption")).one()
    assert tuple(row) == (None, None, "valid")  # a counter's line: no source
    command.downgrade(cfg, "0006_alerts")
    assert "partner" not in inspect(engine).get_table_names()
    migrate(engine)
    assert "online_hold" in inspect(engine).get_table_names()
    engine.dispose()
