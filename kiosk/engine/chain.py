"""The record chain: the signed redemption/void rows, their writer, their sync state.

Each record holds the hash of the previous one and the device's Ed25519
signature over its canonical bytes, both from one :meth:`sync.records.Record.seal`
(the server re-checks them with ``check_seal``), so the server can prove no
row was altered, inserted or deleted. Voids are new signed rows (kind
``void``), never updates; the only columns ever updated are the sync
bookkeeping (``synced_at``, ``server_status``, ``server_detail``), which are
not part of the signed record.
"""

from __future__ import annotations

import dataclasses
import json
import uuid as uuid_mod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kiosk.engine.db import Database, now_ms, upsert_cursor, upsert_meta
from kiosk.engine.facts import SERVER_STATUSES
from kiosk.errors import UsageError
from sync.records import GENESIS_HASH, Record
from sync.voucher.keys import PrivateKey, PublicKey

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


#: the signed columns, in the order of the INSERT below (``Record``'s fields)
SIGNED = tuple(f.name for f in dataclasses.fields(Record))
_BLOBS = ("voucher", "prev")
# column names of the Record dataclass, never input
_COLUMNS = ", ".join((*SIGNED, "hash", "sig"))
_MARKS = ", ".join("?" * (len(SIGNED) + 2))
_INSERT = f"INSERT INTO records ({_COLUMNS}) VALUES ({_MARKS})"  # noqa: S608


def record_from_row(row: Any) -> Record:
    """A :class:`Record` from a ``records`` row (the signed columns only)."""
    m = row._mapping
    values: dict[str, Any] = {c: bytes(m[c]) if c in _BLOBS else m[c] for c in SIGNED}
    return Record(**values)


class Writer:
    """The open write transaction handed out by :meth:`ChainStore.transaction`."""

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
        digest, sig = rec.seal(key)
        self.conn.exec_driver_sql(_INSERT, (*(getattr(rec, c) for c in SIGNED), digest, sig))
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
        text_hash: str | None = None,
    ) -> None:
        """Log one scan attempt (never the token: only the short code, if known).

        A refusal gets an id, so the office stores it once however often it
        is uploaded (:mod:`kiosk.engine.refusals`); ``text_hash`` is the
        SHA-256 of a scanned text whose voucher was not verified.
        """
        refusal_id = None if reason == "accepted" else str(uuid_mod.uuid4())
        self.conn.exec_driver_sql(
            "INSERT INTO attempts (at, reason, short_code, format, staff, source, record_uuid,"
            " uuid, text_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at_ms, reason, short_code, fmt, staff, source, record_uuid, refusal_id, text_hash),
        )

    def set_meta(self, key: str, value: str) -> None:
        upsert_meta(self.conn, key, value)


class ChainStore(Database):
    """The chain part of the store: write records, read them back, keep their sync state."""

    @contextmanager
    def transaction(self) -> Iterator[Writer]:
        """One ``BEGIN IMMEDIATE`` transaction; commits (fsync'd) on normal exit.

        Raises :class:`kiosk.engine.db.CommitFailed` when the database refuses
        (after a complete rollback), so the caller can answer ``not_recorded``.
        """
        with self.write() as conn:
            yield Writer(conn)

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
        return [(record_from_row(r), bytes(r.sig)) for r in rows]

    def mark_synced(
        self,
        results: Mapping[str, tuple[str, dict[str, Any] | None]],
        *,
        cursor: tuple[str, str] | None = None,
    ) -> None:
        """Store the server's answer per record uuid; a duplicate also logs a conflict.

        ``cursor`` (feed, value) moves a feed's cursor in the same commit, so
        the status feed's answers and its position are written together.
        """
        import sqlalchemy as sa

        from kiosk.engine.schema import conflicts_t

        for uuid, (status, _detail) in results.items():
            if status not in SERVER_STATUSES:
                raise UsageError("bad_status", f"unknown server status {status!r} for {uuid}")
        if not results:  # (an executemany over no rows is an error in sqlite3)
            if cursor is not None:
                self.set_cursor(*cursor)
            return
        now = now_ms()
        with self.write() as conn:
            if cursor is not None:
                upsert_cursor(conn, *cursor)
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
        return [(record_from_row(r), bytes(r.hash), bytes(r.sig)) for r in rows]

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
        return None if row is None else record_from_row(row)

    def last_redemption(self) -> Record | None:
        """The newest ``redeem`` record (voided or not: "undo" twice must not reach further back)."""
        rows = self.read("SELECT uuid FROM records WHERE kind = 'redeem' ORDER BY seq DESC LIMIT 1")
        return self.record(rows[0][0]) if rows else None

    def is_voided(self, uuid: str) -> bool:
        return bool(self.read("SELECT 1 FROM records WHERE kind = 'void' AND voids = ?", (uuid,)))
