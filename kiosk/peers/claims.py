"""The claim rule: which of two counters claiming one voucher at once may accept it.

Claims live in their own small SQLite file next to the store
(``peer-claims.sqlite3``, :class:`ClaimBook`), so every process of a counter
(the window, ``serve``, a CLI ``redeem``) sees the same ones, and a witness's
answer never waits behind the store's durable commits (claims live seconds:
that file is not fsync'd). Each step is one ``BEGIN IMMEDIATE`` transaction
of the book. The order of two claims is ``(t, device)``: the claimer's clock
time in ms, then the device id; the smaller one is older. Documented in
docs/lan-peers.md:

* The claimer writes its claim (``open``) unless it holds a grant for another
  counter or another process of this counter holds one; it asks every peer;
  then, inside the record's transaction, it turns its claim ``won`` (unless a
  peer's older claim marked it ``lost`` meanwhile), commits the record and
  removes the claim.
* A witness (a peer asked) answers ``claimed`` when its own claim is ``won``
  or open and older, ``used`` when its store knows a use (read *after* its
  claims, so a claim that was removed has left its record behind);
  otherwise it *grants* the claim (a row ``own = 0``: its own later claims
  of that voucher lose at once) and marks a younger open claim of its own
  ``lost``. It speaks only for itself: a claim it granted a third counter is
  that counter's to answer for, so two claimers settle it between
  themselves, by the order alone, whoever else they ask.

Rows live :data:`CLAIM_TTL_MS`: a claim whose counter died stops blocking after that.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLAIM_TTL_MS = 5_000
BOOK_NAME = "peer-claims.sqlite3"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS claims (cti BLOB NOT NULL, device TEXT NOT NULL, "
    "nonce TEXT NOT NULL, t INTEGER NOT NULL, own INTEGER NOT NULL, state TEXT NOT NULL, "
    "created INTEGER NOT NULL, PRIMARY KEY (cti, device, nonce))",
    # what mDNS discovery (kiosk.peers.discovery) found: hints of where a listed counter is
    "CREATE TABLE IF NOT EXISTS found (name TEXT NOT NULL, device TEXT NOT NULL, "
    "address TEXT NOT NULL, seen INTEGER NOT NULL, PRIMARY KEY (name, address))",
)

#: (device, at, staff) of the uses of a voucher this counter knows, by cti
UsesOf = Callable[[bytes], list[tuple[str, int, str]]]


@dataclass(frozen=True)
class Claim:
    cti: bytes
    device: str
    nonce: str
    t: int

    def older_than(self, other_t: int, other_device: str) -> bool:
        return (self.t, self.device) < (other_t, other_device)


@dataclass(frozen=True)
class Blocker:
    """Why a claim cannot win: a use or another counter's claim (who, when)."""

    kind: str  # "used" | "claimed"
    device: str
    at: int
    staff: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"answer": self.kind, "device": self.device, "at": self.at, "staff": self.staff}


