"""The claim rule: which of two counters claiming one voucher at once may accept it.

Claims live in the store's ``claims`` table (every process of a counter sees
them) and every step below is one ``BEGIN IMMEDIATE`` transaction, so a
witness's answer and the claimer's final decision cannot interleave. The
order of two claims is ``(t, device)``: the claimer's clock time in ms, then
the device id; the smaller one is older. Documented in docs/lan-peers.md:

* A witness (a peer asked) answers ``used`` when it knows a use, ``claimed``
  when it holds an older claim of its own, any claim it already granted to a
  third counter, or its own claim that has already won; otherwise it
  *grants* the claim (a row ``own = 0``), and if its own open claim was
  younger it marks that one ``lost``.
* The claimer accepts only if no answer said ``used`` / ``claimed`` and its
  own row is not ``lost``, in the same transaction as the record; a grant it
  holds for another counter (``own = 0``) makes its own new claim lose at once.

Rows live :data:`CLAIM_TTL_MS`: a claim whose counter died stops blocking
after that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

CLAIM_TTL_MS = 5_000


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


def _live(conn: Connection, cti: bytes, now: int) -> list[Any]:
    conn.exec_driver_sql("DELETE FROM claims WHERE created < ?", (now - CLAIM_TTL_MS,))
    return list(
        conn.exec_driver_sql(
            "SELECT device, nonce, t, own, state FROM claims WHERE cti = ? ORDER BY t, device",
            (cti,),
        )
    )


def uses_of(conn: Connection, cti: bytes, me: str) -> list[tuple[str, int, str]]:
    """(device, at, staff) of the non-voided uses this counter knows: its own, then peers'."""
    own = conn.exec_driver_sql(
        "SELECT at, staff FROM records r WHERE voucher = ? AND kind = 'redeem' AND NOT EXISTS "
        "(SELECT 1 FROM records v WHERE v.kind = 'void' AND v.voids = r.uuid) ORDER BY seq",
        (cti,),
    )
    peer = conn.exec_driver_sql(
        "SELECT device, at, staff FROM peer_uses p WHERE voucher = ? AND kind = 'redeem' AND "
        "NOT EXISTS (SELECT 1 FROM peer_uses q WHERE q.kind = 'void' AND q.voids = p.uuid) "
        "ORDER BY at",
        (cti,),
    )
    return [(me, int(a), s) for a, s in own] + [(d, int(a), s) for d, a, s in peer]


def begin(conn: Connection, c: Claim, now: int) -> Blocker | None:
    """The claimer's first step: a grant or claim already here blocks; else write ours (open)."""
    for device, _nonce, t, own, state in _live(conn, c.cti, now):
        if own == 0 and device != c.device:
            return Blocker("claimed", device, int(t))
        if own == 1 and state in ("open", "won"):
            return Blocker("claimed", device, int(t))  # another process of this counter
    conn.exec_driver_sql(
        "INSERT INTO claims (cti, device, nonce, t, own, state, created) "
        "VALUES (?, ?, ?, ?, 1, 'open', ?)",
        (c.cti, c.device, c.nonce, c.t, now),
    )
    return None


def witness(conn: Connection, c: Claim, me: str, admissions: int, now: int) -> Blocker | None:
    """A peer's claim ``c`` reached us: the reason it cannot win, or None (granted)."""
    uses = [u for u in uses_of(conn, c.cti, me) if u[0] != c.device]
    if len(uses) >= max(1, admissions):
        device, at, staff = uses[-1]
        return Blocker("used", device, at, staff)
    younger_own: list[str] = []
    for device, nonce, t, own, state in _live(conn, c.cti, now):
        if device == c.device:
            continue  # its own earlier round
        if own == 0:
            return Blocker("claimed", device, int(t))  # first grant wins here
        if state == "won" or (state == "open" and not c.older_than(int(t), device)):
            return Blocker("claimed", device, int(t))
        if state == "open":
            younger_own.append(nonce)
    for nonce in younger_own:
        conn.exec_driver_sql(
            "UPDATE claims SET state = 'lost' WHERE cti = ? AND nonce = ? AND own = 1",
            (c.cti, nonce),
        )
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO claims (cti, device, nonce, t, own, state, created) "
        "VALUES (?, ?, ?, ?, 0, 'granted', ?)",
        (c.cti, c.device, c.nonce, c.t, now),
    )
    return None


def finish(conn: Connection, c: Claim, won: bool) -> Blocker | None:
    """The claimer's last step, in the record's transaction: lost meanwhile? Then drop ours.

    Returns the blocker when a peer's older claim arrived during the round
    (our row was marked ``lost``); the row is removed either way (a record,
    if one is written in this transaction, answers for the voucher from now on).
    """
    row = conn.exec_driver_sql(
        "SELECT state FROM claims WHERE cti = ? AND nonce = ? AND own = 1", (c.cti, c.nonce)
    ).first()
    blocker = None
    if won and row is not None and row[0] == "lost":
        g = conn.exec_driver_sql(
            "SELECT device, t FROM claims WHERE cti = ? AND own = 0 ORDER BY t, device LIMIT 1",
            (c.cti,),
        ).first()
        blocker = Blocker("claimed", str(g[0]) if g else "", int(g[1]) if g else 0)
    conn.exec_driver_sql("DELETE FROM claims WHERE cti = ? AND nonce = ?", (c.cti, c.nonce))
    return blocker


def drop(conn: Connection, c: Claim) -> None:
    """Remove our claim (a round that ended without reaching the record's transaction)."""
    conn.exec_driver_sql(
        "DELETE FROM claims WHERE cti = ? AND nonce = ? AND own = 1", (c.cti, c.nonce)
    )
