"""First start after an upgrade: back up the store, migrate it, roll back if that fails.

The installer replaces the program and leaves the data folder alone, so the
first start of a new version may find a store with an older schema.
:func:`upgrade_store` runs before anything else opens the store:

1. read the schema revision (no Alembic import when it is already current);
2. copy the store with the SQLite backup API (``backups/...-pre-upgrade``);
3. run the store's own migrations (:func:`kiosk.engine.db.migrate`);
4. check that every record is still there (nothing queued is lost);
5. if 3 or 4 fails, copy the backup back over the store and raise
   :class:`UpgradeFailed`, whose message says so and names the backup, so the
   counter keeps working on the old schema... with the old program, which IT
   reinstalls; the data is never left half-migrated.

The migration step is a parameter so a test can inject a failing migration
script folder; production always uses the store's.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.errors import EnvironmentFailure
from kiosk.paths import KioskPaths

from .backup import backup_now, restore_file

log = logging.getLogger(__name__)

Migrator = Callable[[Path], None]


class UpgradeFailed(EnvironmentFailure):
    """The store's migration failed and the pre-upgrade backup was put back (exit 3)."""

    def __init__(self, reason: str, message: str, backup: Path | None) -> None:
        super().__init__(reason, message)
        self.backup = backup


@dataclass(frozen=True)
class UpgradeResult:
    from_revision: str | None
    to_revision: str | None
    backup: Path | None

    @property
    def migrated(self) -> bool:
        return self.backup is not None


def schema_revision(store: Path) -> str | None:
    """The Alembic revision of the store file (None: no file or no schema yet)."""
    from kiosk.engine.db import current_revision

    return current_revision(store)


def head_revision() -> str:
    from kiosk.engine.db import HEAD_REVISION

    return HEAD_REVISION


def store_migrator(store: Path) -> None:
    """The production migration: the store's own Alembic scripts, to head."""
    from kiosk.engine.db import make_engine, migrate

    engine = make_engine(store)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def _count(conn: sqlite3.Connection, table: str) -> int:
    sql = f'SELECT count(*) FROM "{table}"'  # noqa: S608 - one of two fixed names
    return int(conn.execute(sql).fetchone()[0])


def _row_counts(store: Path) -> dict[str, int]:
    """Rows per table that must survive a migration (records = the sync queue)."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if r[0] in ("records", "attempts")
        ]
        counts = {t: _count(conn, t) for t in tables}
        if "records" in tables:
            cols = {r[1] for r in conn.execute('PRAGMA table_info("records")')}
            if "synced_at" in cols:
                counts["pending"] = int(
                    conn.execute("SELECT count(*) FROM records WHERE synced_at IS NULL").fetchone()[
                        0
                    ]
                )
        return counts
    finally:
        conn.close()


def upgrade_store(
    paths: KioskPaths,
    *,
    migrate: Migrator = store_migrator,
    target: str | None = None,
    revision_of: Callable[[Path], str | None] = schema_revision,
) -> UpgradeResult:
    """Bring the store's schema to ``target`` (default: the store's head) safely.

    A missing store (fresh install) or one already at ``target`` is left
    alone. Otherwise see the module docstring; on failure the store is
    restored from the backup and :class:`UpgradeFailed` is raised.
    """
    store = paths.store
    target = target or head_revision()
    if not store.is_file():
        return UpgradeResult(None, None, None)
    current = revision_of(store)
    if current == target:
        return UpgradeResult(current, current, None)
    before = _row_counts(store)
    backup = backup_now(paths, "pre-upgrade")
    log.info(
        "store schema %s -> %s: backup %s written, migrating",
        current or "none",
        target,
        backup.name,
    )
    try:
        migrate(store)
        after_rev = revision_of(store)
        if after_rev != target:
            raise RuntimeError(f"the schema is at {after_rev} after the migration, not {target}")
        after = _row_counts(store)
        lost = {k: (v, after.get(k, 0)) for k, v in before.items() if after.get(k, 0) < v}
        if lost:
            raise RuntimeError(f"rows would be lost: {lost}")
    except Exception as exc:  # noqa: BLE001 - any failure of a migration means roll back
        log.error("store migration %s -> %s failed: %r; restoring %s", current, target, exc, backup)
        _remove_sidecars(store)
        restore_file(backup, store)
        restored_rev = revision_of(store)
        message = (
            f"the update of the kiosk's data from schema {current} to {target} failed ({exc}); "
            f"the data was restored from the backup {backup} and is unchanged (schema "
            f"{restored_rev}). Reinstall the previous version and call support."
        )
        raise UpgradeFailed("migration_failed", message, backup) from exc
    log.info("store migrated %s -> %s; %s", current, target, before)
    return UpgradeResult(current, target, backup)


def _remove_sidecars(store: Path) -> None:
    """Fold a WAL left by the failed migration into the file before it is overwritten.

    A checkpoint (not a delete): deleting ``-wal`` under a live connection
    would corrupt it; checkpointing with our own connection is always safe.
    """
    try:
        conn = sqlite3.connect(str(store), timeout=10)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.warning("checkpoint before rollback failed: %s", exc)
