"""What a sync cycle reports: the status listeners are told, the result, the answer's details.

Kept apart from :mod:`kiosk.syncer` (the engine) so that module stays about
the cycle itself; :mod:`kiosk.syncer` re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sync import protocol as P

from .http import SyncError


class SyncStatus(TypedDict):
    """What :meth:`SyncEngine.status` says and listeners are told (a plain dict at run time)."""

    online: bool
    last_sync: int | None
    pending: int
    conflicts: int
    clock_offset_ms: int | None
    device_revoked: bool
    last_error: str | None
    failures: int


SyncListener = Callable[[SyncStatus], None]


@dataclass
class SyncResult:
    """What one cycle did; ``error`` is None on success."""

    ok: bool
    uploaded: int = 0
    duplicates: int = 0
    pending: int = 0
    revocations: int = 0
    roster: int = 0
    refusals: int = 0
    quarantined: int = 0
    status_updates: int = 0
    clock_offset_ms: int | None = None
    error: str | None = None
    error_message: str | None = None
    revoked: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "uploaded": self.uploaded,
            "duplicates": self.duplicates,
            "pending": self.pending,
            "revocations": self.revocations,
            "roster": self.roster,
            "status_updates": self.status_updates,
            "refusals": self.refusals,
            "quarantined": self.quarantined,
            "clock_offset_ms": self.clock_offset_ms,
            "error": self.error,
            "message": self.error_message,
            "device_revoked": self.revoked,
        }


def bad_answer(message: str) -> SyncError:
    return SyncError("bad_answer", f"the server sent a malformed answer: {message}")


def answer_detail(result: P.RecordResult | P.StatusOut) -> dict[str, Any] | None:
    d: dict[str, Any] = {}
    if result.first is not None:
        d.update(
            first_uuid=result.first.uuid,
            cinema=result.first.cinema,
            device=result.first.device,
            staff=result.first.staff,
            at=result.first.at,
        )
    elif result.duplicate_of:
        d["first_uuid"] = result.duplicate_of
    if result.flags:
        d["flags"] = list(result.flags)
    problem = getattr(result, "problem", None)
    if problem:
        d["problem"] = problem
    conflict = getattr(result, "conflict_with", None)
    if conflict:
        d["conflict_with"] = conflict
    return d or None
