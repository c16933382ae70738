"""``POST /api/v1/records``: upload a batch of signed redemption records.

Each record is answered on its own: one that fails its device signature is
``rejected`` (quarantined) while the rest of the batch is stored. The
signatures are checked (:func:`sync.server.ingest.prepare`) with no
transaction open, so concurrent uploads only queue for the short store step
(:func:`sync.server.ingest.store`), which commits before the answer leaves.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sync import protocol as P

from .. import alerts_worker, enrolment, ingest, metrics
from ..deps import CurrentDevice, SessionDep
from ..models import now_ms

router = APIRouter(prefix=P.API_PREFIX)


@router.post("/records", response_model=P.UploadResponse)
def upload(body: P.UploadRequest, device: CurrentDevice, session: SessionDep) -> JSONResponse:
    keys = ingest.trusted_keys(session)
    session.commit()

    def known(ctis: Sequence[str]) -> dict[str, tuple[str, ingest.VoucherFacts]]:
        try:
            return ingest.issued_tokens(session, ctis)
        finally:
            session.commit()  # a short read: no lock held while issuer signatures are checked

    prepared = ingest.prepare(body.records, device.id, device.public_key, keys, known=known)
    if body.health is not None:  # first: its clock offset corrects this batch's times
        enrolment.note_contact(session, device.id, body.health)
    results = ingest.store(session, device.id, prepared)
    alerts_worker.after_upload(session, records=[r["uuid"] for r in results], device=device.id)
    metrics.ingested(results)
    # built by ingest from typed columns: answer directly (the response model
    # stays in the OpenAPI schema; re-validating 1,000 results costs more than it checks)
    return JSONResponse({"results": results, "time_ms": now_ms()})
