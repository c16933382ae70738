"""券 Vouchers: search, one voucher's whole trace, freeze and unfreeze.

Freezing and unfreezing are :func:`sync.office.vouchers.freeze` /
``unfreeze`` (which announce the change to every counter through the feed),
audited in the same transaction; only ``admin`` and ``operator`` may, and
only with the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from sync.office.vouchers import freeze, reissue, unfreeze
from sync.server.deps import SessionDep
from sync.server.models import FREEZE_REASONS, Voucher

from . import queries
from .actions import Posted, allowed, audited
from .web import CHANGE_VOUCHERS, READ_VOUCHERS, ViewerDep, base_of, render, require

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


#: The changes a voucher's page posts: ``/vouchers/{cti}/<action>`` -> the office call
#: (the session, the voucher, the form); a reissue returns the replacement.
CHANGES: dict[str, Callable[[Session, Voucher, dict[str, str]], Voucher | None]] = {
    "freeze": lambda s, v, form: freeze(s, v, form.get("reason", "")),
    "unfreeze": lambda s, v, form: unfreeze(s, v),
    "reissue": lambda s, v, form: reissue(s, v),  # freeze (replaced), a new card for the member
}


@router.post("/vouchers/{cti}/{action}")
def change(
    request: Request, session: SessionDep, viewer: ViewerDep, cti: str, action: str, form: Posted
) -> Response:
    """Check the form, apply one office change and audit it (before/after) in one transaction.

    A reissue's answer goes to the replacement's page (download its card there).
    """
    allowed(viewer, form, CHANGE_VOUCHERS)
    apply = CHANGES.get(action)
    if apply is None:
        raise HTTPException(404, "no such action")
    v = load(session, cti)
    before = {"status": v.status, "freeze_reason": v.freeze_reason}
    target = apply(session, v, form) or v
    after = {"status": v.status, "freeze_reason": v.freeze_reason}
    after["note"] = form.get("note", "").strip()[:NOTE_MAX]
    if target is not v:
        after["replaced_by"] = target.short_code
    audited(session, viewer, f"voucher.{action}", v.short_code, before=before, after=after)
    return RedirectResponse(f"{base_of(request)}/vouchers/{target.cti}?done={action}", 303)
