"""What the alert rules share: the batch they look at, evidence ids, the densest window."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.businessday import BusinessDay
from sync.server.models import Redemption, Refusal, Voucher

from .alerts import Finding
from .alerts_config import RuleSettings
from .cinemas import business_day

MINUTE = 60_000
DAY = 86_400_000
COUNTED = ("valid", "duplicate", "review")  # stored redemptions that admitted someone


def rec_id(r: Redemption) -> str:
    return f"record:{r.uuid}"


def ref_id(r: Refusal) -> str:
    return f"refusal:{r.device}:{r.id}"


@dataclass
class Batch:
    """What one evaluation looks at: the rows an upload stored, and the time."""

    records: list[Redemption] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    now: int = 0
    scheduled: bool = False
    _days: dict[str, BusinessDay] = field(default_factory=dict)

    def day(self, session: Session, cinema: str) -> BusinessDay:
        if cinema not in self._days:
            self._days[cinema] = business_day(session, cinema)
        return self._days[cinema]

    @property
    def redeems(self) -> list[Redemption]:
        return [r for r in self.records if r.kind == "redeem" and r.status in COUNTED]


Rule = Callable[[Session, Batch, RuleSettings], Iterable[Finding]]


def densest(
    items: Sequence[tuple[int, str]], window: int, new: set[str]
) -> tuple[int, list[str], int]:
    """The window of ``window`` ms holding most items, among those holding a new one.

    ``items`` are (time, id) sorted by time; returns (count, ids, end time).
    """
    best: tuple[int, list[str], int] = (0, [], 0)
    lo = 0
    for hi, (t, _i) in enumerate(items):
        while items[lo][0] <= t - window:
            lo += 1
        ids = [i for _t, i in items[lo : hi + 1]]
        if hi - lo + 1 > best[0] and any(i in new for i in ids):
            best = (hi - lo + 1, ids, t)
    return best


def short_codes(session: Session, ctis: set[str]) -> dict[str, str]:
    if not ctis:
        return {}
    q = select(Voucher.cti, Voucher.short_code).where(Voucher.cti.in_(ctis))
    return {c: sc for c, sc in session.execute(q)}
