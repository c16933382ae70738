"""Counters: one-time enrolment codes, revocation, the list with health and trouble.

The list says per counter what the server found wrong with its uploads, not
only what the counter says of itself: ``quarantined`` (records refused on
their own: bad signature, wrong device...), ``chain_gaps`` / ``chain_forks``
(lines whose chain link is broken), ``review`` (lines held for the union),
and ``last_error``: the newest quarantine reason when there is one, else the
error the counter last reported. Every text is made printable
(:func:`sync.office.text.clean`): a reader never crashes on what a counter sent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.server import enrolment, feeds
from sync.server.models import Device, Quarantine, Redemption, now_ms

from .errors import OfficeError
from .reports import iso_utc
from .text import clean


def device_code(session: Session, cinema: str) -> str:
    """A one-time enrolment code for a counter of ``cinema`` (valid 24 hours)."""
    return enrolment.create_code(session, cinema)


def revoke_device(session: Session, device_id: str) -> Device:
    """Cut a counter off: it can no longer upload or download."""
    device = session.get(Device, device_id)
    if device is None:
        raise OfficeError(
            "unknown_device", f"no device {device_id!r} (see 'cinepass-admin devices')"
        )
    if device.status == "revoked":
        raise OfficeError("already_revoked", f"device {device_id} is already revoked")
    feeds.lock_head(session)
    device.status = "revoked"
    device.revoked_at = now_ms()
    return device


def _counts(session: Session, *where: Any) -> dict[str, int]:
    query = select(Redemption.device, func.count()).where(*where).group_by(Redemption.device)
    return {dev: int(n) for dev, n in session.execute(query)}


def _quarantine(session: Session) -> tuple[dict[str, int], dict[str, str]]:
    """device -> records in quarantine, and its newest quarantine reason."""
    counts: dict[str, int] = {}
    last: dict[str, str] = {}
    query = select(Quarantine.device, Quarantine.problem, Quarantine.message)
    for dev, problem, message in session.execute(query.order_by(Quarantine.last_at)):
        counts[dev] = counts.get(dev, 0) + 1
        last[dev] = f"{problem}: {message}"
    return counts, last


def list_devices(session: Session) -> list[dict[str, Any]]:
    """Every counter with its last contact, the health it last reported and its trouble."""
    gaps = _counts(session, Redemption.chain_gap.is_(True))
    forks = _counts(session, Redemption.chain_fork.is_(True))
    review = _counts(session, Redemption.status == "review")
    held, last_problem = _quarantine(session)
    out = []
    for d in session.scalars(select(Device).order_by(Device.cinema, Device.id)):
        h = clean(d.health or {})
        out.append(
            {
                "id": d.id,
                "cinema": d.cinema,
                "name": d.name,
                "status": d.status,
                "enrolled_at": iso_utc(d.enrolled_at),
                "last_contact": iso_utc(d.last_contact) if d.last_contact else None,
                "version": h.get("version", ""),
                "pending": h.get("pending"),
                "clock_offset_ms": h.get("clock_offset_ms"),
                "last_error": last_problem.get(d.id) or h.get("last_error", ""),
                "chain_seq": d.chain_seq,
                "health": h,
                "quarantined": held.get(d.id, 0),
                "chain_gaps": gaps.get(d.id, 0),
                "chain_forks": forks.get(d.id, 0),
                "review": review.get(d.id, 0),
                "reported_error": h.get("last_error", ""),
            }
        )
    return clean(out)
