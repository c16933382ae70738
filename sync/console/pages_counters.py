"""影院与柜台 Cinemas and counters: the list with health, enrolment codes, revocation.

Everything here is :mod:`sync.office.cinemas` / :mod:`sync.office.devices`,
the same functions as ``cinepass-admin cinema add``, ``device code`` and
``device revoke``, each audited in its own transaction. ``admin`` and
``operator`` act, ``auditor`` reads; a cinema account gets the 403 page. An
enrolment code is shown once, large, for IT to type at the counter; the audit
log names the cinema, never the code.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from sync.office.cinemas import add_cinema
from sync.office.devices import device_code, list_devices, revoke_device
from sync.server.deps import SessionDep
from sync.server.models import Cinema

from .actions import Posted, allowed, audited
from .web import CHANGE_VOUCHERS, READ_VOUCHERS, ViewerDep, base_of, render, require

router = APIRouter()


@router.get("/counters")
def counters_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    require(viewer, READ_VOUCHERS)
    devices = list_devices(session)
    cinemas = [
        {
            "code": c.code,
            "name": c.name,
            "counters": sum(
                1 for d in devices if d["cinema"] == c.code and d["status"] == "active"
            ),
        }
        for c in session.scalars(select(Cinema).order_by(Cinema.code))
    ]
    return render(
        request,
        "counters.html",
        viewer,
        active="counters",
        cinemas=cinemas,
        devices=devices,
        may_change=viewer.may(CHANGE_VOUCHERS),
        done=request.query_params.get("done", ""),
    )


@router.post("/counters/code")
def new_code(request: Request, session: SessionDep, viewer: ViewerDep, form: Posted) -> Response:
    allowed(viewer, form, CHANGE_VOUCHERS)
    cinema = form.get("cinema", "")
    code = device_code(session, cinema)
    audited(session, viewer, "device.code", cinema)  # the cinema, never the code
    server = f"{request.url.scheme}://{request.url.netloc}"  # what the counter enrols against
    return render(
        request, "code.html", viewer, active="counters", cinema=cinema, code=code, server=server
    )


@router.post("/counters/{device_id}/revoke")
def revoke(
    request: Request, session: SessionDep, viewer: ViewerDep, device_id: str, form: Posted
) -> Response:
    allowed(viewer, form, CHANGE_VOUCHERS)
    device = revoke_device(session, device_id)
    before = {"status": "active", "cinema": device.cinema}
    after = {"status": device.status, "cinema": device.cinema}
    audited(session, viewer, "device.revoke", device.id, before=before, after=after)
    return RedirectResponse(f"{base_of(request)}/counters?done=revoked", 303)


@router.post("/counters/cinema")
def new_cinema(request: Request, session: SessionDep, viewer: ViewerDep, form: Posted) -> Response:
    allowed(viewer, form, CHANGE_VOUCHERS)
    cinema = add_cinema(session, form.get("code", ""), form.get("name", ""))
    after = {"code": cinema.code, "name": cinema.name}
    audited(session, viewer, "cinema.add", cinema.code, after=after)
    return RedirectResponse(f"{base_of(request)}/counters?done=cinema", 303)
