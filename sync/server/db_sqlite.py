"""SQLite's side of :func:`sync.server.db.make_engine`: WAL, immediate transactions, writer turns.

Every transaction is ``BEGIN IMMEDIATE`` (see :mod:`sync.server.db`), so a
SQLite database has one transaction at a time. Left to SQLite, the threads of
one server process that wait for it poll: the busy handler sleeps 1, 2, 5,
10, 15, 20, 25, 25, 25, 50, 50, 100 ms between tries, so under load a request
waits tens of milliseconds for a lock that was free after one (bench/online.py
measured p50 33 ms at 90 requests/s with 1 ms of work each). Here the
threads of a process take turns on a Python lock first: the next one starts
the moment the last one commits, and SQLite's own waiting is left for other
processes (the admin CLI beside the server).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

WAIT_S = 30.0  # as long as SQLite's busy_timeout below
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def raw(conn: Any) -> Any:
    """The sqlite3 connection itself: SQLAlchemy hands the dialect its pool's proxy of it."""
    return getattr(conn, "dbapi_connection", conn)


class WriterTurns:
    """Whose turn it is to hold the database's one transaction, among this process's threads.

    One per database file (every engine of the process on that file shares
    it); a connection takes the turn before ``BEGIN IMMEDIATE`` and gives it
    back after its commit or rollback, or when the pool takes it back.
    """

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._holders: set[int] = set()

    def take(self, conn: Any) -> None:
        dbapi_conn = raw(conn)
        if id(dbapi_conn) in self._holders:
            return
        if not self._lock.acquire(timeout=WAIT_S):
            raise sqlite3.OperationalError(
                f"database is locked (no turn for this process's writer in {WAIT_S:.0f} s)"
            )
        self._holders.add(id(dbapi_conn))

    def give(self, conn: Any) -> None:
        dbapi_conn = raw(conn)
        if id(dbapi_conn) in self._holders:
            self._holders.discard(id(dbapi_conn))
            self._lock.release()


def turns_for(path: Path | None) -> WriterTurns:
    """The turns of one database file (an in-memory database: its engine's own)."""
    if path is None:
        return WriterTurns(threading.Lock())
    key = str(path.resolve())
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    return WriterTurns(lock)


def configure(engine: Engine, path: Path | None) -> None:
    """WAL, full sync, foreign keys, a 30 s busy timeout, and turns before ``BEGIN IMMEDIATE``."""
    turns = turns_for(path)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(WAIT_S * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        dbapi_conn = conn.connection.dbapi_connection
        turns.take(dbapi_conn)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turns.give(dbapi_conn)
            raise

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, _record: Any) -> None:
        turns.give(dbapi_conn)  # a connection back in the pool holds no transaction

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_conn: Any, _record: Any, _exc: Any) -> None:
        turns.give(dbapi_conn)

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_conn: Any) -> None:
        try:
            commit(dbapi_conn)
        finally:
            turns.give(dbapi_conn)

    def do_rollback(dbapi_conn: Any) -> None:
        try:
            rollback(dbapi_conn)
        finally:
            turns.give(dbapi_conn)

    # the dialect is this engine's own instance: its commit and rollback end the turn
    setattr(dialect, "do_commit", do_commit)  # noqa: B010
    setattr(dialect, "do_rollback", do_rollback)  # noqa: B010
