"""``POST /api/v1/enrol``: a one-time code and a public key become an enrolled counter.

Three transactions on the request's session, on purpose: the rate check is
read and released first; the enrolment itself is rolled back whole when the
code is wrong; and a wrong, used or expired code is then counted in a
transaction of its own, committed although the request fails, so guessing
stays limited (see :mod:`sync.server.enrolment`).

The answer carries the trusted keys and, for the revocation list and the
roster, either the whole snapshot (what counters before paging ask for) or,
when the counter asks with ``"snapshots": "paged"``, only an empty page with
``more: true``: the counter then pulls the paged snapshot itself
(``GET /feeds/{feed}/snapshot?limit=``, docs/feeds.md), so a million
revocations never make one answer.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from sqlalchemy.orm import Session

from sync import protocol as P
from sync.voucher.keys import PublicKey

from .. import enrolment, feeds
from ..deps import ClientAddr, SessionDep
from ..errors import ServerError
from ..models import now_ms

log = logging.getLogger("cinepass.server")
router = APIRouter(prefix=P.API_PREFIX)

_GUESSES = ("bad_code", "code_used", "code_expired")


def snapshot_pages(session: Session, paged: bool) -> tuple[P.FeedPage, P.FeedPage]:
    """The ``revocations`` and ``roster`` of the answer: whole, or "pull the pages"."""
    if paged:
        at = feeds.head(session)
        first = P.FeedPage(feed="revocation", cursor=at, snapshot=True, more=True, entries=[])
        return first, first.model_copy(update={"feed": "roster"})
    rev, rev_cursor = feeds.revocation_snapshot(session)
    roster, roster_cursor = feeds.roster_snapshot(session)
    return (
        P.FeedPage(feed="revocation", cursor=rev_cursor, snapshot=True, entries=rev),
        P.FeedPage(feed="roster", cursor=roster_cursor, snapshot=True, entries=roster),
    )


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
        revocations, roster = snapshot_pages(session, body.snapshots == "paged")
        session.commit()
    except ServerError as exc:
        session.rollback()
        if exc.reason in _GUESSES:
            enrolment.record_failure(session, client, body.code)
            session.commit()
        raise
    log.info("enrolled device %s for cinema %s", device.id, cinema.code)
    return P.EnrolResponse.model_validate(
        {"device_id": device.id, "token": token, "keys": keys, "time_ms": now_ms()}
        | {"cinema": cinema.code, "cinema_name": cinema.name, "timezone": cinema.timezone}
        | {"day_starts": cinema.day_starts, "revocations": revocations, "roster": roster}
    )
