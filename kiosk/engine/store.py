"""The kiosk's durable store: one SQLite file under SQLAlchemy 2.0, schema by Alembic.

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
* **The verdict's hot reads skip the ORM.** Revocation, roster and "used
  before?" lookups run on one dedicated DBAPI connection (autocommit, so each
  SELECT sees the newest commit) with primary-key lookups: a few microseconds
  even with 1,000,000 revocations. The trusted keyring is cached and reloaded
  only when ``PRAGMA data_version`` says another connection committed.
* **The chain.** Each record holds the hash of the previous one and the
  device's Ed25519 signature over its canonical bytes (:mod:`sync.records`),
  so the server can prove no row was altered, inserted or deleted. Voids are
  new signed rows (kind ``void``), never updates; the only columns ever updated
  are the sync bookkeeping (``synced_at``, ``server_status``, ``server_detail``),
  which are not part of the signed record.
* **Migrations in code.** :func:`migrate` builds the Alembic Config from this
  package's folder (no ``alembic.ini``), so it works from a checkout, a wheel
  or a PyInstaller bundle (which must ship ``kiosk/engine/migrations/**.py``
  as data). When the schema is already at head, Alembic is not even imported,
  which keeps ``cinepass-kiosk verify`` fast.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
import uuid as uuid_mod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kiosk.errors import EnvironmentFailure, UsageError
from sync.records import GENESIS_HASH, Record
from sync.voucher.keys import PrivateKey, PublicKey, kid_for

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
HEAD_REVISION = "0002"
BUSY_TIMEOUT_MS = 5000

RevocationAction = Literal["freeze", "unfreeze", "redeemed", "unredeemed"]
SERVER_STATUSES = ("valid", "duplicate", "void", "rejected")  # rejected: bad voucher signature


class StoreError(EnvironmentFailure):
    """The store file cannot be opened, read or written (exit 3)."""


class CommitFailed(StoreError):
    """A write transaction failed and was rolled back completely (disk full, read-only...)."""


@dataclass(frozen=True)
class RevocationEntry:
    """One entry of the server's revocation feed.

    ``freeze`` blocks the voucher (``reason``: lost, stolen, fraud, replaced,
    frozen...), ``unfreeze`` lifts that, ``redeemed`` says it was used at
    another counter (``cinema``/``device``/``staff`` at ``at_ms``), and
    ``unredeemed`` withdraws that (the use was voided at its counter, so the
    voucher is usable again).
    """

    cti: bytes
    action: RevocationAction
    reason: str
    at_ms: int
    cinema: str = ""
    device: str = ""
    staff: str = ""


@dataclass(frozen=True)
class RosterEntry:
    """An issued voucher (for typed short codes); ``removed`` drops it."""

    cti: bytes
    token: str
    removed: bool = False


@dataclass(frozen=True)
class TrustedKey:
    """A trusted issuer public key (raw 32 bytes) and the issuer it belongs to."""

    raw: bytes
    issuer: str
    source: str = "server"

    @property
    def kid(self) -> bytes:
        return kid_for(self.raw)


@dataclass(frozen=True)
class Revocation:
    """A frozen voucher as the verifier sees it."""

    reason: str
    at_ms: int
    cinema: str = ""
    device: str = ""
    staff: str = ""


@dataclass(frozen=True)
class Use:
    """One earlier redemption of a voucher, here or (``remote``) elsewhere."""

    at_ms: int
    cinema: str
    device: str
    staff: str
    remote: bool
    record_uuid: str = ""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _set_pragmas(dbapi_conn: sqlite3.Connection, busy_ms: int = BUSY_TIMEOUT_MS) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _make_engine(path: Path, busy_ms: int = BUSY_TIMEOUT_MS) -> Engine:
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
        _set_pragmas(dbapi_conn, busy_ms)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so check-then-insert cannot race
        # with another process; plain reads use a deferred BEGIN.
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _current_revision(path: Path) -> str | None:
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


# Public names for the ops tools (upgrade, self-test) that inspect or migrate a store.
current_revision = _current_revision
make_engine = _make_engine


def _record_from_row(row: Any) -> Record:
    return Record(
        uuid=row.uuid,
        device=row.device,
        seq=row.seq,
        kind=row.kind,
        voucher=bytes(row.voucher),
        token=row.token,
        cinema=row.cinema,
        format=row.format,
        staff=row.staff,
        at=row.at,
        voids=row.voids,
        prev=bytes(row.prev),
        v=row.v,
    )


class Writer:
    """The open write transaction handed out by :meth:`Store.transaction`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def append_record(
        self,
        *,
        key: PrivateKey,
        kind: str,
        voucher: bytes,
        token: str,
        cinema: str,
        fmt: str,
        staff: str,
        at_ms: int,
        device: str,
        voids: str = "",
    ) -> Record:
        """Add the next record of the chain, hashed and signed (committed with the txn).

        Plain SQL through the connection: on the hot path the Core statement
        machinery cost more than the insert itself.
        """
        head = self.conn.exec_driver_sql(
            "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1"
        ).first()
        seq, prev = (1, GENESIS_HASH) if head is None else (head[0] + 1, bytes(head[1]))
        rec = Record(
            uuid=str(uuid_mod.uuid4()),
            device=device,
            seq=seq,
            kind=kind,
            voucher=voucher,
            token=token,
            cinema=cinema,
            format=fmt,
            staff=staff,
            at=at_ms,
            voids=voids,
            prev=prev,
        )
        canonical = rec.canonical_bytes()
        self.conn.exec_driver_sql(
            "INSERT INTO records (seq, uuid, device, kind, voucher, token, cinema, format, staff,"
            " at, voids, prev, v, hash, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rec.seq,
                rec.uuid,
                rec.device,
                rec.kind,
                rec.voucher,
                rec.token,
                rec.cinema,
                rec.format,
                rec.staff,
                rec.at,
                rec.voids,
                rec.prev,
                rec.v,
                hashlib.sha256(canonical).digest(),
                key.sign(canonical),
            ),
        )
        return rec

    def log_attempt(
        self,
        *,
        at_ms: int,
        reason: str,
        short_code: str | None,
        fmt: str,
        staff: str,
        source: str,
        record_uuid: str | None = None,
    ) -> None:
        """Log one scan attempt (never the token: only the short code, if known)."""
        self.conn.exec_driver_sql(
            "INSERT INTO attempts (at, reason, short_code, format, staff, source, record_uuid)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (at_ms, reason, short_code, fmt, staff, source, record_uuid),
        )

    def set_meta(self, key: str, value: str) -> None:
        _upsert_meta(self.conn, key, value)


