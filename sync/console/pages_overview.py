"""总览 Overview: today's redemptions, live.

The page embeds the live part once; ``static/console.js`` then fetches
``/overview/live`` (the same template fragment, rendered by the server) every
2 seconds and swaps it in, so there is one rendering path and no JSON-to-HTML
code in the browser. A ``cinema`` account sees only its own cinema.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sync.server.deps import SessionDep

from . import queries
from .web import ViewerDep, render

router = APIRouter()


def data(session: SessionDep, viewer: ViewerDep) -> dict[str, object]:
    return queries.overview(session, viewer.cinema if viewer.role == "cinema" else None)


@router.get("/overview")
def overview_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return render(request, "overview.html", viewer, active="overview", o=data(session, viewer))


@router.get("/overview/live")
def overview_live(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return render(request, "overview_live.html", viewer, o=data(session, viewer))
