"""Who was first: the settlement status of every record of the vouchers a batch touches.

Split from :mod:`sync.server.ingest` (which verifies, chain-checks and
inserts); this module decides ``valid`` / ``duplicate`` / ``void`` /
``review`` and announces what changed, inside the same transaction. The
rules are written down for people in docs/settlement.md.

The first-use rule
------------------
Records are placed one at a time, in the order the server receives them
(:meth:`Ledger.place`), never re-sorted afterwards, so an acknowledged
``valid`` line is never silently displaced:

* a redeem line with flags of its own (out of scope, a time in the future...)
  is ``review``: kept, not paid, and it takes the voucher from nobody;
* a clean line is ``valid`` while the voucher has admissions left;
* otherwise, if it claims an *earlier* time (``at_server``, the counter's
  time corrected by its measured clock offset) than a line holding the
  voucher, by more than :data:`DISPUTE_MARGIN_MS` (within it clocks cannot
  tell who was first, so the line acknowledged first keeps it), both become ``review`` with ``disputed``: the union decides
  (``cinepass-admin review``); if not, it is ``duplicate`` of the first holder;
* a void cancels only a redemption of the same counter; a freed voucher goes
  to the earliest duplicate, and a dispute whose rival is gone (voided,
  rejected by the union) ends by itself (:meth:`Ledger.rebalance`).

Lines the union decided (``decision``) keep their status. Every change to a
line already acknowledged is a ``status`` feed event addressed to its
device, with ``flags`` and ``conflict_with``; the owner of a valid line is
told when a duplicate of it appears.

Signed months
-------------
:func:`publish` is the one place a line's status is set (ingest and the
union's review both end here), so it is also where a line of a month the
union has signed off becomes an *adjustment* of the cinema's next open month
(:func:`sync.office.signoff_models.record_adjustments`): the signed
statement itself never changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync.office.signoff_models import LineChange, record_adjustments
from sync.voucher.codec import decode_voucher
from sync.voucher.errors import VoucherError

from . import feeds
from .ingest_checks import MAX_SKEW_MS
from .models import Redemption

#: A claim disputes a holder only if it is earlier by more than this (clock noise, skew).
DISPUTE_MARGIN_MS = MAX_SKEW_MS
Final = dict[str, tuple[str, str | None, list[str]]]
DISPUTED = "disputed"
STATE_COLS = (
    Redemption.uuid,
    Redemption.kind,
    Redemption.at,
    Redemption.at_server,
    Redemption.status,
    Redemption.flags,
    Redemption.decision,
    Redemption.duplicate_of,
    Redemption.device,
    Redemption.voids,
    Redemption.voucher,
    Redemption.cinema,
    Redemption.staff,
    Redemption.format,
)


def when(r: dict[str, Any]) -> tuple[int, str]:
    """The order of claims: server-corrected time, then uuid (a stable tie-break)."""
    t = r.get("at_server")
    return (int(r["at"] if t is None else t), r["uuid"])


def _state(r: dict[str, Any]) -> tuple[str, str | None, list[str]]:
    return (r["status"], r["duplicate_of"], list(r.get("flags") or []))


class Ledger:
    """The lines of one voucher and the rules that move them (see the module docstring)."""

    def __init__(self, cti: str, rows: Iterable[dict[str, Any]], admissions: int) -> None:
        self.cti = cti
        self.n = max(1, admissions)
        self.rows: dict[str, dict[str, Any]] = {}
        self.original: dict[str, tuple[str, str | None, list[str]]] = {}
        self.conflict: dict[str, str] = {}
        for r in rows:
            self.rows[r["uuid"]] = dict(r, flags=list(r.get("flags") or []))
            self.original[r["uuid"]] = _state(r)

    # -- views ---------------------------------------------------------------

    def _redeems(self, status: str) -> list[dict[str, Any]]:
        out = [r for r in self.rows.values() if r["kind"] == "redeem" and r["status"] == status]
        return sorted(out, key=when)

    def valid(self) -> list[dict[str, Any]]:
        return self._redeems("valid")

    def disputed(self) -> list[dict[str, Any]]:
        return [r for r in self._redeems("review") if DISPUTED in r["flags"]]

    def holders(self) -> list[dict[str, Any]]:
        """The lines that hold the voucher: valid ones and the contenders of a dispute."""
        return sorted(self.valid() + self.disputed(), key=when)

    # -- rules ---------------------------------------------------------------

    def place(self, r: dict[str, Any]) -> None:
        """Settle one newly received line against what is already here."""
        r["flags"] = list(r.get("flags") or [])  # the caller's new row, settled in place
        self.rows[r["uuid"]] = r
        if r["status"] == "rejected":
            return
        if r["kind"] == "void":
            r["status"] = "void"
            target = self.rows.get(r["voids"])
            if (
                target is not None
                and target["kind"] == "redeem"
                and target["device"] == r["device"]
            ):
                if target["status"] != "rejected":
                    self._set(target, "void")
            self.rebalance()
            return
        voided = any(
            x["kind"] == "void" and x["voids"] == r["uuid"] and x["device"] == r["device"]
            for x in self.rows.values()
            if x["status"] != "rejected"
        )
        if voided:
            self._set(r, "void")
        elif r["flags"]:
            r["status"] = "review"  # its own flags: held for the union, takes nothing
        else:
            self._claim(r)  # frees nothing and ends no dispute: no rebalance needed

    def _claim(self, r: dict[str, Any]) -> None:
        if len(self.rows) == 1:  # the voucher's first line (nearly every one): no one to ask
            self._set(r, "valid")
            return
        holders = [h for h in self.holders() if h["uuid"] != r["uuid"]]
        if len(holders) < self.n:
            self._set(r, "valid")
            return
        # earlier by more than clocks can tell apart, or the first acknowledged keeps it
        later = [h for h in holders if when(h)[0] - DISPUTE_MARGIN_MS > when(r)[0]]
        later = [h for h in later if h["decision"] is None]  # a decision is final
        if not later:
            self._set(r, "duplicate", dup=holders[0]["uuid"])
            return
        self._set(r, "review", disputed=True)
        self.conflict[r["uuid"]] = later[0]["uuid"]
        for h in later:
            self._set(h, "review", disputed=True)
            self.conflict[h["uuid"]] = r["uuid"]

    def rebalance(self) -> None:
        """After a void or a decision: end disputes that have no rival, refill freed admissions."""
        undecided = [d for d in self.disputed() if d["decision"] is None]
        valid = self.valid()
        if undecided and len(valid) >= self.n:  # the union gave the voucher to another line
            for d in undecided:
                self._set(d, "duplicate", dup=valid[0]["uuid"])
        elif undecided and len(valid) + len(undecided) <= self.n:  # the rival is gone
            for d in undecided:
                self._set(d, "valid")
        while len(self.holders()) < self.n:
            waiting = [d for d in self._redeems("duplicate") if d["decision"] is None]
            if not waiting:
                break
            self._set(waiting[0], "valid")
        holders = self.holders()
        for d in self._redeems("duplicate"):
            first = holders[0]["uuid"] if holders else None
            if d["duplicate_of"] != first:
                d["duplicate_of"] = first

    def decide(self, uuid: str, accept: bool) -> None:
        """The union's decision on a review line; the voucher's other lines follow."""
        r = self.rows[uuid]
        r["decision"] = "accepted" if accept else "rejected"
        self._set(r, "valid" if accept else "rejected")
        self.rebalance()

    def _set(
        self, r: dict[str, Any], status: str, *, dup: str | None = None, disputed: bool = False
    ) -> None:
        r["status"], r["duplicate_of"] = status, dup
        own = [f for f in r["flags"] if f != DISPUTED]
        r["flags"] = own + [DISPUTED] if disputed else own

    # -- results -------------------------------------------------------------

    def final(self) -> Final:
        return {u: _state(r) for u, r in self.rows.items()}

    def used(self, states: dict[str, tuple[str, str | None, list[str]]]) -> dict[str, Any] | None:
        """The first holder if the voucher's admissions are used up in ``states``, else None."""
        held = []
        for u, r in self.rows.items():
            state = states.get(u)
            if state is None or r["kind"] != "redeem":
                continue
            if state[0] == "valid" or (state[0] == "review" and DISPUTED in state[2]):
                held.append(r)
        if len(held) < self.n:
            return None
        return held[0] if len(held) == 1 else min(held, key=when)


