"""总览 Overview: today's redemptions, live, and each campaign's utilisation.

The page embeds the live part once; ``static/console.js`` then fetches
``/overview/live`` (the same template fragment, rendered by the server) every
2 seconds and swaps it in, so there is one rendering path and no JSON-to-HTML
code in the browser. A ``cinema`` account sees only its own cinema.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sync.office.campaigns import campaign_utilisation
from sync.server.deps import SessionDep

from . import queries
from .web import READ_VOUCHERS, ViewerDep, render

router = APIRouter()


def data(session: SessionDep, viewer: ViewerDep) -> dict[str, object]:
    return queries.overview(session, viewer.cinema if viewer.role == "cinema" else None)


@router.get("/overview")
def overview_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    # issued vs redeemed per campaign (the office's view: a cinema account sees its own tally only);
    # on the page, not in the 2-second live part: it changes with issuing, not with each scan
    campaigns = campaign_utilisation(session) if viewer.role in READ_VOUCHERS else []
    return render(
        request,
        "overview.html",
        viewer,
        active="overview",
        o=data(session, viewer),
        campaigns=campaigns,
    )


@router.get("/overview/live")
def overview_live(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return render(request, "overview_live.html", viewer, o=data(session, viewer))