class ClaimBook:
    """The claims file of one counter (shared by its processes; not durable by design).

    It also holds what the running counter's mDNS discovery found (table
    ``found``: service name, device, address), so a CLI ``redeem`` on the same
    home asks those peers too without browsing itself, which would cost it
    seconds before its verdict.
    """

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / BOOK_NAME
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(self.path), timeout=2.0, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=OFF")  # claims live seconds; a crash ends them
        for ddl in _SCHEMA:
            self._conn.execute(ddl)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def txn(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (commits on normal exit, else rolls back)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def remember(self, name: str, device: str, addresses: Sequence[str], now: int) -> None:
        """Discovery heard ``name`` (a listed ``device``) at ``addresses``: replaces what it said."""
        with self.txn() as conn:
            conn.execute("DELETE FROM found WHERE name = ?", (name,))
            conn.executemany(
                "INSERT INTO found (name, device, address, seen) VALUES (?, ?, ?, ?)",
                [(name, device, a, now) for a in addresses],
            )

    def forget(self, name: str | None = None) -> None:
        """An advertisement went away (or, with no name, discovery stopped: all of them)."""
        with self.txn() as conn:
            if name is None:
                conn.execute("DELETE FROM found")
            else:
                conn.execute("DELETE FROM found WHERE name = ?", (name,))

    def found(self) -> list[tuple[str, str]]:
        """(device, address) of every advertisement discovery kept, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT device, address FROM found ORDER BY seen, name")
            return [(str(d), str(a)) for d, a in rows.fetchall()]


def _live(conn: sqlite3.Connection, cti: bytes, now: int) -> list[Any]:
    conn.execute("DELETE FROM claims WHERE created < ?", (now - CLAIM_TTL_MS,))
    return conn.execute(
        "SELECT device, nonce, t, own, state FROM claims WHERE cti = ? ORDER BY t, device", (cti,)
    ).fetchall()


def begin(book: ClaimBook, c: Claim, now: int) -> Blocker | None:
    """The claimer's first step: a grant or claim already here blocks; else write ours (open)."""
    with book.txn() as conn:
        for device, _nonce, t, own, state in _live(conn, c.cti, now):
            if own == 0 and device != c.device:
                return Blocker("claimed", device, int(t))
            if own == 1 and state in ("open", "won"):
                return Blocker("claimed", device, int(t))  # another process of this counter
        conn.execute(
            "INSERT INTO claims (cti, device, nonce, t, own, state, created) "
            "VALUES (?, ?, ?, ?, 1, 'open', ?)",
            (c.cti, c.device, c.nonce, c.t, now),
        )
    return None


def witness(
    book: ClaimBook, c: Claim, me: str, uses_of: UsesOf, admissions: int, now: int
) -> Blocker | None:
    """A peer's claim ``c`` reached us: the reason it cannot win, or None (granted)."""
    with book.txn() as conn:
        younger: list[str] = []
        for device, nonce, t, own, state in _live(conn, c.cti, now):
            if device == c.device or own == 0:
                continue  # its own earlier round, or a third counter's (it answers for itself)
            if state == "won" or (state == "open" and not c.older_than(int(t), device)):
                return Blocker("claimed", device, int(t))
            if state == "open":
                younger.append(nonce)
        uses = [u for u in uses_of(c.cti) if u[0] != c.device]  # after the claims: see above
        if len(uses) >= max(1, admissions):
            device, at, staff = uses[-1]
            return Blocker("used", device, at, staff)
        for nonce in younger:
            conn.execute(
                "UPDATE claims SET state = 'lost' WHERE cti = ? AND nonce = ? AND own = 1",
                (c.cti, nonce),
            )
        conn.execute(
            "INSERT OR REPLACE INTO claims (cti, device, nonce, t, own, state, created) "
            "VALUES (?, ?, ?, ?, 0, 'granted', ?)",
            (c.cti, c.device, c.nonce, c.t, now),
        )
    return None


def decide(book: ClaimBook, c: Claim, now: int) -> Blocker | None:
    """Inside the record's transaction: ``won`` now, or the older claim that made ours lose."""
    with book.txn() as conn:
        row = conn.execute(
            "SELECT state FROM claims WHERE cti = ? AND nonce = ? AND own = 1", (c.cti, c.nonce)
        ).fetchone()
        if row is not None and row[0] == "lost":
            g = conn.execute(
                "SELECT device, t FROM claims WHERE cti = ? AND own = 0 ORDER BY t, device",
                (c.cti,),
            ).fetchone()
            return Blocker("claimed", str(g[0]) if g else "", int(g[1]) if g else 0)
        conn.execute(
            "INSERT OR REPLACE INTO claims (cti, device, nonce, t, own, state, created) "
            "VALUES (?, ?, ?, ?, 1, 'won', ?)",
            (c.cti, c.device, c.nonce, c.t, now),
        )
    return None


def drop(book: ClaimBook, c: Claim) -> None:
    """Remove our claim: after the record's commit (the record answers now), or a lost round."""
    with book.txn() as conn:
        conn.execute("DELETE FROM claims WHERE cti = ? AND nonce = ? AND own = 1", (c.cti, c.nonce))
