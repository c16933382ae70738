"""``POST /api/v1/refusals``: a counter uploads its refusal log (idempotent by refusal id).

The device and its cinema come from the bearer token, never from the body;
what is kept is :mod:`sync.office.refusals`'s business.
"""

from __future__ import annotations

from fastapi import APIRouter

from sync import protocol as P
from sync.office.refusals import store_refusals

from .. import alerts_worker
from ..deps import CurrentDevice, SessionDep
from ..models import now_ms

router = APIRouter(prefix=P.API_PREFIX)


@router.post("/refusals", response_model=P.RefusalAck)
def upload_refusals(
    body: P.RefusalUpload, device: CurrentDevice, session: SessionDep
) -> P.RefusalAck:
    stored, known = store_refusals(session, device.id, device.cinema, body.refusals)
    alerts_worker.after_upload(session, refusals=[(device.id, i.id) for i in body.refusals])
    return P.RefusalAck(stored=stored, known=known, time_ms=now_ms())
