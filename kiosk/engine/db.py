"""The kiosk store's database layer: one SQLite file, its engine, migrations and commits.

Why it is built this way:

* **Nothing accepted is ever lost.** WAL mode with ``synchronous=FULL`` makes
  every commit reach the disk (fsync of the WAL) before ``commit()`` returns,
  and the service only says ``accepted`` after that. A commit that fails (disk
  full, read-only, locked) rolls back completely: SQLite transactions are
  atomic, so nothing half-written remains.
* **One writer at a time, across threads and processes.** Writes run in
  ``BEGIN IMMEDIATE`` transactions under a process-wide lock, so the check
  "has this voucher been used?" and the insert of the redemption happen with
  no other writer in between (the GUI thread, the sync thread and a CLI in
  another process all go through here). ``busy_timeout`` makes a second
  process wait instead of failing at once.
* **Hot reads skip the ORM.** Lookups run on one dedicated DBAPI connection
  (autocommit, so each SELECT sees the newest commit): a few microseconds
  even with 1,000,000 revocations.
* **Migrations in code.** :func:`migrate` builds the Alembic Config from this
  package's folder (no ``alembic.ini``), so it works from a checkout, a wheel
  or a PyInstaller bundle (which must ship ``kiosk/engine/migrations/**.py``
  as data). When the schema is already at head, Alembic is not even imported,
  which keeps ``cinepass-kiosk verify`` fast.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kiosk.errors import EnvironmentFailure

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
HEAD_REVISION = "0005_revocation_pages"
BUSY_TIMEOUT_MS = 5000

D = TypeVar("D", bound="Database")


class StoreError(EnvironmentFailure):
    """The store file cannot be opened, read or written (exit 3)."""


class CommitFailed(StoreError):
    """A write transaction failed and was rolled back completely (disk full, read-only...)."""


def now_ms() -> int:
    """UTC milliseconds (the bookkeeping stamps; verdicts use the injectable Clock)."""
    return time.time_ns() // 1_000_000


def int_or_none(value: str | None) -> int | None:
    """A meta value read as an integer: None when absent or not a number.

    Meta values are text written by several parts (sync, clock guard); a
    garbled one must read as "unknown", never raise on a status screen.
    """
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def set_pragmas(dbapi_conn: sqlite3.Connection, busy_ms: int = BUSY_TIMEOUT_MS) -> None:
    """WAL + synchronous=FULL + busy timeout: the durability promise, on every connection."""
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def make_engine(path: Path, busy_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """A SQLAlchemy engine on ``path`` with the store's pragmas and explicit BEGINs."""
    import sqlalchemy as sa
    from sqlalchemy import event

    engine = sa.create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
        pool_size=4,
        max_overflow=4,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        set_pragmas(dbapi_conn, busy_ms)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so check-then-insert cannot race
        # with another process; plain reads use a deferred BEGIN.
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def current_revision(path: Path) -> str | None:
    """The schema revision without importing Alembic (None = empty or no file)."""
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` with Alembic's API (no alembic.ini)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def upsert_meta(conn: Connection, key: str, value: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def upsert_cursor(conn: Connection, feed: str, value: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO cursors(feed, cursor) VALUES (?, ?) "
        "ON CONFLICT(feed) DO UPDATE SET cursor = excluded.cursor",
        (feed, value),
    )


class Database:
    """The open store file: a lazy SQLAlchemy engine for writes, one sqlite3 reader.

    Safe to share between the UI and sync threads. The feed, chain and lookup
    parts of the store build on this (see :class:`kiosk.engine.store.Store`).
    """

    def __init__(
        self, path: Path, engine: Engine | None = None, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._engine = engine
        self._wlock = threading.RLock()
        self._rlock = threading.Lock()
        self._reader = sqlite3.connect(
            str(path), check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        set_pragmas(self._reader, busy_timeout_ms)
        # the verdict's lookups: keep a 1M-id revocation list in memory (~40 MB of
        # pages) instead of paying a read syscall per B-tree page on a cold cache
        self._reader.execute("PRAGMA cache_size=-65536")
        self._reader.execute("PRAGMA mmap_size=268435456")

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def open(cls: type[D], path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> D:
        """Open (creating if needed) the store at ``path`` and migrate it to head.

        ``busy_timeout_ms`` is how long a write waits for another process's
        write lock before giving up (then a redemption answers ``not_recorded``).
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = None
            if current_revision(path) != HEAD_REVISION:
                engine = make_engine(path, busy_timeout_ms)
                migrate(engine)
            return cls(path, engine, busy_timeout_ms=busy_timeout_ms)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy/Alembic/sqlite3/OS errors alike
            raise StoreError("store_failed", f"cannot open the kiosk store {path}: {exc}") from exc

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use (reads need only sqlite3)."""
        if self._engine is None:
            with self._wlock:
                if self._engine is None:
                    self._engine = make_engine(self.path, self.busy_timeout_ms)
        return self._engine

    def close(self) -> None:
        with self._rlock:
            self._reader.close()
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self: D) -> D:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions and reads --------------------------------------------

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; commits (fsync'd) on normal exit.

        ``durable=False`` commits without waiting for the disk (WAL with
        ``synchronous=NORMAL``): still atomic and in order, so after a power
        cut the file holds every transaction up to some point and none half,
        but the last few may be gone. Only for work that a later durable
        commit seals, such as the pages of a snapshot being staged (their
        token rides in the same transaction, so a lost page is asked for
        again): the swap's durable commit fsyncs the WAL, every staged page
        with it. The connection is back to ``FULL`` before it returns to the
        pool.

        Raises :class:`CommitFailed` when the database refuses (after a
        complete rollback), so the caller can answer ``not_recorded``.
        """
        from sqlalchemy.exc import SQLAlchemyError

        with self._wlock:
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(immediate=True)
                    raw: Any = conn.connection.driver_connection
                    if not durable:  # a safety level cannot change inside a transaction
                        raw.execute("PRAGMA synchronous=NORMAL")
                    try:
                        with conn.begin():
                            yield conn
                    finally:
                        if not durable:
                            raw.execute("PRAGMA synchronous=FULL")
            except SQLAlchemyError as exc:
                raise CommitFailed(
                    "store_failed",
                    f"cannot write the kiosk store: {exc.__class__.__name__}: "
                    f"{getattr(exc, 'orig', exc)}",
                ) from exc

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of one SELECT on the reader connection (sees the newest commit)."""
        with self._rlock:
            return self._reader.execute(sql, params).fetchall()

    _read = read  # the name the UI tests use

    # -- cursors and meta --------------------------------------------------

    def get_cursor(self, feed: str) -> str | None:
        rows = self.read("SELECT cursor FROM cursors WHERE feed = ?", (feed,))
        return str(rows[0][0]) if rows else None

    def set_cursor(self, feed: str, value: str) -> None:
        with self.write() as conn:
            upsert_cursor(conn, feed, value)

    def get_meta(self, key: str) -> str | None:
        rows = self.read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def meta_int(self, key: str) -> int | None:
        """A meta value as an integer (None when absent or garbled): see :func:`int_or_none`."""
        return int_or_none(self.get_meta(key))

    def set_meta(self, key: str, value: str) -> None:
        self.set_metas({key: value})

    def set_metas(self, values: Mapping[str, str]) -> None:
        """Several meta values in one commit (one fsync, all or none)."""
        if not values:
            return
        with self.write() as conn:
            for key, value in values.items():
                upsert_meta(conn, key, value)
