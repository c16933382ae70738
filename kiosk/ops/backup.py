"""Backups of the kiosk store: SQLite's online backup API, daily rotation, restore.

Why it is built this way:

* **The backup API, not a file copy.** The store runs in WAL mode: the
  newest commits may live only in ``kiosk.sqlite3-wal``, and copying the main
  file alone loses them (or copies a torn page while the GUI writes).
  ``sqlite3.Connection.backup`` copies a consistent snapshot, WAL included,
  while the kiosk keeps scanning.
* **A backup is only a backup once it has been checked.** Each copy is
  written to a temp name, checked with ``PRAGMA integrity_check``, fsync'd and
  then renamed, so ``backups/`` never holds a half-written file that a
  restore would trust.
* **Rotation per kind.** ``daily`` copies are kept for the last
  :data:`KEEP` days; ``manual``, ``pre-upgrade`` and ``pre-restore`` copies
  rotate separately, so a burst of manual backups never pushes out last
  week's daily copies (and vice versa).
* **Narrow dependency.** Everything here works on any SQLite file path: it
  does not need the store's schema, so it still works when a migration has
  just broken that schema (which is exactly when it is needed).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kiosk.errors import EnvironmentFailure, UsageError
from kiosk.paths import KioskPaths
from sync.fsutil import write_through

log = logging.getLogger(__name__)

KEEP = 7
KINDS = ("daily", "manual", "pre-upgrade", "pre-restore")
SQLITE_MAGIC = b"SQLite format 3\x00"
_NAME = re.compile(r"^kiosk-(\d{8})-(\d{6})(?:-(\d+))?-([a-z-]+)\.sqlite3$")


class BackupError(EnvironmentFailure):
    """A backup could not be written (disk full, store unreadable): exit 3."""


class BadBackupFile(UsageError):
    """The file given to ``restore`` is not a sound SQLite backup: exit 2, nothing changed."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    kind: str
    created: datetime
    size: int


def _check_sqlite_file(path: Path) -> None:
    """Raise :class:`BadBackupFile` unless ``path`` is a readable, intact SQLite database."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BadBackupFile("bad_backup", f"cannot read {path}: {exc.strerror}") from exc
    if head != SQLITE_MAGIC:
        raise BadBackupFile("bad_backup", f"{path.name} is not a SQLite database file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BadBackupFile("bad_backup", f"{path.name} cannot be opened: {exc}") from exc
    if not result or result[0] != "ok":
        raise BadBackupFile(
            "bad_backup", f"{path.name} is damaged ({result[0] if result else '?'})"
        )


def copy_database(src: Path, dest: Path) -> Path:
    """Copy the SQLite database ``src`` to ``dest`` with the backup API, checked and atomic.

    ``src`` may be in use by other connections (the window, the sync thread).
    The result is a standalone database in rollback-journal mode (no ``-wal``
    file beside it), so it can be mailed or copied as one file.
    """
    if not src.is_file():
        raise BackupError("no_store", f"there is no store to back up at {src}")
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def write(tmp: Path) -> None:
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=10)
        try:
            target = sqlite3.connect(str(tmp))
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")
                target.commit()
            finally:
                target.close()
        finally:
            source.close()
        _check_sqlite_file(tmp)

    try:
        write_through(dest, write, mode=0o600)  # it holds every voucher text
    except (sqlite3.Error, OSError) as exc:
        raise BackupError("backup_failed", f"cannot back up {src} to {dest}: {exc}") from exc
    except BadBackupFile as exc:
        raise BackupError(
            "backup_failed", f"the backup copy failed its check: {exc.message}"
        ) from exc
    return dest


def _backup_name(kind: str, now: datetime, folder: Path) -> Path:
    stamp = now.strftime("%Y%m%d-%H%M%S")
    path = folder / f"kiosk-{stamp}-{kind}.sqlite3"
    n = 1
    while path.exists():  # two backups in one second (tests, a nervous manager)
        path = folder / f"kiosk-{stamp}-{n}-{kind}.sqlite3"
        n += 1
    return path


def list_backups(paths: KioskPaths, kind: str | None = None) -> list[BackupInfo]:
    """Backups in the data folder, newest first (optionally of one ``kind``)."""
    found: list[BackupInfo] = []
    if not paths.backups.is_dir():
        return found
    for p in paths.backups.iterdir():
        m = _NAME.match(p.name)
        if not m or (kind is not None and m.group(4) != kind):
            continue
        created = datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S")
        found.append(BackupInfo(p, m.group(4), created, p.stat().st_size))
    found.sort(key=lambda b: (b.created, b.path.name), reverse=True)
    return found


def prune(paths: KioskPaths, kind: str, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``kind``; returns what was deleted."""
    removed = []
    for info in list_backups(paths, kind)[keep:]:
        info.path.unlink(missing_ok=True)
        removed.append(info.path)
    if removed:
        log.info("removed %d old %s backup(s)", len(removed), kind)
    return removed