@dataclass
class _Outcome:
    """What settling a batch's vouchers decided: final statuses, row updates, feed entries."""

    final: Final = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    events: list[feeds.Event] = field(default_factory=list)
    revocations: list[dict[str, Any]] = field(default_factory=list)
    lines: list[LineChange] = field(default_factory=list)  # what a signed month must know


def settle_vouchers(
    session: Session,
    before: dict[str, list[dict[str, Any]]],
    rows: list[dict[str, Any]],
    admissions: dict[str, int],
) -> Final:
    """Place the just inserted ``rows`` on their vouchers' ledgers; uuid -> (status, dup, flags).

    ``before`` holds each affected voucher's rows as stored before the insert
    (so a change of an acknowledged line can be told); status changes are
    written back, and the status and revocation feed events appended, in the
    caller's transaction.
    """
    new_by_cti: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        new_by_cti.setdefault(r["voucher"], []).append(r)
    ledgers = []
    for cti in set(before) | set(new_by_cti):
        n = admissions.get(cti) or stored_admissions(session, cti)
        ledger = Ledger(cti, before.get(cti, []), n)
        for r in new_by_cti.get(cti, []):
            ledger.place(r)
        ledgers.append(ledger)
    return publish(session, ledgers, {r["uuid"] for r in rows})


