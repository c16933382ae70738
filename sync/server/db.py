"""Engines, sessions and migrations for the central database.

One ``make_engine`` so every process (server, admin CLI, tests, bench) talks
to the database the same way. SQLite gets WAL, ``synchronous=FULL`` and
``BEGIN IMMEDIATE`` on every transaction: a deferred SQLite transaction that
reads and then writes fails with SQLITE_BUSY (no waiting) when another writer
got in between, and every server write path reads first. The threads of one
process take turns for it without polling (:mod:`sync.server.db_sqlite`). PostgreSQL needs
nothing special: write paths serialize on the feed head row (see models).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, TypeVarTuple

import platformdirs
from sqlalchemy import (
    URL,
    Engine,
    Row,
    Select,
    create_engine,
    event,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from sync.errors import EXIT_USAGE, CinePassError

from . import db_sqlite
from .models import Base, FeedHead

log = logging.getLogger("cinepass.server.db")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATE_LOCK = threading.Lock()
IN_CHUNK = 500  # values per IN (...): well under every database's bound-parameter limit
#: PostgreSQL connections one process opens at most (SQLAlchemy's defaults, made explicit:
#: the server admits fewer requests at once than this, see sync.server.app.Admission);
#: with --workers N that is N x 15 of PostgreSQL's max_connections (100 by default)
POOL_SIZE, POOL_OVERFLOW = 5, 10


def default_db_url() -> str:
    """A SQLite file in the user data folder of "cinepass-server"."""
    folder = Path(platformdirs.user_data_dir("cinepass-server", appauthor=False))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'cinepass.sqlite3'}"


#: What ``--db`` accepts, named in every refusal of another URL.
SUPPORTED_URLS = (
    "SQLite (sqlite:///PATH/cinepass.sqlite3) or PostgreSQL (postgresql+psycopg://USER@HOST/DB)"
)
#: Tables every CinePass database has (with Alembic's version table).
CINEPASS_TABLES = frozenset({"alembic_version", "issuer", "cinema", "voucher", "feed_head"})


class DatabaseUrlError(CinePassError):
    """``--db`` is no URL, names a database CinePass does not speak, or no CinePass database.

    Exit 2 (bad input: the user typed it), one line, Chinese first: both
    ``cinepass-admin`` and ``cinepass-server`` raise it from here.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message, exit_code=EXIT_USAGE)


def check_db_url(url: str) -> URL:
    """The parsed URL if CinePass can use it; else one line naming the supported URLs.

    Checked before any connection, so ``mysql://x`` or a typo like
    ``sqllite://`` never reaches a driver import (a traceback) or the plugin
    loader ("Can't load plugin").
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            "bad_db_url",
            f"--db 不是数据库地址 / --db {url!r} is not a database URL: use {SUPPORTED_URLS}",
        ) from None
    backend = parsed.get_backend_name()
    supported = backend in ("sqlite", "postgresql")
    if supported:
        try:
            parsed.get_dialect().import_dbapi()
        except ImportError:
            supported = False  # e.g. postgresql:// means psycopg2, which is not installed
    if not supported:
        raise DatabaseUrlError(
            "unsupported_db",
            f"不支持的数据库地址 / unsupported database URL {url!r}: CinePass supports "
            f"{SUPPORTED_URLS}",
        )
    return parsed


def no_database(where: str) -> DatabaseUrlError:
    return DatabaseUrlError(
        "no_database",
        f"此处没有 CinePass 数据库 / there is no CinePass database at {where}: check --db "
        "(only `cinepass-admin init` creates one)",
    )


def open_existing(url: str) -> Engine:
    """Migrate and return an engine for a database that is already a CinePass one.

    Never creates anything: a missing SQLite file (a typo in ``--db``), a file
    that is not SQLite, or a database without CinePass's tables is refused with
    :func:`no_database`. An unreachable server stays a database error for the
    caller (an environment failure, not bad input).
    """
    parsed = check_db_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:") or not Path(path).is_file():
            raise no_database(path or url)
        try:
            tables = sqlite_tables(Path(path))
        except sqlite3.OperationalError:  # e.g. a WAL file that a read-only reader cannot map
            tables = set(inspect(make_engine(url)).get_table_names())
        if tables is None or not CINEPASS_TABLES <= tables:
            raise no_database(path)
        return migrate(url)
    engine = make_engine(url)
    if not CINEPASS_TABLES <= set(inspect(engine).get_table_names()):
        engine.dispose()
        raise no_database(parsed.render_as_string(hide_password=True))
    return migrate(engine)


def sqlite_tables(path: Path) -> set[str] | None:
    """The table names of a SQLite file, read-only (None: not a SQLite database).

    Read-only on purpose: the engine's connect hook switches a file to WAL,
    which would change a file that turns out not to be ours. Raises
    ``sqlite3.OperationalError`` when the file could not be read at all.
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise  # could not read it; the caller looks the ordinary way
        return None  # "file is not a database"
    finally:
        conn.close()
    return {str(r[0]) for r in rows}


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (never loosen an existing one).

    The central database holds every voucher's full QR text, a bearer
    credential: SQLite would create it with the umask (often 0644). Its
    ``-wal`` and ``-shm`` files copy the main file's mode.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def world_readable(url: str) -> list[Path]:
    """The files of a SQLite database that others than its owner's group can read."""
    path = sqlite_path(url)
    if path is None:
        return []
    found = []
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if p.stat().st_mode & 0o004:
                found.append(p)
        except FileNotFoundError:
            continue
    return found


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite files get WAL and immediate transactions (and mode 0600)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None and path.parent.is_dir():
            create_private(path)
        engine = create_engine(url, connect_args={"timeout": db_sqlite.WAIT_S}, **kwargs)
        db_sqlite.configure(engine, path)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    return create_engine(url, **kwargs)