def backup_now(
    paths: KioskPaths, kind: str = "manual", *, now: datetime | None = None, keep: int = KEEP
) -> Path:
    """Back up this kiosk's store now; returns the new file (older ones of ``kind`` pruned)."""
    if kind not in KINDS:
        raise ValueError(f"unknown backup kind {kind!r}")
    started = time.monotonic()
    dest = _backup_name(kind, now or datetime.now(), paths.backups)
    copy_database(paths.store, dest)
    log.info(
        "%s backup written: %s (%d bytes, %.0f ms)",
        kind,
        dest.name,
        dest.stat().st_size,
        (time.monotonic() - started) * 1000,
    )
    prune(paths, kind, keep)
    return dest


def daily_backup(
    paths: KioskPaths, *, now: datetime | None = None, keep: int = KEEP
) -> Path | None:
    """Make today's backup if there is none yet; keep the last ``keep`` daily copies.

    Cheap to call often (at start and then hourly from a timer): it only
    lists a folder when today's copy exists. Returns the new file or None.
    A failure is logged and re-raised as :class:`BackupError`.
    """
    now = now or datetime.now()
    if not paths.store.is_file():
        return None
    if any(b.created.date() == now.date() for b in list_backups(paths, "daily")):
        return None
    try:
        return backup_now(paths, "daily", now=now, keep=keep)
    except BackupError as exc:
        log.error("daily backup failed: %s", exc.message)
        raise


def restore(paths: KioskPaths, backup: Path) -> Path:
    """Replace the store's contents with ``backup``; returns the safety copy of the old store.

    The backup is checked before anything is touched (a wrong or damaged
    file changes nothing); the current store is itself backed up first
    (kind ``pre-restore``), so a restore can be undone. The copy goes
    through the backup API into the live database file, which keeps its
    WAL and lock files consistent for any other connection. The caller
    must make sure the window is not running (see
    :mod:`kiosk.ops.single_instance`).
    """
    backup = Path(backup)
    if not backup.is_file():
        raise BadBackupFile("bad_backup", f"no such backup file: {backup}")
    _check_sqlite_file(backup)
    safety: Path | None = None
    if paths.store.is_file():
        safety = backup_now(paths, "pre-restore")
    restore_file(backup, paths.store)
    log.info(
        "store restored from %s (previous store saved as %s)",
        backup.name,
        safety.name if safety else "-",
    )
    return safety if safety is not None else backup


def restore_file(backup: Path, store: Path) -> None:
    """Copy ``backup`` over the database at ``store`` with the backup API (no checks).

    Used by :func:`restore` and by the upgrade's rollback, which restores
    the copy it made itself a moment earlier.
    """
    store.parent.mkdir(parents=True, exist_ok=True)
    try:
        source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(str(store), timeout=10)
            try:
                source.backup(target)
                target.commit()
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise BackupError(
            "restore_failed", f"cannot restore {backup.name} into {store}: {exc}"
        ) from exc
