"""The server's feeds applied to the store: revocations, roster, trusted keys.

A delta moves its cursor in the same transaction as its rows, so a crash
leaves both old or both new. A snapshot (the first pull, or enrolment) may be
a 1,000,000-id list: it is staged in ``*_stage`` copies of the tables in short
transactions and swapped in by renaming, so redemptions never wait behind it
(:meth:`FeedStore.replace_feed` is the one snapshot-apply of a whole list).

A paged snapshot (docs/feeds.md) is staged a page at a time:
:meth:`FeedStore.begin_snapshot`, then :meth:`FeedStore.stage_snapshot` per
page, which stores the next page's token in the same transaction as the
page's rows (cursor ``<feed>_snapshot``), then :meth:`FeedStore.finish_snapshot`
(the swap). A cut connection leaves the staged pages and the token: the next
sync asks for the page after it (:meth:`FeedStore.snapshot_token`). A large
packed page is staged as one row of ``revocation_pages`` rather than as rows
(:mod:`kiosk.engine.revpages`); the swap takes the pages, the removals since
the last snapshot and a new generation of the list along with the rows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from kiosk.engine.db import Database, StoreError, upsert_cursor
from kiosk.engine.facts import FeedEntries, RevocationEntry, RosterEntry, TrustedKey
from kiosk.engine.revpages import GEN_KEY, INSERT_PAGE, PageIndex, live_ids
from kiosk.errors import UsageError
from sync.voucher.keys import PublicKey

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Feed = Literal["revocation", "roster"]
#: the cursor name (``cursors.feed``) of each feed
CURSOR_OF: dict[Feed, str] = {"revocation": "revocations", "roster": "roster"}
#: the tables a snapshot of each feed replaces (the pages and the removals with the rows:
#: kiosk.engine.revpages)
TABLES_OF: dict[Feed, tuple[str, ...]] = {
    "revocation": ("revocations", "remote_redemptions", "revocation_pages", "revocation_removed"),
    "roster": ("roster",),
}
INSERT_STAGE = {
    "revocations": "INSERT OR REPLACE INTO revocations_stage(cti, reason, at, cinema, device,"
    " staff) VALUES (?, ?, ?, ?, ?, ?)",
    "remote_redemptions": "INSERT OR IGNORE INTO remote_redemptions_stage(cti, at, device,"
    " cinema, staff) VALUES (?, ?, ?, ?, ?)",
    "roster": "INSERT OR REPLACE INTO roster_stage(cti, token) VALUES (?, ?)",
    "revocation_pages": INSERT_PAGE,
}
#: a page of freezes naming no cinema, device or staff comes as (cti, reason, at) rows
#: (kiosk.snapshots.freeze_rows); the other columns take their default ""
INSERT_STAGE_SHORT = {
    "revocations": "INSERT OR REPLACE INTO revocations_stage(cti, reason, at) VALUES (?, ?, ?)"
}


def progress_name(feed: Feed) -> str:
    """The ``cursors`` row holding a paged snapshot's next page token."""
    return f"{CURSOR_OF[feed]}_snapshot"


FreezeRow = tuple[bytes, str, int, str, str, str]
UsedRow = tuple[bytes, int, str, str, str]


def split_revocations(
    entries: Sequence[RevocationEntry],
) -> tuple[list[FreezeRow], list[tuple[bytes]], list[UsedRow], list[tuple[bytes]]]:
    """Validate a feed and split it into freeze, unfreeze, redeemed and unredeemed rows.

    Within one batch the last freeze/unfreeze of an id wins; an
    ``unredeemed`` cancels the ``redeemed`` entries of that id before it.
    """
    freeze: list[FreezeRow] = []
    unfreeze: list[tuple[bytes]] = []
    used: list[tuple[int, UsedRow]] = []
    last: dict[bytes, str] = {}
    cleared: dict[bytes, int] = {}  # id -> position of its last "unredeemed"
    for i, e in enumerate(entries):
        if len(e.cti) != 10:
            raise UsageError("bad_entry", f"revocation entry has a {len(e.cti)}-byte id")
        if e.action in ("freeze", "held"):  # a hold is a freeze with reason "held" until at_ms
            reason = "held" if e.action == "held" else e.reason
            freeze.append((e.cti, reason, e.at_ms, e.cinema, e.device, e.staff))
            last[e.cti] = "freeze"
        elif e.action in ("unfreeze", "released"):
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


def _check_roster(entries: Sequence[RosterEntry]) -> None:
    for e in entries:
        if len(e.cti) != 10:
            raise UsageError("bad_entry", f"roster entry has a {len(e.cti)}-byte id")


