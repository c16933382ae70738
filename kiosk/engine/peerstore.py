"""The store's LAN part (issue 15): the cinema's counters and the uses they told us of.

``peers`` mirrors the server's ``peers`` feed: the only devices whose LAN
messages are trusted. ``peer_uses`` holds the other counters' use notices
(:class:`PeerUse`: a record's facts and its origin's signature over them,
never the QR text), which the verifier counts like the server's
"redeemed elsewhere" entries, so a partition that heals, or a revocation
snapshot swapped in, loses none of them. The claim rounds themselves are in
:mod:`kiosk.peers.claims` (a file of their own: they live seconds).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from kiosk.engine.db import Database, now_ms


@dataclass(frozen=True)
class PeerEntry:
    """One counter of this cinema as the server lists it (``sync.protocol.PeerOut``)."""

    device: str
    name: str
    public_key: bytes
    address: str = ""
    status: str = "active"


@dataclass(frozen=True)
class PeerUse:
    """One redemption (or void) at another counter, as that counter signed it for its peers.

    The fields of its :class:`sync.records.Record` minus the token (the QR
    text never travels on the LAN) and ``prev``; ``sig`` is the origin
    device's Ed25519 signature over :meth:`canonical` (docs/lan-peers.md).
    """

    uuid: str
    device: str
    seq: int
    kind: str
    voucher: bytes
    cinema: str
    staff: str
    at: int
    voids: str
    sig: bytes = b""

    def fields_json(self) -> dict[str, object]:
        d: dict[str, object] = asdict(self)
        d.pop("sig")
        d["voucher"] = self.voucher.hex()
        return d

    def canonical(self) -> bytes:
        """The signed bytes: a fixed tag and the fields as sorted, compact UTF-8 JSON."""
        body = {"type": "cinepass-peer-use/1", **self.fields_json()}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_USE_COLUMNS = "uuid, device, seq, kind, voucher, cinema, staff, at, voids, sig"


class PeerStore(Database):
    """Peers and peer uses (see the module docstring)."""

    def set_peers(self, peers: Sequence[PeerEntry]) -> None:
        """Replace the list with the server's (a counter gone from it is trusted no more)."""
        with self.write() as conn:
            conn.exec_driver_sql("DELETE FROM peers")
            if peers:
                conn.exec_driver_sql(
                    "INSERT INTO peers (device, name, public_key, address, status)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(p.device, p.name, p.public_key, p.address, p.status) for p in peers],
                )

    def peers(self) -> list[PeerEntry]:
        rows = self.read(
            "SELECT device, name, public_key, address, status FROM peers ORDER BY device"
        )
        return [PeerEntry(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows]

    def add_peer_uses(self, uses: Sequence[PeerUse]) -> int:
        """Store verified notices (a known uuid is skipped); returns how many were new."""
        if not uses:
            return 0
        with self.write() as conn:
            before = conn.exec_driver_sql("SELECT count(*) FROM peer_uses").scalar() or 0
            conn.exec_driver_sql(
                f"INSERT OR IGNORE INTO peer_uses ({_USE_COLUMNS}, received_at)"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        u.uuid,
                        u.device,
                        u.seq,
                        u.kind,
                        u.voucher,
                        u.cinema,
                        u.staff,
                        u.at,
                        u.voids,
                        u.sig,
                        now_ms(),
                    )
                    for u in uses
                ],
            )
            after = conn.exec_driver_sql("SELECT count(*) FROM peer_uses").scalar() or 0
        return int(after) - int(before)

    def known_uses(self, cti: bytes, me: str) -> list[tuple[str, int, str]]:
        """(device, at, staff) of the non-voided uses of ``cti`` known here: ours, then peers'.

        What this counter answers a peer's claim with (kiosk.peers.claims.witness).
        """
        own = self.read(
            "SELECT at, staff FROM records r WHERE voucher = ? AND kind = 'redeem' AND NOT EXISTS "
            "(SELECT 1 FROM records v WHERE v.kind = 'void' AND v.voids = r.uuid) ORDER BY seq",
            (cti,),
        )
        peer = self.read(
            "SELECT device, at, staff FROM peer_uses p WHERE voucher = ? AND kind = 'redeem' AND "
            "NOT EXISTS (SELECT 1 FROM peer_uses q WHERE q.kind = 'void' AND q.voids = p.uuid) "
            "ORDER BY at",
            (cti,),
        )
        return [(me, int(a), str(s)) for a, s in own] + [(d, int(a), str(s)) for d, a, s in peer]

    def peer_heads(self) -> dict[str, int]:
        """device -> the highest seq held with none missing below it (where a pull resumes)."""
        heads: dict[str, int] = {}
        for device, seq in self.read("SELECT device, seq FROM peer_uses ORDER BY device, seq"):
            if seq == heads.get(device, 0) + 1:
                heads[device] = int(seq)
        return heads

    def peer_uses_after(self, device: str, seq: int, limit: int) -> list[PeerUse]:
        rows = self.read(
            f"SELECT {_USE_COLUMNS} FROM peer_uses WHERE device = ? AND seq > ?"  # noqa: S608
            " ORDER BY seq LIMIT ?",
            (device, seq, limit),
        )
        return [
            PeerUse(
                r[0], r[1], int(r[2]), r[3], bytes(r[4]), r[5], r[6], int(r[7]), r[8], bytes(r[9])
            )
            for r in rows
        ]


#: meta key: the HOST:PORT this counter's peer service listens on (the health report's ``listen``)
LISTEN_META = "peer_listen"


def reportable_listen(value: str | None) -> str:
    """The listen address for the health report: "" unless it is a valid ``HOST:PORT``.

    A garbled meta value must not make the whole health report (and the sync) fail.
    """
    import re

    from sync.protocol import LISTEN_PATTERN

    text = value or ""
    return text if len(text) <= 260 and re.fullmatch(LISTEN_PATTERN, text) else ""


def peers_from_feed(entries: Sequence[dict[str, object]]) -> list[PeerEntry]:
    """The ``peers`` feed's entries (``sync.protocol.PeerOut``, validated) as store rows."""
    from sync.protocol import PeerOut

    out = []
    for e in entries:
        p = PeerOut.model_validate(e)
        out.append(PeerEntry(p.device, p.name, bytes.fromhex(p.public_key), p.address, p.status))
    return out
