"""The union's decision on a line held for ``review`` (``cinepass-admin review``).

A line is ``review`` when the server's re-checks flagged it (out of scope, a
wrong time, a chain gap...) or when two counters claim one voucher
(``disputed``); it is kept and shown but not paid (docs/settlement.md).
Accepting makes it ``valid`` (paid) unless the voucher's admissions are
already paid to other lines; rejecting makes it ``rejected`` (never paid).
The voucher's other lines follow the decision (the rival of a dispute
becomes a duplicate, or valid again when this one is rejected), every
counter concerned is told on its status feed, and the decision is audited
with who, when and the note, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync.errors import EXIT_REJECTED
from sync.server import feeds
from sync.server.ingest_settle import load_ledger, publish
from sync.server.models import Redemption

from . import audit
from .errors import OfficeError

MAX_NOTE = 500


def review(
    session: Session,
    record: str,
    *,
    accept: bool,
    note: str,
    actor: str,
    address: str = "cli",
) -> dict[str, Any]:
    """Decide one review line; returns its new ``{record, status, flags, decision}``.

    Refusals: ``unknown_record`` / ``bad_note`` (exit 2, bad input),
    ``not_under_review`` / ``voucher_used`` (exit 1, refused).
    """
    note = note.strip()
    if not note or len(note) > MAX_NOTE:
        raise OfficeError(
            "bad_note", f"请用 --note 说明理由 / --note must say why, 1 to {MAX_NOTE} characters"
        )
    feeds.lock_head(session)  # one writer at a time with ingest
    row = session.execute(
        select(Redemption.voucher, Redemption.status, Redemption.flags, Redemption.decision).where(
            Redemption.uuid == record.strip()
        )
    ).one_or_none()
    if row is None:
        raise OfficeError(
            "unknown_record",
            f"没有此记录 / no record {record!r} (see 'cinepass-admin report redemptions')",
        )
    cti, status, flags, decision = row
    uuid = record.strip()
    if status != "review" or decision is not None:
        raise OfficeError(
            "not_under_review",
            f"此记录不在复核中 / record {uuid} is {status}, not under review: nothing to decide",
            exit_code=EXIT_REJECTED,
        )
    ledger = load_ledger(session, cti)
    if accept:
        paid = [r for r in ledger.valid() if r["uuid"] != uuid]
        if len(paid) >= ledger.n:
            raise OfficeError(
                "voucher_used",
                f"此券已支付给另一条记录 / the voucher of {uuid} is already paid to record "
                f"{paid[0]['uuid']}",
                exit_code=EXIT_REJECTED,
            )
    ledger.decide(uuid, accept)
    publish(session, [ledger], set())
    new_status, _dup, new_flags = ledger.final()[uuid]
    verdict = "accepted" if accept else "rejected"
    values: dict[str, Any] = {"decision": verdict}
    if not accept:
        values["problem"] = "rejected_in_review"
    session.execute(update(Redemption).where(Redemption.uuid == uuid).values(**values))
    audit.record(
        session,
        actor=actor,
        address=address,
        action=f"review.{'accept' if accept else 'reject'}",
        subject=uuid,
        before={"status": status, "flags": list(flags or [])},
        after={"status": new_status, "flags": new_flags, "decision": verdict, "note": note},
    )
    return {"record": uuid, "status": new_status, "flags": new_flags, "decision": verdict}
