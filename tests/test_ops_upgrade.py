"""Store upgrade on first start: from the first released schema, and a failed migration rolled back."""

from __future__ import annotations

import shutil

import pytest
from ops_support import make_kiosk, record_uuids, revision, rows, run_alembic

from kiosk.engine.db import HEAD_REVISION, MIGRATIONS_DIR
from kiosk.engine.service import KioskService
from kiosk.ops.backup import list_backups
from kiosk.ops.upgrade import UpgradeFailed, upgrade_store

FIRST_RELEASED = "0001"


@pytest.fixture
def old_kiosk(tmp_path, issuer_key):
    """A kiosk whose store is at the first released schema, with 3 queued (unsynced) records."""
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=3)
    run_alembic(paths.store, MIGRATIONS_DIR, "downgrade", FIRST_RELEASED)
    assert revision(paths.store) == FIRST_RELEASED
    return paths


def test_upgrade_from_first_released_schema_keeps_every_queued_record(old_kiosk):
    queued = record_uuids(old_kiosk.store)
    assert len(queued) == 3
    result = upgrade_store(old_kiosk)
    assert (result.from_revision, result.to_revision) == (FIRST_RELEASED, HEAD_REVISION)
    assert result.backup is not None and result.backup.exists()
    assert revision(result.backup) == FIRST_RELEASED  # the copy is of the old schema
    assert revision(old_kiosk.store) == HEAD_REVISION
    assert record_uuids(old_kiosk.store) == queued
    with KioskService.open(old_kiosk.home) as svc:
        assert svc.store.counts()["pending"] == 3
    # second start: nothing to do, no new backup
    again = upgrade_store(old_kiosk)
    assert not again.migrated
    assert len(list_backups(old_kiosk, "pre-upgrade")) == 1


def test_failed_migration_script_restores_the_backup(old_kiosk, tmp_path):
    # the next release's migrations, plus a 0003 that changes the schema and then fails
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0003_broken.py").write_text(
        '''"""A migration that fails half-way."""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("records", sa.Column("broken", sa.Integer, nullable=True))
    op.execute("UPDATE records SET broken = 1")
    op.execute("DELETE FROM records WHERE seq > 1")
    raise RuntimeError("disk said no")


def downgrade():
    pass
''',
        encoding="utf-8",
    )
    queued = record_uuids(old_kiosk.store)
    with pytest.raises(UpgradeFailed) as info:
        upgrade_store(
            old_kiosk,
            migrate=lambda store: run_alembic(store, scripts, "upgrade", "0003"),
            target="0003",
        )
    err = info.value
    assert err.reason == "migration_failed" and err.exit_code == 3
    assert "restored from the backup" in err.message and str(err.backup) in err.message
    assert "disk said no" in err.message
    # exactly as before: old schema, every queued record, no half-added column
    assert revision(old_kiosk.store) == FIRST_RELEASED
    assert record_uuids(old_kiosk.store) == queued
    columns = [r[1] for r in rows(old_kiosk.store, "PRAGMA table_info(records)")]
    assert "broken" not in columns
    assert rows(old_kiosk.store, "PRAGMA integrity_check") == [("ok",)]


def test_store_the_real_migration_cannot_handle_is_rolled_back(old_kiosk):
    """A store with a stray table 0002 wants to create: the production migration fails."""
    import sqlite3

    conn = sqlite3.connect(old_kiosk.store)
    conn.execute("CREATE TABLE roster (junk TEXT)")
    conn.execute("INSERT INTO roster VALUES ('left by a tool')")
    conn.commit()
    conn.close()
    queued = record_uuids(old_kiosk.store)
    with pytest.raises(UpgradeFailed, match="restored from the backup"):
        upgrade_store(old_kiosk)
    assert revision(old_kiosk.store) == FIRST_RELEASED
    assert record_uuids(old_kiosk.store) == queued
    assert rows(old_kiosk.store, "SELECT junk FROM roster") == [("left by a tool",)]
    tables = {r[0] for r in rows(old_kiosk.store, "SELECT name FROM sqlite_master")}
    assert not tables & {"conflicts", "remote_redemptions"}  # nothing of 0002 remains
    assert "cinema" not in [r[1] for r in rows(old_kiosk.store, "PRAGMA table_info(revocations)")]


def test_fresh_install_has_nothing_to_upgrade(tmp_path):
    from kiosk.paths import KioskPaths

    result = upgrade_store(KioskPaths(tmp_path / "new"))
    assert result.backup is None and result.from_revision is None