def _apply_revocations(conn: Connection, entries: Sequence[RevocationEntry]) -> None:
    freeze, unfreeze, used, unused = split_revocations(entries)
    # a removal also hides the id's entry in the snapshot's pages (kiosk.engine.revpages);
    # a later freeze or redemption is a row again, and rows win over the removal
    remove = "INSERT OR IGNORE INTO revocation_removed(cti, kind) VALUES (?, ?)"
    if unfreeze:
        conn.exec_driver_sql("DELETE FROM revocations WHERE cti = ?", unfreeze)
        conn.exec_driver_sql(remove, [(c, "f") for (c,) in unfreeze])
    if unused:
        conn.exec_driver_sql("DELETE FROM remote_redemptions WHERE cti = ?", unused)
        conn.exec_driver_sql(remove, [(c, "r") for (c,) in unused])
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


def _apply_roster(conn: Connection, entries: Sequence[RosterEntry]) -> None:
    _check_roster(entries)
    gone = [(e.cti,) for e in entries if e.removed]
    add = [(e.cti, e.token) for e in entries if not e.removed]
    if gone:
        conn.exec_driver_sql("DELETE FROM roster WHERE cti = ?", gone)
    if add:
        conn.exec_driver_sql("INSERT OR REPLACE INTO roster(cti, token) VALUES (?, ?)", add)


def _insert_key(conn: Connection, k: TrustedKey) -> None:
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO trusted_keys(kid, raw, issuer, source) VALUES (?, ?, ?, ?)",
        (k.kid, k.raw, k.issuer, k.source),
    )


