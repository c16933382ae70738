"""活动 Campaigns: each campaign's issued vs redeemed (utilisation, by format), what
expires within 30 days, and registering a new one.

The figures are :func:`sync.office.campaigns.campaign_utilisation` (the same as
``cinepass-admin campaign list``); registering is
:func:`sync.office.campaigns.add_campaign`, audited ``campaign.add``. ``admin``
and ``operator`` add, ``auditor`` reads; a cinema account gets the 403 page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sync.office.campaigns import add_campaign, campaign_utilisation
from sync.server.deps import SessionDep

from . import web
from .actions import Posted, allowed, number

router = APIRouter()
FIELDS = ("code", "name", "start", "end")


@router.get("/campaigns")
def campaigns_page(request: Request, session: SessionDep, viewer: web.ViewerDep) -> Response:
    web.require(viewer, web.READ_VOUCHERS)
    rows = campaign_utilisation(session)
    formats = sorted({f for r in rows for f in r["by_format"]} | {"2D", "3D"})
    return web.render(
        request,
        "campaigns.html",
        viewer,
        active="campaigns",
        rows=rows,
        formats=formats,
        may_change=viewer.may(web.CHANGE_VOUCHERS),
        done=request.query_params.get("done", ""),
    )


@router.post("/campaigns")
def new_campaign(
    request: Request, session: SessionDep, viewer: web.ViewerDep, form: Posted
) -> Response:
    allowed(viewer, form, web.CHANGE_VOUCHERS)
    fields: dict[str, object] = {k: form.get(k, "") for k in FIELDS}
    planned = form.get("planned", "").strip()
    fields["planned"] = number(planned) if planned else None
    add_campaign(session, fields, actor=viewer.name, address=viewer.address)
    return RedirectResponse(f"{web.base_of(request)}/campaigns?done=campaign", 303)
