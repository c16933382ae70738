"""``GET /api/v1/feeds/{feed}`` (events after a cursor) and ``.../snapshot`` (whole state).

``.../snapshot?limit=N[&after=TOKEN][&format=packed]`` is the same state in
pages (docs/feeds.md): each answer has ``more`` and, but on the last page,
``next`` (the token for the next page); the cursor is the same on every page.
Without ``limit`` or ``after`` the answer is the whole state in one page, as
kiosks before paging ask for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from sync import protocol as P

from .. import feeds
from ..deps import CurrentDevice, SessionDep
from ..errors import ServerError

router = APIRouter(prefix=P.API_PREFIX)

Snapshot = Callable[[Session], tuple[list[dict[str, Any]], int]]
_SNAPSHOTS: dict[str, Snapshot] = {
    "revocation": feeds.revocation_snapshot,
    "roster": feeds.roster_snapshot,
    "keys": feeds.keys_snapshot,
}


@router.get("/feeds/{feed}", response_model=P.FeedPage)
def feed(
    feed: str,
    device: CurrentDevice,
    session: SessionDep,
    since: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=feeds.MAX_PAGE)] = 1000,
) -> JSONResponse:
    if feed not in P.FEED_NAMES:
        raise ServerError("unknown_feed", f"feeds are {', '.join(P.FEED_NAMES)}", 404)
    entries, cursor, more = feeds.read(
        session, feed, since, limit, device=device.id if feed == "status" else None
    )
    return JSONResponse(
        {"feed": feed, "cursor": cursor, "more": more, "snapshot": False, "entries": entries}
    )


@router.get("/feeds/{feed}/snapshot", response_model=P.FeedPage)
def snapshot(
    feed: str,
    device: CurrentDevice,
    session: SessionDep,
    limit: Annotated[int | None, Query(ge=1, le=feeds.MAX_SNAPSHOT_PAGE)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    format: Annotated[Literal["entries", "packed"], Query()] = "entries",
) -> JSONResponse:
    if feed == P.PEERS_FEED:  # the caller's own cinema only (docs/lan-peers.md)
        entries, cursor = feeds.peers_snapshot(session, device.cinema)
        return JSONResponse(
            {"feed": feed, "cursor": cursor, "more": False, "snapshot": True, "entries": entries}
        )
    fn = _SNAPSHOTS.get(feed)
    if fn is None:
        raise ServerError("unknown_feed", f"snapshots exist for {', '.join(_SNAPSHOTS)}", 404)
    if feed in feeds.SECTIONS and (limit is not None or after is not None):
        return _snapshot_page(session, feed, after, limit or feeds.MAX_PAGE, format)
    entries, cursor = fn(session)
    return JSONResponse(
        {"feed": feed, "cursor": cursor, "more": False, "snapshot": True, "entries": entries}
    )


def _snapshot_page(
    session: Session, feed: str, after: str | None, limit: int, form: str
) -> JSONResponse:
    rows, cursor, nxt = feeds.snapshot_page(session, feed, after, limit)  # or 422 bad_page_token
    body: dict[str, Any] = {
        "feed": feed,
        "cursor": cursor,
        "more": nxt is not None,
        "snapshot": True,
        "next": nxt,
    }
    if form == "packed":
        body["entries"] = []
        body["packed"] = feeds.packed(feed, rows)
    else:
        body["entries"] = feeds.snapshot_entries(feed, rows)
    return JSONResponse(body)