class FeedStore(Database):
    """The feed part of the store (see the module docstring)."""

    #: rows per transaction while a snapshot is staged: small enough that a
    #: redemption waiting for the write lock waits a fraction of a second at most
    SNAPSHOT_CHUNK = 20_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keyring: dict[bytes, PublicKey] | None = None
        self._data_version = -1
        self._keyring_checked = 0.0
        self.pages = PageIndex()  # the live list's pages in memory (store.py's lookups)

    # -- deltas --------------------------------------------------------------

    def apply_revocations(self, entries: Sequence[RevocationEntry], cursor: str) -> None:
        """Apply a delta of the revocation feed and move its cursor, in one transaction."""
        with self.write() as conn:
            _apply_revocations(conn, entries)
            upsert_cursor(conn, CURSOR_OF["revocation"], cursor)

    def apply_roster(self, entries: Sequence[RosterEntry], cursor: str) -> None:
        """Apply a delta of issued vouchers (for typed short codes) and move the cursor."""
        with self.write() as conn:
            _apply_roster(conn, entries)
            upsert_cursor(conn, CURSOR_OF["roster"], cursor)

    # -- either feed by name -----------------------------------------------

    def apply_feed(self, feed: Feed, entries: FeedEntries, cursor: str) -> None:
        """A delta of ``feed`` with its cursor, in one transaction."""
        if feed == "revocation":
            self.apply_revocations(cast(Sequence[RevocationEntry], entries), cursor)
        else:
            self.apply_roster(cast(Sequence[RosterEntry], entries), cursor)

    def replace_feed(self, feed: Feed, entries: FeedEntries, cursor: str) -> None:
        """THE snapshot-apply: enrolment and a first (or reset) sync both come here."""
        if feed == "revocation":
            self.replace_revocations(cast(Sequence[RevocationEntry], entries), cursor)
        else:
            self.replace_roster(cast(Sequence[RosterEntry], entries), cursor)

    # -- snapshots -----------------------------------------------------------

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
        freeze, _unfreeze, used, _unused = split_revocations(entries)
        freeze.sort(key=lambda f: f[0])  # key order: sequential B-tree inserts
        used.sort(key=lambda u: (u[0], u[1], u[2]))
        self.begin_snapshot("revocation")
        for i in range(0, max(len(freeze), len(used)), self.SNAPSHOT_CHUNK):
            chunk = slice(i, i + self.SNAPSHOT_CHUNK)
            self.stage_snapshot("revocation", {"revocations": freeze[chunk]}, "")
            self.stage_snapshot("revocation", {"remote_redemptions": used[chunk]}, "")
        self.finish_snapshot("revocation", cursor)

    def replace_roster(self, entries: Sequence[RosterEntry], cursor: str) -> None:
        """Replace the roster with a snapshot (staged like revocation snapshots)."""
        _check_roster(entries)
        rows = sorted(((e.cti, e.token) for e in entries if not e.removed), key=lambda r: r[0])
        self.begin_snapshot("roster")
        for i in range(0, len(rows), self.SNAPSHOT_CHUNK):
            self.stage_snapshot("roster", {"roster": rows[i : i + self.SNAPSHOT_CHUNK]}, "")
        self.finish_snapshot("roster", cursor)

    # -- snapshots, a page at a time ------------------------------------------

    def begin_snapshot(self, feed: Feed) -> None:
        """Empty ``<table>_stage`` copies of the feed's tables, and a token of "" (started)."""
        with self.write() as conn:
            for t in TABLES_OF[feed]:
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
            upsert_cursor(conn, progress_name(feed), "")

    def snapshot_token(self, feed: Feed) -> str | None:
        """The token of the next page of a snapshot being staged ("" for its first
        page), or None when none is (or its stage tables are gone)."""
        token = self.get_cursor(progress_name(feed))
        if token is None:
            return None
        have = {
            r[0]
            for r in self.read("SELECT name FROM sqlite_master WHERE type = 'table'")
            if str(r[0]).endswith("_stage")
        }
        return token if all(f"{t}_stage" in have for t in TABLES_OF[feed]) else None

    def stage_snapshot(
        self, feed: Feed, rows: Mapping[str, Sequence[tuple[Any, ...]]], token: str
    ) -> None:
        """Add rows (table -> row tuples) to the stage and note the next page's token,
        in one short transaction: a redemption waits a fraction of a second at most.

        Not fsync'd (``write(durable=False)``): a staged page is a copy of the
        server's, so a power cut may lose the last few pages with their token
        (never one without the other) and the next sync asks for them again;
        only the swap must reach the disk, and its commit takes every staged
        page with it. Fifty fsyncs fewer for a million entries.
        """
        with self.write(durable=False) as conn:  # sealed by the swap's durable commit
            conn.exec_driver_sql("PRAGMA cache_size=-65536")
            for table, values in rows.items():
                if table not in TABLES_OF[feed]:
                    raise StoreError("store_failed", f"{table} is not a table of the {feed} feed")
                if values:
                    short = len(values[0]) == 3 and table in INSERT_STAGE_SHORT
                    sql = INSERT_STAGE_SHORT[table] if short else INSERT_STAGE[table]
                    conn.exec_driver_sql(sql, list(values))
            upsert_cursor(conn, progress_name(feed), token)

    def page_tails(self) -> dict[str, tuple[int, bytes]]:
        """kind -> (run, last id) of the last staged page row of each kind: where
        the next page must go on (:func:`kiosk.snapshots.place_runs`)."""
        rows = self.read(
            "SELECT kind, run, last FROM revocation_pages_stage p WHERE id = "
            "(SELECT max(id) FROM revocation_pages_stage q WHERE q.kind = p.kind)"
        )
        return {str(k): (int(run), bytes(last)) for k, run, last in rows}

    def revocation_ids(self) -> set[bytes]:
        """Every revoked id of the live list (rows and pages): for tests and tools."""
        return self._live_ids("f")

    def remote_redemption_ids(self) -> set[bytes]:
        """Every id the live list says was redeemed elsewhere (rows and pages)."""
        return self._live_ids("r")

    def _live_ids(self, kind: str) -> set[bytes]:
        with self._rlock:  # one read transaction: rows, removals and pages agree
            self._reader.execute("BEGIN")
            try:
                return live_ids(lambda sql, p: self._reader.execute(sql, p).fetchall(), kind)
            finally:
                self._reader.execute("COMMIT")

    def finish_snapshot(self, feed: Feed, cursor: str) -> None:
        """Swap the staged tables in with the feed's cursor (milliseconds), then free the old."""
        tables = TABLES_OF[feed]
        with self.write() as conn:  # the swap
            for t in tables:
                conn.exec_driver_sql(f"ALTER TABLE {t} RENAME TO {t}_old")
                conn.exec_driver_sql(f"ALTER TABLE {t}_stage RENAME TO {t}")
            upsert_cursor(conn, CURSOR_OF[feed], cursor)
            conn.exec_driver_sql("DELETE FROM cursors WHERE feed = ?", (progress_name(feed),))
            if feed == "revocation":  # every reader's pages in memory are now stale
                conn.exec_driver_sql(
                    "INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT(key)"
                    " DO UPDATE SET value = CAST(value AS INTEGER) + 1",
                    (GEN_KEY,),
                )
        with self.write() as conn:  # freeing the old pages is not on anyone's path
            for t in tables:
                conn.exec_driver_sql(f"DROP TABLE {t}_old")

    # -- trusted keys ------------------------------------------------------

    def set_trusted_keys(self, keys: Sequence[TrustedKey]) -> None:
        """Replace the whole trusted set (the server's list, after rotation)."""
        for k in keys:
            PublicKey.from_raw(k.raw)  # refuse garbage before touching anything
        with self.write() as conn:
            conn.exec_driver_sql("DELETE FROM trusted_keys")
            for k in keys:
                _insert_key(conn, k)
        self._keyring = None

    def add_trusted_key(self, key: TrustedKey) -> None:
        PublicKey.from_raw(key.raw)
        with self.write() as conn:
            _insert_key(conn, key)
        self._keyring = None

    def trusted_keys(self) -> list[TrustedKey]:
        rows = self.read("SELECT raw, issuer, source FROM trusted_keys ORDER BY issuer, kid")
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
        version = self.read("PRAGMA data_version")[0][0]
        if ring is None or version != self._data_version:
            ring = {k.kid: PublicKey.from_raw(k.raw) for k in self.trusted_keys()}
            self._keyring = ring
            self._data_version = version
        self._keyring_checked = now
        return ring
