"""``POST /api/v1/enrol``: a one-time code and a public key become an enrolled counter.

Three transactions on the request's session, on purpose: the rate check is
read and released first; the enrolment itself is rolled back whole when the
code is wrong; and a wrong, used or expired code is then counted in a
transaction of its own, committed although the request fails, so guessing
stays limited (see :mod:`sync.server.enrolment`).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter

from sync import protocol as P
from sync.voucher.keys import PublicKey

from .. import enrolment, feeds
from ..deps import ClientAddr, SessionDep
from ..errors import ServerError
from ..models import now_ms

log = logging.getLogger("cinepass.server")
router = APIRouter(prefix=P.API_PREFIX)

_GUESSES = ("bad_code", "code_used", "code_expired")


@router.post("/enrol", response_model=P.EnrolResponse)
def enrol(body: P.EnrolRequest, session: SessionDep, client: ClientAddr) -> P.EnrolResponse:
    try:
        public_raw = bytes.fromhex(body.public_key)
        PublicKey.from_raw(public_raw)
    except ValueError as exc:
        raise ServerError("bad_key", "public_key is not an Ed25519 key", 422) from exc
    enrolment.check_rate(session, client, body.code)
    session.commit()
    try:
        device, token, cinema = enrolment.enrol(session, body.code, public_raw, body.name)
        keys, _ = feeds.keys_snapshot(session)
        rev, rev_cursor = feeds.revocation_snapshot(session)
        roster, roster_cursor = feeds.roster_snapshot(session)
        session.commit()
    except ServerError as exc:
        session.rollback()
        if exc.reason in _GUESSES:
            enrolment.record_failure(session, client, body.code)
            session.commit()
        raise
    log.info("enrolled device %s for cinema %s", device.id, cinema.code)
    return P.EnrolResponse(
        device_id=device.id,
        cinema=cinema.code,
        cinema_name=cinema.name,
        timezone=cinema.timezone,
        day_starts=cinema.day_starts,
        token=token,
        keys=[P.TrustedKeyOut(**k) for k in keys],
        revocations=P.FeedPage(feed="revocation", cursor=rev_cursor, snapshot=True, entries=rev),
        roster=P.FeedPage(feed="roster", cursor=roster_cursor, snapshot=True, entries=roster),
        time_ms=now_ms(),
    )