def _upsert_meta(conn: Connection, key: str, value: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


class Store:
    """The kiosk's SQLite store; safe to share between the UI and sync threads."""

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
        _set_pragmas(self._reader, busy_timeout_ms)
        # the verdict's lookups: keep a 1M-id revocation list in memory (~40 MB of
        # pages) instead of paying a read syscall per B-tree page on a cold cache
        self._reader.execute("PRAGMA cache_size=-65536")
        self._reader.execute("PRAGMA mmap_size=268435456")
        self._keyring: dict[bytes, PublicKey] | None = None
        self._data_version = -1
        self._keyring_checked = 0.0

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Store:
        """Open (creating if needed) the store at ``path`` and migrate it to head.

        ``busy_timeout_ms`` is how long a write waits for another process's
        write lock before giving up (then a redemption answers ``not_recorded``).
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = None
            if _current_revision(path) != HEAD_REVISION:
                engine = _make_engine(path, busy_timeout_ms)
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
                    self._engine = _make_engine(self.path, self.busy_timeout_ms)
        return self._engine

    def close(self) -> None:
        with self._rlock:
            self._reader.close()
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Writer]:
        """One ``BEGIN IMMEDIATE`` transaction; commits (fsync'd) on normal exit.

        Raises :class:`CommitFailed` when the database refuses (after a
        complete rollback), so the caller can answer ``not_recorded``.
        """
        from sqlalchemy.exc import SQLAlchemyError

        with self._wlock:
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(immediate=True)
                    with conn.begin():
                        yield Writer(conn)
            except SQLAlchemyError as exc:
                raise CommitFailed(
                    "store_failed",
                    f"cannot write the kiosk store: {exc.__class__.__name__}: "
                    f"{getattr(exc, 'orig', exc)}",
                ) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.transaction() as w:
            yield w.conn

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._rlock:
            return self._reader.execute(sql, params).fetchall()

    # -- sync interface: records -------------------------------------------

    def pending_records(self, limit: int) -> list[tuple[Record, bytes]]:
        """Records not yet accepted by the server, oldest first, with their signatures."""
        import sqlalchemy as sa

        from kiosk.engine.schema import records

        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(records)
                .where(records.c.synced_at.is_(None))
                .order_by(records.c.seq)
                .limit(limit)
            ).all()
        return [(_record_from_row(r), bytes(r.sig)) for r in rows]

    def mark_synced(self, results: Mapping[str, tuple[str, dict[str, Any] | None]]) -> None:
        """Store the server's answer per record uuid; a duplicate also logs a conflict."""
        import sqlalchemy as sa

        from kiosk.engine.schema import conflicts_t

        for uuid, (status, _detail) in results.items():
            if status not in SERVER_STATUSES:
                raise UsageError("bad_status", f"unknown server status {status!r} for {uuid}")
        if not results:
            return  # (an executemany over no rows is an error in sqlite3)
        now = _now_ms()
        with self._write() as conn:
            # one executemany: a batch of 1,000 acknowledgements in one statement,
            # not 1,000 compiled UPDATEs (that was ~0.4 ms per record)
            conn.exec_driver_sql(
                "UPDATE records SET synced_at = ?, server_status = ?, server_detail = ? "
                "WHERE uuid = ?",
                [
                    (now, status, None if detail is None else json.dumps(detail), uuid)
                    for uuid, (status, detail) in results.items()
                ],
            )
            for uuid, (status, detail) in results.items():
                if status == "duplicate":
                    d = detail or {}
                    conn.execute(
                        sa.insert(conflicts_t)
                        .prefix_with("OR REPLACE")
                        .values(
                            record_uuid=uuid,
                            first_record_uuid=str(d.get("first_uuid", "")),
                            cinema=str(d.get("cinema", "")),
                            device=str(d.get("device", "")),
                            staff=str(d.get("staff", "")),
                            at=int(d.get("at", 0) or 0),
                            received_at=now,
                        )
                    )

    def all_records(self) -> list[tuple[Record, bytes, bytes]]:
        """Every record with (hash, signature), by sequence: for audits and tests."""
        import sqlalchemy as sa

        from kiosk.engine.schema import records

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(records).order_by(records.c.seq)).all()
        return [(_record_from_row(r), bytes(r.hash), bytes(r.sig)) for r in rows]

    def verify_chain(self, device_key: PublicKey) -> list[str]:
        """Problems in the chain (empty = intact): seq gaps, broken links, bad hashes/signatures."""
        problems: list[str] = []
        prev = GENESIS_HASH
        for i, (rec, h, sig) in enumerate(self.all_records(), start=1):
            if rec.seq != i:
                problems.append(f"seq {rec.seq}: expected {i}")
            if rec.prev != prev:
                problems.append(f"seq {rec.seq}: prev does not match")
            if rec.hash() != h:
                problems.append(f"seq {rec.seq}: hash does not match")
            if not rec.verify(device_key, sig):
                problems.append(f"seq {rec.seq}: bad device signature")
            prev = h
        return problems

    def record(self, uuid: str) -> Record | None:
        import sqlalchemy as sa

        from kiosk.engine.schema import records

        with self.engine.connect() as conn:
            row = conn.execute(sa.select(records).where(records.c.uuid == uuid)).first()
        return None if row is None else _record_from_row(row)

    def last_redemption(self) -> Record | None:
        """The newest ``redeem`` record (voided or not: "undo" twice must not reach further back)."""
        rows = self._read(
            "SELECT uuid FROM records WHERE kind = 'redeem' ORDER BY seq DESC LIMIT 1"
        )
        return self.record(rows[0][0]) if rows else None

    def is_voided(self, uuid: str) -> bool:
        return bool(self._read("SELECT 1 FROM records WHERE kind = 'void' AND voids = ?", (uuid,)))

    # -- sync interface: feeds ---------------------------------------------

    def apply_revocations(self, entries: Sequence[RevocationEntry], cursor: str) -> None:
        """Apply a delta of the revocation feed and move its cursor, in one transaction."""
        with self._write() as conn:
            self._apply_revocations(conn, entries)
            _set_cursor(conn, "revocations", cursor)

    #: rows per transaction while a snapshot is staged: small enough that a
    #: redemption waiting for the write lock waits a fraction of a second at most
    SNAPSHOT_CHUNK = 20_000

    def replace_revocations(self, entries: Sequence[RevocationEntry], cursor: str) -> None:
        """Replace the whole revocation list with a snapshot, without stalling redemptions.

        A 1,000,000-id snapshot takes seconds to insert; done in one transaction
        it would hold the write lock (and every ``redeem``) that long. So it is
        staged in ``*_stage`` copies of the tables in short transactions while
        the verifier keeps reading the old list, then swapped in by renaming
        (a schema change of milliseconds) together with the cursor. A crash
        while staging leaves the old list and cursor in place; the next
        snapshot starts the staging over. ``unfreeze`` entries mean nothing in
        a snapshot (absent = not frozen) and are ignored.
        """
        freeze, _unfreeze, used, _unused = self._split_revocations(entries)
        freeze.sort(key=lambda f: f[0])  # key order: sequential B-tree inserts
        used.sort(key=lambda u: (u[0], u[1], u[2]))
        self._staged_replace(
            {
                "revocations": (
                    "INSERT OR REPLACE INTO revocations_stage(cti, reason, at, cinema, device,"
                    " staff) VALUES (?, ?, ?, ?, ?, ?)",
                    freeze,
                ),
                "remote_redemptions": (
                    "INSERT OR IGNORE INTO remote_redemptions_stage(cti, at, device, cinema,"
                    " staff) VALUES (?, ?, ?, ?, ?)",
                    used,
                ),
            },
            "revocations",
            cursor,
        )

    def _staged_replace(
        self,
        tables: Mapping[str, tuple[str, Sequence[tuple[Any, ...]]]],
        feed: str,
        cursor: str,
    ) -> None:
        """Fill ``<table>_stage`` copies in short transactions, then swap them in with the cursor."""
        with self._write() as conn:
            for t in tables:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}_stage")
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}_old")
                ddl = conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (t,)
                ).scalar()
                stage_ddl, n = re.subn(
                    rf'^CREATE TABLE\s+"?{t}"?', f"CREATE TABLE {t}_stage", str(ddl), count=1
                )
                if n != 1:
                    raise StoreError("store_failed", f"unexpected schema of table {t}")
                conn.exec_driver_sql(stage_ddl)
        for sql, rows in tables.values():
            for i in range(0, len(rows), self.SNAPSHOT_CHUNK):
                with self._write() as conn:
                    conn.exec_driver_sql("PRAGMA cache_size=-65536")
                    conn.exec_driver_sql(sql, list(rows[i : i + self.SNAPSHOT_CHUNK]))
        with self._write() as conn:  # the swap
            for t in tables:
                conn.exec_driver_sql(f"ALTER TABLE {t} RENAME TO {t}_old")
                conn.exec_driver_sql(f"ALTER TABLE {t}_stage RENAME TO {t}")
            _set_cursor(conn, feed, cursor)
        with self._write() as conn:  # freeing the old pages is not on anyone's path
            for t in tables:
                conn.exec_driver_sql(f"DROP TABLE {t}_old")

    @staticmethod
    def _split_revocations(
        entries: Sequence[RevocationEntry],
    ) -> tuple[
        list[tuple[bytes, str, int, str, str, str]],
        list[tuple[bytes]],
        list[tuple[bytes, int, str, str, str]],
        list[tuple[bytes]],
    ]:
        """Validate a feed and split it into freeze, unfreeze, redeemed and unredeemed rows.

        Within one batch the last freeze/unfreeze of an id wins; an
        ``unredeemed`` cancels the ``redeemed`` entries of that id before it.
        """
        freeze: list[tuple[bytes, str, int, str, str, str]] = []
        unfreeze: list[tuple[bytes]] = []
        used: list[tuple[int, tuple[bytes, int, str, str, str]]] = []
        last: dict[bytes, str] = {}
        cleared: dict[bytes, int] = {}  # id -> position of its last "unredeemed"
        for i, e in enumerate(entries):
            if len(e.cti) != 10:
                raise UsageError("bad_entry", f"revocation entry has a {len(e.cti)}-byte id")
            if e.action == "freeze":
                freeze.append((e.cti, e.reason, e.at_ms, e.cinema, e.device, e.staff))
                last[e.cti] = "freeze"
            elif e.action == "unfreeze":
                unfreeze.append((e.cti,))
                last[e.cti] = "unfreeze"
            elif e.action == "redeemed":
                used.append((i, (e.cti, e.at_ms, e.device, e.cinema, e.staff)))
            elif e.action == "unredeemed":
                cleared[e.cti] = i
            else:
                raise UsageError("bad_entry", f"unknown revocation action {e.action!r}")
        if unfreeze:  # only then can a later entry override an earlier one
            freeze = [f for f in freeze if last[f[0]] == "freeze"]
            unfreeze = [u for u in unfreeze if last[u[0]] == "unfreeze"]
        kept = [u for i, u in used if i > cleared.get(u[0], -1)]
        return freeze, unfreeze, kept, [(c,) for c in cleared]

    @classmethod
    def _apply_revocations(cls, conn: Connection, entries: Sequence[RevocationEntry]) -> None:
        freeze, unfreeze, used, unused = cls._split_revocations(entries)
        if unfreeze:
            conn.exec_driver_sql("DELETE FROM revocations WHERE cti = ?", unfreeze)
        if unused:
            conn.exec_driver_sql("DELETE FROM remote_redemptions WHERE cti = ?", unused)
        if freeze:
            if len(freeze) > 1000:
                freeze.sort(key=lambda f: f[0])
                conn.exec_driver_sql("PRAGMA cache_size=-65536")
            conn.exec_driver_sql(
                "INSERT OR REPLACE INTO revocations(cti, reason, at, cinema, device, staff) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                freeze,
            )
        if used:
            conn.exec_driver_sql(
                "INSERT OR IGNORE INTO remote_redemptions(cti, at, device, cinema, staff) "
                "VALUES (?, ?, ?, ?, ?)",
                used,
            )

    def apply_roster(self, entries: Sequence[RosterEntry], cursor: str) -> None:
        """Apply a delta of issued vouchers (for typed short codes) and move the cursor."""
        with self._write() as conn:
            self._apply_roster(conn, entries)
            _set_cursor(conn, "roster", cursor)

    def replace_roster(self, entries: Sequence[RosterEntry], cursor: str) -> None:
        """Replace the roster with a snapshot (staged like revocation snapshots)."""
        for e in entries:
            if len(e.cti) != 10:
                raise UsageError("bad_entry", f"roster entry has a {len(e.cti)}-byte id")
        rows = sorted(((e.cti, e.token) for e in entries if not e.removed), key=lambda r: r[0])
        self._staged_replace(
            {"roster": ("INSERT OR REPLACE INTO roster_stage(cti, token) VALUES (?, ?)", rows)},
            "roster",
            cursor,
        )

    @staticmethod
    def _apply_roster(conn: Connection, entries: Sequence[RosterEntry]) -> None:
        for e in entries:
            if len(e.cti) != 10:
                raise UsageError("bad_entry", f"roster entry has a {len(e.cti)}-byte id")
        gone = [(e.cti,) for e in entries if e.removed]
        add = [(e.cti, e.token) for e in entries if not e.removed]
        if gone:
            conn.exec_driver_sql("DELETE FROM roster WHERE cti = ?", gone)
        if add:
            conn.exec_driver_sql("INSERT OR REPLACE INTO roster(cti, token) VALUES (?, ?)", add)

    # -- trusted keys ------------------------------------------------------

    def set_trusted_keys(self, keys: Sequence[TrustedKey]) -> None:
        """Replace the whole trusted set (the server's list, after rotation)."""
        for k in keys:
            PublicKey.from_raw(k.raw)  # refuse garbage before touching anything
        with self._write() as conn:
            conn.exec_driver_sql("DELETE FROM trusted_keys")
            for k in keys:
                self._insert_key(conn, k)
        self._keyring = None

    def add_trusted_key(self, key: TrustedKey) -> None:
        PublicKey.from_raw(key.raw)
        with self._write() as conn:
            self._insert_key(conn, key)
        self._keyring = None

    @staticmethod
    def _insert_key(conn: Connection, k: TrustedKey) -> None:
        conn.exec_driver_sql(
            "INSERT OR REPLACE INTO trusted_keys(kid, raw, issuer, source) VALUES (?, ?, ?, ?)",
            (k.kid, k.raw, k.issuer, k.source),
        )

    def trusted_keys(self) -> list[TrustedKey]:
        rows = self._read("SELECT raw, issuer, source FROM trusted_keys ORDER BY issuer, kid")
        return [TrustedKey(raw=bytes(r[0]), issuer=r[1], source=r[2]) for r in rows]

    #: how often (s) the keyring cache asks whether another process changed the keys;
    #: changes made through this Store object drop the cache at once.
    KEYRING_RECHECK_S = 1.0

    def keyring(self) -> dict[bytes, PublicKey]:
        """kid -> key, cached; reloaded when another connection has committed since."""
        ring = self._keyring
        now = time.monotonic()
        if ring is not None and now - self._keyring_checked < self.KEYRING_RECHECK_S:
            return ring
        version = self._read("PRAGMA data_version")[0][0]
        if ring is None or version != self._data_version:
            ring = {k.kid: PublicKey.from_raw(k.raw) for k in self.trusted_keys()}
            self._keyring = ring
            self._data_version = version
        self._keyring_checked = now
        return ring

    # -- cursors and meta --------------------------------------------------

    def get_cursor(self, feed: str) -> str | None:
        rows = self._read("SELECT cursor FROM cursors WHERE feed = ?", (feed,))
        return str(rows[0][0]) if rows else None

    def set_cursor(self, feed: str, value: str) -> None:
        with self._write() as conn:
            _set_cursor(conn, feed, value)

    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            _upsert_meta(conn, key, value)

    # -- the verifier's lookups (hot path) -----------------------------------

    def revocation(self, cti: bytes) -> Revocation | None:
        rows = self._read(
            "SELECT reason, at, cinema, device, staff FROM revocations WHERE cti = ?", (cti,)
        )
        if not rows:
            return None
        r = rows[0]
        return Revocation(reason=r[0], at_ms=r[1], cinema=r[2], device=r[3], staff=r[4])

    def uses(self, cti: bytes, *, own_device: str) -> list[Use]:
        """Earlier redemptions: local non-voided ones, then those reported elsewhere.

        Feed entries from this very device are skipped: our own records are
        authoritative and would otherwise be counted twice once synced.
        """
        rows = self._read(  # one round trip: this runs for every scan
            "SELECT 0, seq, at, cinema, device, staff, uuid FROM records r "
            "WHERE voucher = ?1 AND kind = 'redeem' AND NOT EXISTS "
            "(SELECT 1 FROM records v WHERE v.kind = 'void' AND v.voids = r.uuid) "
            "UNION ALL SELECT 1, at, at, cinema, device, staff, '' FROM remote_redemptions "
            "WHERE cti = ?1 AND device != ?2 ORDER BY 1, 2",
            (cti, own_device),
        )
        return [Use(r[2], r[3], r[4], r[5], remote=bool(r[0]), record_uuid=r[6]) for r in rows]

    def scan_facts(self, cti: bytes, *, own_device: str) -> tuple[Revocation | None, list[Use]]:
        """:meth:`revocation` and :meth:`uses` in one round trip (the verdict's hot path)."""
        rows = self._read(
            "SELECT 0, 0, at, cinema, device, staff, reason FROM revocations WHERE cti = ?1 "
            "UNION ALL SELECT 1, seq, at, cinema, device, staff, uuid FROM records r "
            "WHERE voucher = ?1 AND kind = 'redeem' AND NOT EXISTS "
            "(SELECT 1 FROM records v WHERE v.kind = 'void' AND v.voids = r.uuid) "
            "UNION ALL SELECT 2, at, at, cinema, device, staff, '' FROM remote_redemptions "
            "WHERE cti = ?1 AND device != ?2 ORDER BY 1, 2",
            (cti, own_device),
        )
        rev: Revocation | None = None
        uses: list[Use] = []
        for r in rows:
            if r[0] == 0:
                rev = Revocation(reason=r[6], at_ms=r[2], cinema=r[3], device=r[4], staff=r[5])
            else:
                uses.append(Use(r[2], r[3], r[4], r[5], remote=r[0] == 2, record_uuid=r[6]))
        return rev, uses

    def roster_token(self, cti: bytes) -> str | None:
        rows = self._read("SELECT token FROM roster WHERE cti = ?", (cti,))
        return str(rows[0][0]) if rows else None

    # -- reporting -----------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Sizes of everything the status screen shows."""
        q = {
            "pending": "SELECT count(*) FROM records WHERE synced_at IS NULL",
            "synced": "SELECT count(*) FROM records WHERE synced_at IS NOT NULL",
            "conflicts": "SELECT count(*) FROM conflicts",
            "revocations": "SELECT count(*) FROM revocations",
            "roster": "SELECT count(*) FROM roster",
            "trusted_keys": "SELECT count(*) FROM trusted_keys",
            "records": "SELECT count(*) FROM records",
            "attempts": "SELECT count(*) FROM attempts",
        }
        return {name: int(self._read(sql)[0][0]) for name, sql in q.items()}

    def conflicts(self) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT c.record_uuid, c.first_record_uuid, c.cinema, c.device, c.staff, c.at, "
            "c.received_at, r.voucher, r.at, r.staff FROM conflicts c "
            "LEFT JOIN records r ON r.uuid = c.record_uuid ORDER BY c.id"
        )
        from sync.voucher.shortcode import encode_short_code

        return [
            {
                "record_uuid": r[0],
                "first_record_uuid": r[1],
                "other": {"cinema": r[2], "device": r[3], "staff": r[4], "at": r[5]},
                "received_at": r[6],
                "voucher": None if r[7] is None else encode_short_code(bytes(r[7])),
                "local": {"at": r[8], "staff": r[9]},
            }
            for r in rows
        ]

    def records_between(self, start_ms: int, end_ms: int) -> list[Any]:
        """(kind, uuid, voids, format, staff, at, synced_at) of records in [start, end)."""
        return self._read(
            "SELECT kind, uuid, voids, format, staff, at, synced_at FROM records "
            "WHERE at >= ? AND at < ? ORDER BY seq",
            (start_ms, end_ms),
        )

    def attempts_between(self, start_ms: int, end_ms: int) -> list[Any]:
        """(reason, short_code, format, staff, source, at) of attempts in [start, end)."""
        return self._read(
            "SELECT reason, short_code, format, staff, source, at FROM attempts "
            "WHERE at >= ? AND at < ? ORDER BY id",
            (start_ms, end_ms),
        )

    def newest_time_ms(self) -> int:
        """The newest time this store has seen (records and the persisted clock mark)."""
        mark = self.get_meta("newest_seen_ms")
        rows = self._read("SELECT max(at) FROM records")
        return max(int(mark) if mark else 0, int(rows[0][0] or 0))


def _set_cursor(conn: Connection, feed: str, value: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO cursors(feed, cursor) VALUES (?, ?) "
        "ON CONFLICT(feed) DO UPDATE SET cursor = excluded.cursor",
        (feed, value),
    )
