"""The claim round plugged into :meth:`KioskService.redeem` (``svc.peers = PeerHook(...)``).

Before the redemption's transaction the hook runs one round: our claim
written (:func:`kiosk.peers.claims.begin`), the peers asked in parallel
within the budget, their answers kept in a :class:`Ticket`. Inside the
transaction the ticket settles (an ``already_redeemed`` refusal naming the peer, or nothing)
together with the record; after it, an accepted record is pushed to the
peers. A peer that does not answer in time does not count.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from kiosk.engine.chain import Writer
from kiosk.engine.db import now_ms as wall_ms
from kiosk.engine.verdict import Verdict
from kiosk.engine.verify import Checked, check
from kiosk.peers import claims
from kiosk.peers.client import BUDGET_S
from kiosk.peers.node import Peers
from kiosk.peers.wire import Message, new_nonce
from sync.records import Record
from sync.voucher.codec import Voucher

log = logging.getLogger("cinepass.peers")

#: kept out of the waiting budget for the decision's transaction (a commit of a few ms)
SETTLE_RESERVE_S = 0.008


def refusal(checked: Checked, blocker: claims.Blocker, counter: str) -> Verdict:
    """``already_redeemed`` at a peer (``where: "peer"``), naming the counter that used (or is using) it."""
    v = checked.verdict
    detail: dict[str, Any] = {
        "counter": counter or blocker.device,
        "device": blocker.device,
        "at": blocker.at,
        "staff": blocker.staff,
        "where": "peer",
        "claim": blocker.kind == "claimed",
    }
    return Verdict(
        reason="already_redeemed", voucher=v.voucher, detail=detail, clock_warning=v.clock_warning
    )


@dataclass
class Ticket:
    """One claim round's outcome, settled inside the record's transaction."""

    peers: Peers
    claim: claims.Claim
    blocker: claims.Blocker | None
    counter: str = ""
    answered: list[str] = field(default_factory=list)
    settled: bool = False

    def settle(self, w: Writer, checked: Checked) -> Verdict | None:
        """Inside the record's transaction: the refusal that replaces ``accepted``, if any.

        Our claim turns ``won`` here (unless a peer's older claim marked it
        ``lost`` during the round), so from now on a peer asking hears
        ``claimed``, until the record, committed with ``w``, answers instead.
        """
        self.settled = True
        if self.blocker is not None:
            return refusal(checked, self.blocker, self.counter)
        late = claims.decide(self.peers.book, self.claim, wall_ms())
        if late is None:
            return None
        return refusal(checked, late, self.peers.counter_name(late.device))

    def done(self, record: Record | None) -> None:
        """After the transaction: push an accepted record; remove our claim either way."""
        try:
            claims.drop(self.peers.book, self.claim)
        except sqlite3.Error:
            log.warning("claim not dropped (it expires by itself)")
        if record is not None:
            self.peers.push(record)


def _blocker(a: Message) -> claims.Blocker:
    """The blocker a peer's ``used`` / ``claimed`` answer names (the peer itself if unclear)."""
    b = a.body
    try:
        at = int(b.get("at") or 0)
    except (TypeError, ValueError):
        at = 0
    return claims.Blocker(
        str(b["answer"]), str(b.get("device") or a.sender), at, str(b.get("staff") or "")
    )


class PeerHook:
    """What :class:`KioskService` calls around a redemption when its counter has peers."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    def claim(self, text: str, *, fmt: str, now_ms: int, behind: bool) -> Ticket | None:
        """Run the round for a voucher that would be accepted here; None when none is needed.

        A claims file that cannot be read or written skips the round (logged):
        the counter keeps scanning on its own, as it would with no peer reachable.
        """
        started = time.monotonic()
        if not self.peers.enabled:
            return None
        checked = check(text, self.peers.svc.state(), fmt=fmt, now_ms=now_ms, clock_behind=behind)
        if not checked.verdict.accepted or checked.voucher is None:
            return None
        try:
            return self._round(checked.voucher, now_ms, started)
        except (sqlite3.Error, OSError) as exc:
            log.error("claim round skipped: %s", type(exc).__name__)
            return None

    def _round(self, v: Voucher, now_ms: int, started: float) -> Ticket:
        c = claims.Claim(v.cti, self.peers.me.device, new_nonce(), now_ms)
        blocker = claims.begin(self.peers.book, c, wall_ms())
        if blocker is not None:
            return Ticket(self.peers, c, blocker, self.peers.counter_name(blocker.device))
        body = {"cti": v.cti.hex(), "t": c.t, "admissions": v.admissions}
        # the whole round, our own transactions included, stays within the budget
        spent = time.monotonic() - started
        answers = self.peers.ask("claim", body, max(0.02, BUDGET_S - spent - SETTLE_RESERVE_S))
        senders = [x.sender for x in answers]
        for a in answers:
            if a.body.get("answer") in ("used", "claimed"):
                return Ticket(self.peers, c, _blocker(a), str(a.body.get("counter") or ""), senders)
        return Ticket(self.peers, c, None, answered=senders)

    def annotate(self, v: Verdict) -> Verdict:
        """A use another counter of this cinema told us of reads "used at counter X"."""
        if v.reason != "already_redeemed" or v.detail.get("where") != "elsewhere":
            return v
        device = str(v.detail.get("device") or "")
        names = self.peers.names()
        if device not in names:
            return v
        detail = {**v.detail, "counter": names[device] or device, "where": "peer"}
        return Verdict(
            reason="already_redeemed",
            voucher=v.voucher,
            detail=detail,
            clock_warning=v.clock_warning,
            check_only=v.check_only,
        )
