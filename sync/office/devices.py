"""Counters: one-time enrolment codes, revocation, the list with health."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.server import enrolment, feeds
from sync.server.models import Device, now_ms

from .errors import OfficeError
from .reports import iso_utc


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


def list_devices(session: Session) -> list[dict[str, Any]]:
    """Every counter with its last contact and the health it last reported."""
    out = []
    for d in session.scalars(select(Device).order_by(Device.cinema, Device.id)):
        h = d.health or {}
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
                "last_error": h.get("last_error", ""),
                "chain_seq": d.chain_seq,
                "health": h,
            }
        )
    return out
