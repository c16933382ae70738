"""The server's feed entries (:mod:`sync.protocol`) as the kiosk store's entries.

One mapping, used by enrolment (the first snapshot) and by the sync engine
(every snapshot and delta), so the two can never read the feed differently.
"""

from __future__ import annotations

from typing import Any

from sync import protocol as P

from .engine.facts import RevocationEntry, RosterEntry
from .engine.feeds import Feed


def revocation_entry(e: P.RevocationOut) -> RevocationEntry:
    """The feed's entry field by field, in :class:`RevocationEntry`'s order (``at`` is ms)."""
    return RevocationEntry(
        bytes.fromhex(e.cti), e.action, e.reason, e.at, e.cinema, e.device, e.staff
    )


def roster_entry(e: P.RosterOut) -> RosterEntry:
    return RosterEntry(cti=bytes.fromhex(e.cti), token=e.token, removed=e.removed)


def feed_entries(
    feed: Feed, raw: list[dict[str, Any]]
) -> list[RevocationEntry] | list[RosterEntry]:
    """Validate and map one page of ``feed``; raises pydantic's ``ValidationError``."""
    if feed == "revocation":
        return [revocation_entry(P.RevocationOut.model_validate(item)) for item in raw]
    return [roster_entry(P.RosterOut.model_validate(item)) for item in raw]
