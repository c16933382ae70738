"""The one clock of the kiosk, with a guard against a clock that runs behind.

Everything that needs "now" (validity windows, record times, hold-offs of the
tally) asks a :class:`Clock`, so tests inject a fixed or shifted time in one
place instead of patching ``time``. The guard: a counter PC whose battery died
may boot in 2019 and would then accept expired vouchers. The clock remembers
the newest time it has ever seen (its own readings at redemption, the server's
time on sync, the store's newest record); when ``now`` is before that, it is
``behind`` and the kiosk refuses every scan with ``clock_behind`` until the
clock is right again.

A clock that was once *ahead* leaves a mark in the future (its own records'
times). Once a sync measures the offset to the server within the tolerance,
the server's time is the better reading: :meth:`Clock.agree` lowers the mark
to it, and the store stops counting the records made before (see
``clock_floor_seq`` in :mod:`kiosk.engine.service`), so the false alarm ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def system_ms() -> int:
    """UTC milliseconds since 1970 from the system clock."""
    return time.time_ns() // 1_000_000


class Clock:
    """UTC milliseconds, injectable, remembering the newest time seen.

    ``fixed_ms`` freezes time (tests); ``offset_ms`` shifts the system clock
    (tests, and a kiosk that learned its offset from the server); ``persist``
    is called with the new mark whenever :meth:`observe` moves it forward, so
    the store can keep it across restarts.
    """

    #: readings this far behind the newest seen (ms) still count as fine: NTP
    #: steps and a server a little ahead of us must not raise a false alarm.
    TOLERANCE_MS = 5 * 60 * 1000

    def __init__(
        self,
        *,
        fixed_ms: int | None = None,
        offset_ms: int = 0,
        newest_seen_ms: int = 0,
        persist: Callable[[int], None] | None = None,
        source: Callable[[], int] = system_ms,
    ) -> None:
        self._fixed, self.offset_ms, self._newest = fixed_ms, offset_ms, newest_seen_ms
        self._persist, self._source = persist, source
        self._lock = threading.Lock()

    @classmethod
    def fixed(cls, ms: int) -> Clock:
        return cls(fixed_ms=ms)

    def set(self, ms: int) -> None:
        """Move a fixed clock (tests); makes any clock fixed at ``ms``."""
        self._fixed = ms

    def advance(self, ms: int) -> None:
        if self._fixed is None:
            self.offset_ms += ms
        else:
            self._fixed += ms

    def now_ms(self) -> int:
        base = self._fixed if self._fixed is not None else self._source()
        return base + self.offset_ms

    def attach(self, newest_seen_ms: int, persist: Callable[[int], None] | None) -> None:
        """Load the persisted mark and set where new marks go (done by the service)."""
        with self._lock:
            self._newest = max(self._newest, newest_seen_ms)
            self._persist = persist

    @property
    def newest_seen_ms(self) -> int:
        return self._newest

    def observe(self, ts_ms: int, *, persist: bool = True) -> bool:
        """Record a trusted time reading; True if it moved the newest-seen mark.

        ``persist=False`` is for readings the store already keeps (a record's
        own time), so a redemption does not pay for a second commit.
        """
        with self._lock:
            if ts_ms <= self._newest:
                return False
            self._newest = ts_ms
            hook = self._persist if persist else None
        if hook is not None:
            hook(ts_ms)
        return True

    def agree(self, ts_ms: int) -> bool:
        """A trusted reading that agrees with ``now``: lower the mark to it; True if it moved.

        Only for a reading measured against this clock within the tolerance
        (the sync client's server time): a mark left by a clock that ran
        ahead must not raise alarms for ever. Not persisted here: the caller
        writes it in its own commit.
        """
        with self._lock:
            if ts_ms >= self._newest:
                return False
            self._newest = ts_ms
            return True

    @property
    def behind(self) -> bool:
        """True when now is (beyond the tolerance) before the newest time ever seen."""
        return self.now_ms() + self.TOLERANCE_MS < self._newest

    def behind_by_ms(self) -> int:
        return max(0, self._newest - self.now_ms())