def publish(session: Session, ledgers: Iterable[Ledger], new: set[str]) -> Final:
    """Write back what changed on ``ledgers`` and tell the counters (feed events)."""
    out = _Outcome()
    for ledger in ledgers:
        _announce(out, ledger, new)
    if out.changes:
        session.execute(update(Redemption), out.changes)
    feeds.append(
        session,
        out.events + [feeds.Event("revocation", e["action"], e["cti"], e) for e in out.revocations],
    )
    record_adjustments(session, out.lines)
    return out.final


def _line_change(r: dict[str, Any], before: str | None, after: str) -> LineChange:
    return LineChange(
        r["uuid"], r["cinema"], int(r["at"]), r["kind"], r["format"], before, after, r["voucher"]
    )


def _announce(out: _Outcome, ledger: Ledger, new: set[str]) -> None:
    final = ledger.final()
    out.final.update(final)
    for u, r in ledger.rows.items():
        state = final[u]
        if u in new:  # inserted with this state by the caller: answered, not announced
            out.lines.append(_line_change(r, None, state[0]))
            if state[0] == "duplicate" and state[1] is not None:  # tell the holder
                holder = ledger.rows[state[1]]
                out.events.append(_status_event(holder, final[holder["uuid"]], conflict=u))
            continue
        if state == ledger.original.get(u):
            continue
        out.changes.append(_change(u, state))
        was = ledger.original.get(u)
        out.lines.append(_line_change(r, was[0] if was else None, state[0]))
        first = ledger.rows.get(state[1]) if state[1] else None
        out.events.append(_status_event(r, state, ledger.conflict.get(u), first))
    used_before = ledger.used(ledger.original)
    used_after = ledger.used(final)
    moved = (
        used_before is not None
        and used_after is not None
        and used_before["uuid"] != used_after["uuid"]
        and final[used_after["uuid"]][0] == "valid"  # a dispute does not move the first use
    )
    if used_after is not None and (used_before is None or moved):
        out.revocations.append(
            feeds.revocation_entry(
                ledger.cti,
                "redeemed",
                at=used_after["at"],
                cinema=used_after["cinema"],
                device=used_after["device"],
                staff=used_after["staff"],
            )
        )
    elif used_before is not None and used_after is None:
        out.revocations.append(feeds.revocation_entry(ledger.cti, "unredeemed"))


def _change(uuid: str, state: tuple[str, str | None, list[str]]) -> dict[str, Any]:
    return {"uuid": uuid, "status": state[0], "duplicate_of": state[1], "flags": state[2]}


def load_ledger(session: Session, cti: str) -> Ledger:
    """The ledger of one voucher as stored (for a decision of the union)."""
    rows = [
        dict(r._mapping)
        for r in session.execute(select(*STATE_COLS).where(Redemption.voucher == cti))
    ]
    return Ledger(cti, rows, stored_admissions(session, cti))


def stored_admissions(session: Session, cti: str) -> int:
    """Admissions of a voucher not in this batch's tokens (e.g. a batch of voids)."""
    token = session.scalars(
        select(Redemption.token).where(Redemption.voucher == cti).limit(1)
    ).first()
    if token is None:
        return 1
    try:
        return decode_voucher(token).voucher.admissions
    except VoucherError:
        return 1


def _status_event(
    r: dict[str, Any],
    state: tuple[str, str | None, list[str]],
    conflict: str | None = None,
    first: dict[str, Any] | None = None,
) -> feeds.Event:
    status, dup, flags = state
    first_use = (
        None
        if first is None
        else {k: first[k] for k in ("uuid", "cinema", "device", "staff", "at")}
    )
    data = {
        "uuid": r["uuid"],
        "status": status,
        "flags": flags,
        "duplicate_of": dup,
        "first": first_use,
        "conflict_with": conflict,
    }
    return feeds.Event("status", status, r["uuid"], data, device=r["device"])
