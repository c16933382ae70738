"""A business day's counts at one counter, and the business day the server sets.

The tally is what the manager sees and exports (``cinepass-kiosk tally``);
its day is the cinema's business day (:mod:`sync.businessday`), which the
server sends at enrolment and in every hello answer and the kiosk keeps in
its store meta, so the counter and the settlement count a late show alike.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kiosk.engine.verify import FORMATS
from sync.businessday import BusinessDay, BusinessDayError

log = logging.getLogger(__name__)

#: Meta keys of the cinema's business day (written by enrolment and the sync client).
BUSINESS_TZ_META = "business_timezone"
BUSINESS_START_META = "business_day_starts"


def business_day_metas(timezone: str, day_starts: str) -> dict[str, str]:
    """The meta values that keep the business day the server sent ({} if this PC cannot use it).

    A zone this PC has no data for (Windows without tzdata) is logged and
    skipped: the counter keeps the day it had rather than failing the sync.
    """
    try:
        bd = BusinessDay.of(timezone, day_starts)
    except BusinessDayError as exc:
        log.warning("server's business day not usable here: %s", exc.message)
        return {}
    return {BUSINESS_TZ_META: bd.timezone, BUSINESS_START_META: bd.day_starts}


@dataclass
class Tally:
    """One business day's counts (:mod:`sync.businessday`); ``to_json`` is the CLI contract."""

    day: date
    accepted: int = 0
    by_format: dict[str, int] = field(default_factory=lambda: {f: 0 for f in FORMATS})
    by_hour: dict[str, int] = field(default_factory=dict)
    by_staff: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    voided: int = 0
    pending: int = 0
    synced: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "accepted": self.accepted,
            "by_format": dict(self.by_format),
            "by_hour": dict(self.by_hour),
            "by_staff": dict(self.by_staff),
            "rejected": dict(self.rejected),
            "voided": self.voided,
            "pending": self.pending,
            "synced": self.synced,
        }

    def to_csv(self) -> str:
        """``section,key,count`` rows (opens in any spreadsheet)."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["section", "key", "count"])
        day = self.day.isoformat()
        w.writerow(["accepted", day, self.accepted])
        for section in ("by_format", "by_hour", "by_staff", "rejected"):
            for k, n in getattr(self, section).items():
                w.writerow([section, k, n])
        w.writerow(["voided", day, self.voided])
        w.writerow(["pending", day, self.pending])
        w.writerow(["synced", day, self.synced])
        return out.getvalue()
