"""``POST /api/v1/device/hello``: a counter reports its health, learns the clock and business day."""

from __future__ import annotations

from fastapi import APIRouter

from sync import protocol as P
from sync.office.cinemas import business_day

from .. import enrolment
from ..deps import CurrentDevice, SessionDep
from ..models import now_ms

router = APIRouter(prefix=P.API_PREFIX)


@router.post("/device/hello", response_model=P.DeviceInfo)
def hello(body: P.DeviceHello, device: CurrentDevice, session: SessionDep) -> P.DeviceInfo:
    enrolment.note_contact(session, device.id, body.health)
    day = business_day(session, device.cinema)  # the counter's tally groups by it
    return P.DeviceInfo(
        device_id=device.id,
        cinema=device.cinema,
        status="active",
        time_ms=now_ms(),
        **day.to_json(),
    )
