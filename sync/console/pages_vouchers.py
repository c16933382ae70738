"""券 Vouchers: search, one voucher's whole trace, freeze and unfreeze.

Freezing and unfreezing are :func:`sync.office.vouchers.freeze` /
``unfreeze`` (which announce the change to every counter through the feed),
audited in the same transaction; only ``admin`` and ``operator`` may, and
only with the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from sync.office import audit
from sync.office.vouchers import freeze, reissue, unfreeze
from sync.server.deps import SessionDep
from sync.server.models import FREEZE_REASONS, Voucher

from . import queries
from .web import (
    CHANGE_VOUCHERS,
    READ_VOUCHERS,
    Viewer,
    ViewerDep,
    base_of,
    check_csrf,
    render,
    require,
)

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


def load(session: Session, cti: str) -> Voucher:
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


def change(
    request: Request,
    session: Session,
    viewer: Viewer,
    cti: str,
    csrf: str,
    note: str,
    action: str,
    apply: Callable[[Voucher], Voucher | None],
) -> Response:
    """Check the form, apply one office change and audit it (before/after) in one transaction.

    ``apply`` may return another voucher (the replacement of a reissue): the
    answer then goes to that voucher's page.
    """
    check_csrf(viewer.csrf, csrf, viewer)
    require(viewer, CHANGE_VOUCHERS)
    v = load(session, cti)
    before = {"status": v.status, "freeze_reason": v.freeze_reason}
    target = apply(v) or v
    audit.record(
        session,
        actor=viewer.name,
        action=f"voucher.{action}",
        subject=v.short_code,
        before=before,
        after={
            "status": v.status,
            "freeze_reason": v.freeze_reason,
            "note": note.strip()[:NOTE_MAX],
            **({"replaced_by": target.short_code} if target is not v else {}),
        },
        address=viewer.address,
    )
    return RedirectResponse(f"{base_of(request)}/vouchers/{target.cti}?done={action}", 303)


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
    return change(
        request, session, viewer, cti, csrf, note, "freeze", lambda v: freeze(session, v, reason)
    )


@router.post("/vouchers/{cti}/reissue")
def reissue_voucher(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    cti: str,
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Freeze (replaced) and issue a new card to the same member; show the new voucher."""
    return change(
        request, session, viewer, cti, csrf, note, "reissue", lambda v: reissue(session, v)
    )


@router.post("/vouchers/{cti}/unfreeze")
def unfreeze_voucher(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    cti: str,
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    return change(
        request, session, viewer, cti, csrf, note, "unfreeze", lambda v: unfreeze(session, v)
    )
