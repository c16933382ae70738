"""The kiosk's durable store: one SQLite file under SQLAlchemy 2.0, schema by Alembic.

:class:`Store` is the façade the service, the sync engine and the tools use;
its parts live along their seams:

* :mod:`kiosk.engine.facts` - the plain data types (feed entries, trusted
  keys, :class:`VoucherFacts`);
* :mod:`kiosk.engine.db` - the engine, migrations, the fsync'd commit
  (WAL + ``synchronous=FULL``: nothing is ``accepted`` before it), meta and
  cursors;
* :mod:`kiosk.engine.feeds` - feed deltas, the staged snapshot swap, keys;
* :mod:`kiosk.engine.revpages` - a revocation snapshot kept a page to a row,
  searched in memory;
* :mod:`kiosk.engine.chain` - the signed record chain and its sync state;
* :mod:`kiosk.engine.refusals` - the refusal log the office reads.

This module adds the verdict's hot lookups and the reporting reads. Those
skip the ORM: primary-key lookups on one dedicated DBAPI connection, a few
microseconds even with 1,000,000 revocations. The names that used to live
here are re-exported so existing imports keep working.
"""

from __future__ import annotations

from typing import Any

from kiosk.engine.chain import ChainStore, Writer, record_from_row
from kiosk.engine.db import (
    BUSY_TIMEOUT_MS,
    HEAD_REVISION,
    MIGRATIONS_DIR,
    CommitFailed,
    StoreError,
    current_revision,
    make_engine,
    migrate,
)
from kiosk.engine.facts import (
    SERVER_STATUSES,
    Revocation,
    RevocationAction,
    RevocationEntry,
    RosterEntry,
    TrustedKey,
    Use,
    VoucherFacts,
)
from kiosk.engine.feeds import FeedStore
from kiosk.engine.peerstore import PeerStore
from kiosk.engine.refusals import RefusalStore
from kiosk.engine.revpages import StalePages

__all__ = [
    "BUSY_TIMEOUT_MS",
    "HEAD_REVISION",
    "MIGRATIONS_DIR",
    "SERVER_STATUSES",
    "CommitFailed",
    "Revocation",
    "RevocationAction",
    "RevocationEntry",
    "RosterEntry",
    "Store",
    "StoreError",
    "TrustedKey",
    "Use",
    "VoucherFacts",
    "Writer",
    "current_revision",
    "make_engine",
    "migrate",
    "record_from_row",
]

# one round trip per scan: the revocation (tag 0), local non-voided uses (1), remote ones (2),
# non-voided uses other counters of this cinema told us over the LAN (3, kiosk.engine.peerstore),
# removals since the snapshot (4: the kind in the last column) and the generation of the
# snapshot's pages (5), both for the pages searched in memory (kiosk.engine.revpages)
_FACTS_SQL = (
    "SELECT 0, 0, at, cinema, device, staff, reason FROM revocations WHERE cti = ?1 "
    "UNION ALL SELECT 1, seq, at, cinema, device, staff, uuid FROM records r "
    "WHERE voucher = ?1 AND kind = 'redeem' AND NOT EXISTS "
    "(SELECT 1 FROM records v WHERE v.kind = 'void' AND v.voids = r.uuid) "
    "UNION ALL SELECT 2, at, at, cinema, device, staff, '' FROM remote_redemptions "
    "WHERE cti = ?1 AND device != ?2 "
    "UNION ALL SELECT 3, at, at, cinema, device, staff, uuid FROM peer_uses p "
    "WHERE voucher = ?1 AND kind = 'redeem' AND device != ?2 AND NOT EXISTS "
    "(SELECT 1 FROM peer_uses q WHERE q.kind = 'void' AND q.voids = p.uuid) "
    "UNION ALL SELECT 4, 0, 0, '', '', '', kind FROM revocation_removed WHERE cti = ?1 "
    "UNION ALL SELECT 5, 0, 0, '', '', '', value FROM meta WHERE key = 'revocation_pages_gen' "
    "ORDER BY 1, 2"
)
_REVOCATION_SQL = (
    "SELECT 0, reason, at, cinema, device, staff FROM revocations WHERE cti = ?1 "
    "UNION ALL SELECT 4, kind, 0, '', '', '' FROM revocation_removed WHERE cti = ?1 AND kind = 'f' "
    "UNION ALL SELECT 5, value, 0, '', '', '' FROM meta WHERE key = 'revocation_pages_gen' "
    "ORDER BY 1"
)
#: a lookup that met a swap of the list starts again, at most this many times
_RETRIES = 3


