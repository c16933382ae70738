"""What the alert rules share: the batch they look at, evidence ids, the densest window."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from sync.businessday import BusinessDay
from sync.server.db import rows_in
from sync.server.models import Quarantine, Redemption, Refusal, Voucher

from .alerts import Finding
from .alerts_config import RuleSettings
from .cinemas import business_day

MINUTE = 60_000
DAY = 86_400_000
COUNTED = ("valid", "duplicate", "review")  # stored redemptions that admitted someone


class Rec(NamedTuple):
    """The columns the rules read of a stored redemption (not the token: no ORM object per row).

    ``flags`` are the settlement's review codes (docs/settlement.md): ``chain_gap``,
    ``chain_fork``, ``disputed``, ...; ``status`` is ``valid | review | duplicate |
    void | rejected``.
    """

    uuid: str
    device: str
    kind: str
    voucher: str
    cinema: str
    staff: str
    at: int
    status: str
    flags: list[str]
    received_at: int


REC_COLS = (
    Redemption.uuid,
    Redemption.device,
    Redemption.kind,
    Redemption.voucher,
    Redemption.cinema,
    Redemption.staff,
    Redemption.at,
    Redemption.status,
    Redemption.flags,
    Redemption.received_at,
)


class Quarantined(NamedTuple):
    """A record the server refused on its own (bad device signature, malformed, wrong device)."""

    uuid: str
    device: str
    problem: str
    at: int  # when the server last received it


def rec_id(r: Rec) -> str:
    return f"record:{r.uuid}"


def ref_id(r: Refusal) -> str:
    return f"refusal:{r.device}:{r.id}"


@dataclass
class Batch:
    """What one evaluation looks at: the rows an upload stored, and the time."""

    records: list[Rec] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    now: int = 0
    scheduled: bool = False
    quarantined: list[Quarantined] = field(default_factory=list)
    _days: dict[str, BusinessDay] = field(default_factory=dict)

    def day(self, session: Session, cinema: str) -> BusinessDay:
        if cinema not in self._days:
            self._days[cinema] = business_day(session, cinema)
        return self._days[cinema]

    @property
    def redeems(self) -> list[Rec]:
        return [r for r in self.records if r.kind == "redeem" and r.status in COUNTED]


Rule = Callable[[Session, Batch, RuleSettings], Iterable[Finding]]


def densest(
    items: Sequence[tuple[Any, ...]], window: int, new: set[str]
) -> tuple[int, list[str], int]:
    """The window of ``window`` ms holding most items, among those holding a new one.

    ``items`` are (time, id, ...) sorted by time (further fields are ignored, so
    a rule can pass the rows it read); returns (count, ids, end time).
    One pass with a running count of new items in the window, and the ids of
    the best window only: a counter's busy evening is thousands of rows, and
    listing every window's ids made a 10,000-record upload cost minutes.
    """
    best_n, best_lo, best_hi = 0, 0, -1
    lo = fresh = 0
    for hi, item in enumerate(items):
        t = item[0]
        fresh += item[1] in new
        while items[lo][0] <= t - window:
            fresh -= items[lo][1] in new
            lo += 1
        if hi - lo + 1 > best_n and fresh:
            best_n, best_lo, best_hi = hi - lo + 1, lo, hi
    if best_hi < 0:
        return (0, [], 0)
    return (best_n, [it[1] for it in items[best_lo : best_hi + 1]], items[best_hi][0])


def short_codes(session: Session, ctis: set[str]) -> dict[str, str]:
    if not ctis:
        return {}
    q = select(Voucher.cti, Voucher.short_code).where(Voucher.cti.in_(ctis))
    return {c: sc for c, sc in session.execute(q)}


def load_batch(
    session: Session,
    records: Sequence[tuple[str, str]],
    refusals: Sequence[tuple[str, str]],
    now: int,
) -> Batch:
    """The rows behind (device, record uuid) and (device, refusal id) pairs an upload named.

    A record uuid that is no redemption line was quarantined (its device
    signature failed, or it was malformed): it comes back as :class:`Quarantined`.
    """
    by_uuid = {u: d for d, u in records}
    recs = [Rec._make(row) for row in rows_in(session, select(*REC_COLS), Redemption.uuid, by_uuid)]
    missing = {(by_uuid[u], u) for u in by_uuid} - {(r.device, r.uuid) for r in recs}
    q = select(Quarantine.uuid, Quarantine.device, Quarantine.problem, Quarantine.last_at)
    key: Any = tuple_(Quarantine.device, Quarantine.uuid)
    quarantined = [Quarantined._make(row) for row in rows_in(session, q, key, sorted(missing))]
    rkey: Any = tuple_(Refusal.device, Refusal.id)
    refs = [row[0] for row in rows_in(session, select(Refusal), rkey, sorted(set(refusals)))]
    return Batch(recs, refs, now, quarantined=quarantined)
