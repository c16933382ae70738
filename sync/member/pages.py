"""The member page's routes: look up, the voucher, its QR, report lost, the language.

A look-up that fails is *answered* (a page, not an exception) so the failure
count :func:`sync.member.guard.look_up` wrote is committed with the request.
Reporting lost is :func:`sync.office.vouchers.freeze` with reason ``lost``,
audited (actor ``member``, the client's address) in the same transaction, so
the counters learn it from their next feed like any office freeze.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sync import cards, webcommon
from sync.office import audit
from sync.office.vouchers import freeze
from sync.server.deps import ClientAddr, SessionDep
from sync.server.models import Voucher

from . import guard
from .i18n import LANGS, translator
from .view import view_of

router = APIRouter()
HERE = Path(__file__).resolve().parent
env = webcommon.templates(HERE / "templates")
#: A form field, as long as any honest one can be.
FormText = Annotated[str, Form(max_length=200)]
SESSION_COOKIE = "cp_member"
FORM_COOKIE = "cp_m_form"
LANG_COOKIE = "cp_m_lang"


base_of = webcommon.base_of


def lang_of(request: Request) -> str:
    """The member's language, from the ``cp_m_lang`` cookie (``zh`` by default)."""
    return webcommon.lang_of(request, LANG_COOKIE)


def cookie_args(request: Request) -> dict[str, Any]:
    """HttpOnly, SameSite=Strict, Secure under HTTPS, only for the member page."""
    return webcommon.cookie_args(request, "strict")


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    lang, base = lang_of(request), base_of(request)
    here = request.url.path
    html = env.get_template(template).render(
        t=translator(lang),
        lang=lang,
        base=base,
        switch_href=webcommon.switch_href(base, lang, here),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def lookup_form(
    request: Request, *, status: int = 200, error: str = "", code: str = ""
) -> Response:
    token = secrets.token_urlsafe(24)
    page = render(request, "lookup.html", status=status, error=error, code=code, csrf=token)
    page.set_cookie(FORM_COOKIE, token, max_age=3600, **cookie_args(request))
    return page


@router.get("/")
def lookup_page(request: Request) -> Response:
    return lookup_form(request, error="session_over" if request.query_params.get("over") else "")


@router.post("/")
def lookup(
    request: Request,
    session: SessionDep,
    address: ClientAddr,
    code: FormText = "",
    factor: FormText = "",
    csrf: FormText = "",
) -> Response:
    if not guard.csrf_ok(request.cookies.get(FORM_COOKIE, ""), csrf):
        return lookup_form(request, status=403, error="csrf_text", code=code)
    try:
        v = guard.look_up(session, code, factor, address)
    except guard.RateLimited:
        return lookup_form(request, status=429, error="rate_limited", code=code)
    if v is None:
        return lookup_form(request, status=401, error="no_match", code=code)
    response = RedirectResponse(f"{base_of(request)}/v", 303)
    response.set_cookie(
        SESSION_COOKIE, guard.open_session(v), max_age=guard.SESSION_S, **cookie_args(request)
    )
    response.delete_cookie(FORM_COOKIE, path=cookie_args(request)["path"])
    return response


def viewed(request: Request, session: Session) -> tuple[Voucher, str] | None:
    """The voucher of the request's session cookie and that cookie, or None."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    v = guard.resume(session, cookie) if cookie else None
    return (v, cookie) if v is not None else None


def start_over(request: Request) -> Response:
    return RedirectResponse(f"{base_of(request)}/?over=1", 303)


@router.get("/v")
def voucher_page(request: Request, session: SessionDep) -> Response:
    found = viewed(request, session)
    if found is None:
        return start_over(request)
    v, cookie = found
    return render(
        request,
        "voucher.html",
        m=view_of(session, v),
        csrf=guard.csrf_of(v, cookie),
        done=request.query_params.get("done", ""),
        error=request.query_params.get("error", ""),
    )


@router.get("/qr.png")
def qr_png(request: Request, session: SessionDep) -> Response:
    """The QR to show at the box office, from the voucher's token (only while usable)."""
    found = viewed(request, session)
    if found is None or not view_of(session, found[0]).shows_qr:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    png = cards.png_bytes(cards.qr_matrix(found[0].token))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/lost")
def report_lost(
    request: Request,
    session: SessionDep,
    address: ClientAddr,
    csrf: FormText = "",
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    found = viewed(request, session)
    if found is None:
        return start_over(request)
    v, cookie = found
    base = base_of(request)
    if not guard.csrf_ok(guard.csrf_of(v, cookie), csrf):
        return RedirectResponse(f"{base}/v?error=csrf_text", 303)
    if confirm != "yes":
        return RedirectResponse(f"{base}/v?error=lost_need_confirm", 303)
    if v.status != "frozen":
        before = {"status": v.status, "freeze_reason": v.freeze_reason}
        freeze(session, v, "lost")
        audit.record(
            session,
            actor="member",
            action="voucher.freeze",
            subject=v.short_code,
            before=before,
            after={
                "status": v.status,
                "freeze_reason": v.freeze_reason,
                "note": "member page: reported lost, pending the office's review and reissue",
            },
            address=address,
        )
    return RedirectResponse(f"{base}/v?done=lost", 303)


@router.post("/leave")
def leave(request: Request, session: SessionDep, csrf: FormText = "") -> Response:
    """End the view now (the cookie would lapse by itself)."""
    found = viewed(request, session)
    if found is not None and not guard.csrf_ok(guard.csrf_of(*found), csrf):
        return RedirectResponse(f"{base_of(request)}/v?error=csrf_text", 303)
    response = RedirectResponse(f"{base_of(request)}/", 303)
    response.delete_cookie(SESSION_COOKIE, path=cookie_args(request)["path"])
    return response


@router.get("/lang/{lang}")
def switch_lang(request: Request, lang: str) -> Response:
    """Only a display preference: nothing in the database changes."""
    base = base_of(request)
    response = RedirectResponse(
        webcommon.safe_next(request, request.query_params.get("next", ""), "/"), 303
    )
    if lang in LANGS:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path=base or "/"
        )
    return response