class Store(ChainStore, FeedStore, RefusalStore, PeerStore):
    """The kiosk's SQLite store; safe to share between the UI and sync threads."""

    # -- the verifier's lookups (hot path) -----------------------------------

    def facts(self, cti: bytes, *, own_device: str) -> VoucherFacts:
        """What the verifier needs about ``cti``, in one round trip (the verdict's hot path).

        Feed entries from this very device are skipped: our own records are
        authoritative and would otherwise be counted twice once synced. A use
        both the server and a peer told us of (same device and time) counts
        once, as the peer's (it names the record). The snapshot's pages are
        searched in memory after the rows (:mod:`kiosk.engine.revpages`).
        """
        for _ in range(_RETRIES):
            rows = self.read(_FACTS_SQL, (cti, own_device))
            try:
                return self._facts(rows, cti, own_device)
            except StalePages:
                continue  # another connection swapped the list between two reads
        raise StoreError("store_failed", "the revocation list kept changing during a lookup")

    def _facts(self, rows: list[Any], cti: bytes, own_device: str) -> VoucherFacts:
        gen = next((str(r[6]) for r in rows if r[0] == 5), "")
        gone = {r[6] for r in rows if r[0] == 4}
        rev: Revocation | None = None
        for r in rows:
            if r[0] == 0:
                rev = Revocation(reason=r[6], at_ms=r[2], cinema=r[3], device=r[4], staff=r[5])
        d = self.pages.directory(self.read, gen)
        if rev is None and "f" not in gone and (hit := self.pages.find(self.read, d, "f", cti)):
            reason, at, cinema, device, staff = self.pages.detail(self.read, d, hit)
            rev = Revocation(reason=reason, at_ms=at, cinema=cinema, device=device, staff=staff)
        if "r" not in gone and (hit := self.pages.find(self.read, d, "r", cti)):
            _, at, cinema, device, staff = self.pages.detail(self.read, d, hit)
            known = {(r[2], r[4]) for r in rows if r[0] == 2}
            if device != own_device and (at, device) not in known:  # as INSERT OR IGNORE did
                rows = sorted([*rows, (2, at, at, cinema, device, staff, "")], key=lambda r: r[:2])
        uses: list[Use] = []
        lan = {(r[4], r[2]) for r in rows if r[0] == 3}
        for r in rows:
            if r[0] in (1, 3) or (r[0] == 2 and (r[4], r[2]) not in lan):
                uses.append(Use(r[2], r[3], r[4], r[5], remote=r[0] >= 2, record_uuid=r[6]))
        return VoucherFacts(revocation=rev, uses=tuple(uses))

    def revocation(self, cti: bytes) -> Revocation | None:
        """The revocation of ``cti``: a row (an event after the snapshot) or its page entry."""
        for _ in range(_RETRIES):
            rows = self.read(_REVOCATION_SQL, (cti,))
            if rows and rows[0][0] == 0:
                r = rows[0]
                return Revocation(reason=r[1], at_ms=r[2], cinema=r[3], device=r[4], staff=r[5])
            if any(r[0] == 4 for r in rows):
                return None
            try:
                gen = next((str(r[1]) for r in rows if r[0] == 5), "")
                d = self.pages.directory(self.read, gen)
                hit = self.pages.find(self.read, d, "f", cti)
                if hit is None:
                    return None
                reason, at, cinema, device, staff = self.pages.detail(self.read, d, hit)
            except StalePages:
                continue
            return Revocation(reason=reason, at_ms=at, cinema=cinema, device=device, staff=staff)
        raise StoreError("store_failed", "the revocation list kept changing during a lookup")

    def uses(self, cti: bytes, *, own_device: str) -> list[Use]:
        """Earlier redemptions: local non-voided ones, then those reported elsewhere."""
        return list(self.facts(cti, own_device=own_device).uses)

    def roster_token(self, cti: bytes) -> str | None:
        rows = self.read("SELECT token FROM roster WHERE cti = ?", (cti,))
        return str(rows[0][0]) if rows else None

    # -- reporting -----------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Sizes of everything the status screen shows."""
        q: dict[str, str | None] = {
            "pending": "SELECT count(*) FROM records WHERE synced_at IS NULL",
            "synced": "SELECT count(*) FROM records WHERE synced_at IS NOT NULL",
            "conflicts": "SELECT count(*) FROM conflicts",
            "revocations": None,  # rows and pages: revocation_count
            "roster": "SELECT count(*) FROM roster",
            "trusted_keys": "SELECT count(*) FROM trusted_keys",
            "records": "SELECT count(*) FROM records",
            "attempts": "SELECT count(*) FROM attempts",
            # the server's answers that hold a record (kept here, never deleted)
            "quarantined": "SELECT count(*) FROM records WHERE server_status = 'rejected'",
            "review": "SELECT count(*) FROM records WHERE server_status = 'review'",
            "refusals_pending": (
                "SELECT count(*) FROM attempts WHERE uploaded_at IS NULL AND uuid IS NOT NULL"
            ),
        }
        return {
            name: self.revocation_count() if sql is None else int(self.read(sql)[0][0])
            for name, sql in q.items()
        }

    def revocation_count(self) -> int:
        """Revoked ids of the live list, each once: the rows, plus the page entries no row
        repeats and no removal hides (those are events since the snapshot: few)."""
        for _ in range(_RETRIES):
            rows = self.read(
                "SELECT count(*), (SELECT value FROM meta WHERE key = 'revocation_pages_gen') "
                "FROM revocations"
            )
            try:
                d = self.pages.directory(self.read, str(rows[0][1] or ""))
                if not d.runs.get("f"):
                    return int(rows[0][0])
                overlap = sum(
                    1
                    for (c,) in self.read(
                        "SELECT cti FROM revocations UNION "
                        "SELECT cti FROM revocation_removed WHERE kind = 'f'"
                    )
                    if self.pages.find(self.read, d, "f", bytes(c))
                )
                return int(rows[0][0]) + self.pages.count(self.read, d, "f") - overlap
            except StalePages:
                continue
        raise StoreError("store_failed", "the revocation list kept changing during a count")

    def conflicts(self) -> list[dict[str, Any]]:
        rows = self.read(
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

    def held_records(self) -> list[dict[str, Any]]:
        """Records the server quarantined (``rejected``) or holds for ``review``, oldest first.

        Kept on the counter for ever (they are the cinema's evidence); the
        manager view lists them with the server's ``flags`` / ``problem``.
        """
        import json

        from sync.voucher.shortcode import encode_short_code

        out = []
        for r in self.read(
            "SELECT uuid, kind, voucher, at, staff, format, server_status, server_detail "
            "FROM records WHERE server_status IN ('rejected', 'review') ORDER BY seq"
        ):
            try:
                detail = json.loads(r[7]) if r[7] else {}
            except ValueError:
                detail = {}
            flags = detail.get("flags") if isinstance(detail, dict) else None
            out.append(
                {
                    "record_uuid": r[0],
                    "kind": r[1],
                    "voucher": encode_short_code(bytes(r[2])),
                    "at": r[3],
                    "staff": r[4],
                    "format": r[5],
                    "status": r[6],
                    "flags": [str(f) for f in flags] if isinstance(flags, list) else [],
                    "problem": str(detail.get("problem") or "") if isinstance(detail, dict) else "",
                }
            )
        return out

    def records_between(self, start_ms: int, end_ms: int) -> list[Any]:
        """(kind, uuid, voids, format, staff, at, synced_at) of records in [start, end)."""
        return self.read(
            "SELECT kind, uuid, voids, format, staff, at, synced_at FROM records "
            "WHERE at >= ? AND at < ? ORDER BY seq",
            (start_ms, end_ms),
        )

    def attempts_between(self, start_ms: int, end_ms: int) -> list[Any]:
        """(reason, short_code, format, staff, source, at) of attempts in [start, end)."""
        return self.read(
            "SELECT reason, short_code, format, staff, source, at FROM attempts "
            "WHERE at >= ? AND at < ? ORDER BY id",
            (start_ms, end_ms),
        )

    def newest_time_ms(self) -> int:
        """The newest time this store has seen (records and the persisted clock mark).

        Records up to meta ``clock_floor_seq`` are not counted: a sync found
        the clock right after they were made (they are from a clock that ran
        ahead, and the mark was lowered to the server's time then).
        """
        floor = self.meta_int("clock_floor_seq") or 0
        rows = self.read("SELECT max(at) FROM records WHERE seq > ?", (floor,))
        return max(self.meta_int("newest_seen_ms") or 0, int(rows[0][0] or 0))

    def head_seq(self) -> int:
        """The sequence number of the newest record (0 when there is none)."""
        rows = self.read("SELECT max(seq) FROM records")
        return int(rows[0][0] or 0)
