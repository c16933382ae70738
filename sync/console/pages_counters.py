"""影院与柜台 Cinemas and counters: the list with health, enrolment codes, revocation.

Everything here is :mod:`sync.office.cinemas` / :mod:`sync.office.devices`,
the same functions as ``cinepass-admin cinema add``, ``device code`` and
``device revoke``, each audited in its own transaction. ``admin`` and
``operator`` act, ``auditor`` reads; a cinema account gets the 403 page. An
enrolment code is shown once, large, for IT to type at the counter; the audit
log names the cinema, never the code.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from sync.office import audit
from sync.office.cinemas import add_cinema
from sync.office.devices import device_code, list_devices, revoke_device
from sync.server.deps import SessionDep
from sync.server.models import Cinema

from .web import CHANGE_VOUCHERS, READ_VOUCHERS, ViewerDep, base_of, check_csrf, render, require

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
def new_code(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    cinema: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(viewer.csrf, csrf, viewer)
    require(viewer, CHANGE_VOUCHERS)
    code = device_code(session, cinema)
    audit.record(
        session, actor=viewer.name, action="device.code", subject=cinema, address=viewer.address
    )
    server = f"{request.url.scheme}://{request.url.netloc}"  # what the counter enrols against
    return render(
        request, "code.html", viewer, active="counters", cinema=cinema, code=code, server=server
    )


@router.post("/counters/{device_id}/revoke")
def revoke(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    device_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(viewer.csrf, csrf, viewer)
    require(viewer, CHANGE_VOUCHERS)
    device = revoke_device(session, device_id)
    audit.record(
        session,
        actor=viewer.name,
        action="device.revoke",
        subject=device.id,
        before={"status": "active", "cinema": device.cinema},
        after={"status": device.status, "cinema": device.cinema},
        address=viewer.address,
    )
    return RedirectResponse(f"{base_of(request)}/counters?done=revoked", 303)


@router.post("/counters/cinema")
def new_cinema(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(viewer.csrf, csrf, viewer)
    require(viewer, CHANGE_VOUCHERS)
    cinema = add_cinema(session, code, name)
    audit.record(
        session,
        actor=viewer.name,
        action="cinema.add",
        subject=cinema.code,
        after={"code": cinema.code, "name": cinema.name},
        address=viewer.address,
    )
    return RedirectResponse(f"{base_of(request)}/counters?done=cinema", 303)
