"""Engines, sessions and migrations for the central database.

One ``make_engine`` so every process (server, admin CLI, tests, bench) talks
to the database the same way. SQLite gets WAL, ``synchronous=FULL`` and
``BEGIN IMMEDIATE`` on every transaction: a deferred SQLite transaction that
reads and then writes fails with SQLITE_BUSY (no waiting) when another writer
got in between, and every server write path reads first. PostgreSQL needs
nothing special: write paths serialize on the feed head row (see models).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, TypeVarTuple

import platformdirs
from sqlalchemy import Engine, Row, Select, create_engine, event, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from .models import Base, FeedHead

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATE_LOCK = threading.Lock()
_CHUNK = 500  # values per IN (...): well under every database's bound-parameter limit


def default_db_url() -> str:
    """A SQLite file in the user data folder of "cinepass-server"."""
    folder = Path(platformdirs.user_data_dir("cinepass-server", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'cinepass.sqlite3'}"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite files get WAL and immediate transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(engine: Engine | sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: commit on success, roll back on any error."""
    maker = engine if isinstance(engine, sessionmaker) else make_sessionmaker(engine)
    session = maker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(url_or_engine: str | Engine) -> Engine:
    """Bring the database to the newest schema (``alembic upgrade head``), in code.

    Safe to run on every start and from several processes: Alembic's version
    table makes a finished upgrade a no-op. Returns the engine used.
    """
    from alembic import command

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    with _MIGRATE_LOCK:  # Alembic's context is module-global: one migration per process at a time
        command.upgrade(_alembic_config(engine), "head")
    try:
        with session_scope(engine) as s:
            if s.get(FeedHead, 1) is None:
                s.add(FeedHead(id=1, seq=0))
    except IntegrityError:
        pass  # another process starting at the same moment seeded it first
    return engine


def schema_matches(engine: Engine) -> bool:
    """True if every model table exists (used by tests and ``devices``)."""
    names = set(inspect(engine).get_table_names())
    return set(Base.metadata.tables) <= names


Ts = TypeVarTuple("Ts")


def rows_in(
    session: Session,
    query: Select[*Ts],
    column: InstrumentedAttribute[Any],
    values: Collection[Any],
) -> Iterator[Row[*Ts]]:
    """The rows of ``query`` whose ``column`` is one of ``values``, asked in chunks.

    A batch of 1,000 records can name 1,000 uuids or vouchers; one ``IN``
    list that long would hit SQLite's parameter limit on older builds and
    makes PostgreSQL plan badly, so every "which of these exist" question of
    ingest goes through here.
    """
    wanted = list(values)
    for i in range(0, len(wanted), _CHUNK):
        yield from session.execute(query.where(column.in_(wanted[i : i + _CHUNK])))