def warm_pool(engine: Engine) -> None:
    """Open a PostgreSQL pool's connections, each having read every table once, before serving.

    A new PostgreSQL connection is a new backend process whose catalog caches
    are empty: its first statement on each table reads the catalog first. Left
    to the first requests, a server that starts under load (a restart at a busy
    hour) opened its connections and filled their caches while requests
    queued: bench/online.py saw p95 of 38 to 226 ms in the first 10 s on 4
    processes, 11 to 18 ms after. A database that is down does not stop the
    start: ``/api/v1/ready`` says so, and the pool opens connections later.
    """
    if engine.dialect.name != "postgresql":
        return
    opened: list[Any] = []
    try:
        for _ in range(engine.pool.size()):  # type: ignore[attr-defined]
            conn = engine.connect()
            opened.append(conn)
            for table in Base.metadata.sorted_tables:
                conn.execute(select(literal(1)).select_from(table).limit(0))
            conn.rollback()
    except SQLAlchemyError as exc:
        log.warning("database not reachable at start: %s", exc.__class__.__name__)
    finally:
        for conn in opened:
            conn.close()


_MEMO = "cinepass.tx_memo"


def tx_memo(session: Session, kind: str) -> dict[Any, Any]:
    """What this transaction read already, of one ``kind`` (e.g. a cinema's business day).

    A request that read a row in one statement may leave what it learned here,
    so a later step of the same transaction does not ask again (an online
    confirm reads the cinema and the voucher with the voucher's state, then
    the running counts would read them once more). It lives until the
    transaction ends or the session flushes ORM changes (which may be the very
    rows remembered); outside a transaction it remembers nothing.
    """
    tx = session.get_transaction()
    if tx is None:
        return {}
    held: tuple[object, dict[str, dict[Any, Any]]] | None = session.info.get(_MEMO)
    if held is None or held[0] is not tx:
        held = (tx, {})
        session.info[_MEMO] = held
    return held[1].setdefault(kind, {})


@event.listens_for(Session, "after_flush")
def _forget(session: Session, _flush_context: Any) -> None:
    session.info.pop(_MEMO, None)


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


def alembic_config(engine: Engine) -> Any:
    """Alembic's configuration for ``engine`` (no alembic.ini): tests upgrade step by step."""
    cfg = _script_config()
    cfg.attributes["engine"] = engine
    return cfg


def _script_config() -> Any:
    from alembic.config import Config  # imported when needed: the admin CLI starts faster

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(url_or_engine: str | Engine) -> Engine:
    """Bring the database to the newest schema (``alembic upgrade head``), in code.

    Safe to run on every start and from several processes: Alembic's version
    table makes a finished upgrade a no-op. Returns the engine used.
    """
    from alembic import command

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    with _MIGRATE_LOCK:  # Alembic's context is module-global: one migration per process at a time
        command.upgrade(alembic_config(engine), "head")
    try:
        with session_scope(engine) as s:
            if s.get(FeedHead, 1) is None:
                s.add(FeedHead(id=1, seq=0))
    except IntegrityError:
        pass  # another process starting at the same moment seeded it first
    return engine


@functools.cache
def head_revision() -> str:
    """The newest Alembic revision of this code (what ``/api/v1/ready`` expects)."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(_script_config()).get_current_head())


def current_revision(session: Session) -> str | None:
    """The database's Alembic revision (None: never migrated)."""
    try:
        value = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except ProgrammingError:  # PostgreSQL: no such table
        return None
    except OperationalError as exc:
        if "no such table" in str(exc):  # SQLite says it this way
            return None
        raise
    return None if value is None else str(value)


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
    for i in range(0, len(wanted), IN_CHUNK):
        yield from session.execute(query.where(column.in_(wanted[i : i + IN_CHUNK])))
