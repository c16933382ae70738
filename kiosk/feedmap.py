"""The server's feed entries (:mod:`sync.protocol`) as the kiosk store's entries.

One mapping, used by enrolment (the first snapshot) and by the sync engine
(every delta), so the two can never read the feed differently.
"""

from __future__ import annotations

from sync import protocol as P

from .engine.store import RevocationEntry, RosterEntry


def revocation_entry(e: P.RevocationOut) -> RevocationEntry:
    return RevocationEntry(
        cti=bytes.fromhex(e.cti),
        action=e.action,
        reason=e.reason,
        at_ms=e.at,
        cinema=e.cinema,
        device=e.device,
        staff=e.staff,
    )


def roster_entry(e: P.RosterOut) -> RosterEntry:
    return RosterEntry(cti=bytes.fromhex(e.cti), token=e.token, removed=e.removed)
