"""The business day: the one definition of "which day a redemption counts to".

Cinemas count an evening's shows to that evening, so a 00:30 admission
belongs to the day before: a business day runs from ``day_starts`` (default
06:00) local time to ``day_starts`` the next day, in the cinema's own time
zone (default Asia/Shanghai), whatever time zone the PC that computes it
runs in. The kiosk's tally, the manager view, the kiosk exports and the
monthly settlement all call :class:`BusinessDay`, so the counter and the
office never put one redemption on two different days.

Each cinema's setting is stored centrally (``cinepass-admin cinema add/set
--timezone --day-starts``) and reaches its counters in the ``device/hello``
answer (``timezone``, ``day_starts``); a counter that never heard otherwise
(standalone, or an older server) uses the defaults.

Time zones come from the system's zoneinfo database; where there is none (a
Windows PC without the ``tzdata`` package) the zones of mainland China and its
neighbours, which keep no daylight saving time, fall back to fixed offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync.errors import CinePassError

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_DAY_STARTS = "06:00"
#: How far a cinema's business month can reach past the calendar month in UTC
#: (UTC-12..UTC+14 plus a cut-off up to 23:59): a query window that contains it.
MONTH_MARGIN_MS = 3 * 86_400_000

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
#: Fixed offsets (no daylight saving time) used only when zoneinfo has no data.
_FIXED = {
    "Asia/Shanghai": 8,
    "Asia/Chongqing": 8,
    "Asia/Harbin": 8,
    "PRC": 8,
    "Asia/Hong_Kong": 8,
    "Asia/Macau": 8,
    "Asia/Taipei": 8,
    "Asia/Urumqi": 6,
    "UTC": 0,
    "Etc/UTC": 0,
}


class BusinessDayError(CinePassError):
    """A time zone or cut-off that is not one (exit 2, HTTP 400)."""


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The ``tzinfo`` of an IANA zone name, or a refusal naming the value."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name in _FIXED:
            return timezone(timedelta(hours=_FIXED[name]), name)
        raise BusinessDayError(
            "bad_timezone",
            f"未知时区 {name!r} / unknown time zone {name!r}: use an IANA name such as Asia/Shanghai",
        ) from None


def parse_day_starts(text: str) -> int:
    """``HH:MM`` (00:00 to 23:59) as minutes after midnight, or a refusal."""
    m = _HHMM.match(text.strip())
    if not m:
        raise BusinessDayError(
            "bad_day_starts",
            f"营业日起点须为 HH:MM / --day-starts must be HH:MM (00:00 to 23:59), not {text!r}",
        )
    return int(m.group(1)) * 60 + int(m.group(2))


@dataclass(frozen=True)
class BusinessDay:
    """One cinema's business day: its time zone and the hour:minute a day starts."""

    timezone: str = DEFAULT_TIMEZONE
    day_starts: str = DEFAULT_DAY_STARTS

    def __post_init__(self) -> None:
        zone(self.timezone)  # refuse a bad setting where it is made, not at first use
        minutes = parse_day_starts(self.day_starts)
        object.__setattr__(self, "day_starts", f"{minutes // 60:02d}:{minutes % 60:02d}")

    @classmethod
    def of(cls, timezone_name: str | None, day_starts: str | None) -> BusinessDay:
        """From stored or received values; missing ones take the defaults."""
        return cls(timezone_name or DEFAULT_TIMEZONE, day_starts or DEFAULT_DAY_STARTS)

    @property
    def tz(self) -> tzinfo:
        return zone(self.timezone)

    @property
    def cutoff(self) -> timedelta:
        return timedelta(minutes=parse_day_starts(self.day_starts))

    def local(self, ms: int) -> datetime:
        """The wall-clock time at the cinema of an epoch-millisecond instant."""
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone(self.tz)

    def day_of(self, ms: int) -> date:
        """The business day an instant counts to (00:30 with a 06:00 cut-off: the day before)."""
        return (self.local(ms) - self.cutoff).date()

    def hour_of(self, ms: int) -> str:
        """The cinema's wall-clock hour, ``"00"`` to ``"23"`` (the tally's by-hour key)."""
        return f"{self.local(ms).hour:02d}"

    def bounds(self, day: date) -> tuple[int, int]:
        """``[start, end)`` epoch ms of one business day (23 or 25 hours across a DST change)."""
        return self._start(day), self._start(day + timedelta(days=1))

    def _start(self, day: date) -> int:
        minutes = parse_day_starts(self.day_starts)
        wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.tz)
        return int(wall.timestamp() * 1000)  # the offset in force at that wall-clock time

    def month_of(self, ms: int) -> str:
        """``YYYY-MM`` of the business day of an instant (what the settlement groups by)."""
        return self.day_of(ms).strftime("%Y-%m")

    def today(self, now_ms: int) -> date:
        """The business day it is now (``now_ms`` from the caller's clock)."""
        return self.day_of(now_ms)

    def to_json(self) -> dict[str, str]:
        return {"timezone": self.timezone, "day_starts": self.day_starts}


DEFAULT = BusinessDay()


def month_window(month_start_ms: int, month_end_ms: int) -> tuple[int, int]:
    """A UTC query window (epoch ms) that holds every cinema's business month.

    ``month_*_ms`` are the calendar month's bounds in any zone; the caller
    keeps the rows whose :meth:`BusinessDay.month_of` is the month.
    """
    return month_start_ms - MONTH_MARGIN_MS, month_end_ms + MONTH_MARGIN_MS
