"""The central schema upgrades from the first released one (0001) with its data."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

import sync.office.users  # noqa: F401  (the console's tables: registered on import, as the app does)
from sync.server.db import alembic_config, make_engine, migrate, schema_matches, session_scope
from sync.server.models import AuditEntry, Device, Quarantine, Redemption

FIRST_RELEASED = "0001"


def test_upgrade_from_the_first_release_keeps_and_flags_old_lines(db_url: str) -> None:
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), FIRST_RELEASED)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cinema (code, name, created_at) VALUES ('C', 'c', 0)"))
        conn.execute(
            text(
                "INSERT INTO device (id, cinema, name, public_raw, token_hash, status, "
                "enrolled_at, chain_seq, chain_hash) VALUES ('d', 'C', '', :raw, 't', 'active', "
                "0, 2, :h)"
            ),
            {"raw": b"\x00" * 32, "h": "0" * 64},
        )
        for seq, gap, fork in ((1, False, False), (2, True, True)):
            conn.execute(
                text(
                    "INSERT INTO redemption (uuid, v, device, seq, kind, voucher, token, cinema, "
                    "format, staff, at, voids, prev, hash, sig, status, received_at, chain_gap, "
                    "chain_fork) VALUES (:u, 1, 'd', :seq, 'redeem', 'v', 'CP1:x', 'C', '2D', '', "
                    ":at, '', '', '', '', 'valid', 0, :gap, :fork)"
                ),
                {"u": f"u{seq}", "seq": seq, "at": 1000 * seq, "gap": gap, "fork": fork},
            )
    migrate(engine)
    assert schema_matches(engine)
    with session_scope(engine) as s:
        rows = {r.uuid: r for r in s.query(Redemption)}
        assert rows["u1"].flags == [] and rows["u1"].at_server == 1000
        assert rows["u2"].flags == ["chain_gap", "chain_fork"] and rows["u2"].status == "valid"
        device = s.get(Device, "d")
        assert device is not None and device.chain_at == 2000
        assert s.query(Quarantine).count() == 0 and s.query(AuditEntry).count() == 0
    command.downgrade(alembic_config(engine), FIRST_RELEASED)  # and back, for a rollback
    migrate(engine)
    assert schema_matches(engine)
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_migrations_match_the_models(db_url: str) -> None:
    """No model change without its migration (autogenerate finds nothing to do)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from sync.server.models import Base

    engine = migrate(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()
