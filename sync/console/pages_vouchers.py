"""券 Vouchers: search, one voucher's whole trace, freeze and unfreeze.

Freezing and unfreezing are :func:`sync.office.vouchers.freeze` /
``unfreeze`` (which announce the change to every counter through the feed),
audited in the same transaction; only ``admin`` and ``operator`` may, and
only with the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from sync.office import audit
from sync.office.vouchers import freeze, unfreeze
from sync.server.deps import SessionDep
from sync.server.models import FREEZE_REASONS, Voucher

from . import queries
from .web import CHANGE_VOUCHERS, READ_VOUCHERS, ViewerDep, base_of, check_csrf, render, require

router = APIRouter()
NOTE_MAX = 500


@router.get("/vouchers")
def search_page(request: Request, session: SessionDep, viewer: ViewerDep, q: str = "") -> Response:
    require(viewer, READ_VOUCHERS)
    found, exact = queries.search(session, q[:200])
    if exact is not None:
        return RedirectResponse(f"{base_of(request)}/vouchers/{exact.cti}", 303)
    rows = [(v, queries.state_of(session, v)) for v in found]
    return render(request, "vouchers.html", viewer, active="vouchers", q=q, rows=rows)


def load(session: SessionDep, cti: str) -> Voucher:
    v = session.get(Voucher, cti.lower()) if len(cti) <= 20 else None
    if v is None:
        raise HTTPException(404, "no such voucher")
    return v


@router.get("/vouchers/{cti}")
def voucher_page(request: Request, session: SessionDep, viewer: ViewerDep, cti: str) -> Response:
    require(viewer, READ_VOUCHERS)
    v = load(session, cti)
    return render(
        request,
        "voucher.html",
        viewer,
        active="vouchers",
        v=v,
        state=queries.state_of(session, v),
        events=queries.trace(session, v),
        reasons=FREEZE_REASONS,
        may_change=viewer.may(CHANGE_VOUCHERS),
        done=request.query_params.get("done", ""),
    )


@router.post("/vouchers/{cti}/freeze")
def freeze_voucher(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    cti: str,
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(viewer.csrf, csrf, viewer)
    require(viewer, CHANGE_VOUCHERS)
    v = load(session, cti)
    before = {"status": v.status, "freeze_reason": v.freeze_reason}
    freeze(session, v, reason)
    audit.record(
        session,
        actor=viewer.name,
        action="voucher.freeze",
        subject=v.short_code,
        before=before,
        after={"status": v.status, "freeze_reason": reason, "note": note.strip()[:NOTE_MAX]},
        address=viewer.address,
    )
    return RedirectResponse(f"{base_of(request)}/vouchers/{v.cti}?done=frozen", 303)


@router.post("/vouchers/{cti}/unfreeze")
def unfreeze_voucher(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    cti: str,
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(viewer.csrf, csrf, viewer)
    require(viewer, CHANGE_VOUCHERS)
    v = load(session, cti)
    before = {"status": v.status, "freeze_reason": v.freeze_reason}
    unfreeze(session, v)
    audit.record(
        session,
        actor=viewer.name,
        action="voucher.unfreeze",
        subject=v.short_code,
        before=before,
        after={"status": v.status, "freeze_reason": None, "note": note.strip()[:NOTE_MAX]},
        address=viewer.address,
    )
    return RedirectResponse(f"{base_of(request)}/vouchers/{v.cti}?done=unfrozen", 303)
