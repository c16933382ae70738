"""Logging in and out, and the language switch.

A failed login is *answered* (not raised) so the failure count that
:func:`sync.office.users.check_login` raised is committed with the request:
that is what makes five wrong passwords lock the account. The message never
says whether the name exists.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sync import webcommon
from sync.office import audit, users
from sync.server.deps import ClientAddr, SessionDep

from .actions import Posted
from .i18n import LANGS
from .web import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    ViewerDep,
    base_of,
    check_csrf,
    cookie_args,
    render,
)

router = APIRouter()


def safe_next(request: Request, target: str) -> str:
    """Only a path inside the console (no open redirect to another site)."""
    return webcommon.safe_next(request, target, "/overview")


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse(f"{base_of(request)}/overview", 303)


def login_form(
    request: Request, *, status: int = 200, error: str = "", name: str = "", next_: str = ""
) -> Response:
    token = secrets.token_urlsafe(24)
    page = render(
        request,
        "login.html",
        status=status,
        error=error,
        name=name,
        csrf=token,
        next=next_ or request.query_params.get("next", ""),
    )
    page.set_cookie(LOGIN_COOKIE, token, max_age=3600, **cookie_args(request))
    return page


@router.get("/login")
def login_page(request: Request) -> Response:
    return login_form(
        request, error="expired_session" if request.query_params.get("expired") else ""
    )


@router.post("/login")
def login(request: Request, session: SessionDep, address: ClientAddr, form: Posted) -> Response:
    check_csrf(request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf", ""))
    username, next_ = form.get("username", ""), form.get("next", "")
    result = users.check_login(
        session,
        username,
        form.get("password", ""),
        form.get("totp", ""),
        address=address,
        admin_totp=bool(request.app.state.admin_totp),
    )
    if result.user is None:
        status = 429 if result.reason == "locked" else 401
        return login_form(request, status=status, error=result.reason, name=username, next_=next_)
    token, _csrf = users.open_session(session, result.user, address)
    audit.record(
        session, actor=result.user.name, action="login", subject=result.user.name, address=address
    )
    response = RedirectResponse(safe_next(request, next_), 303)
    response.set_cookie(SESSION_COOKIE, token, **cookie_args(request))
    response.delete_cookie(LOGIN_COOKIE, path=cookie_args(request)["path"])
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, viewer: ViewerDep, form: Posted) -> Response:
    check_csrf(viewer.csrf, form.get("csrf", ""), viewer)
    users.close_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(f"{base_of(request)}/login", 303)
    response.delete_cookie(SESSION_COOKIE, path=cookie_args(request)["path"])
    return response


@router.get("/lang/{lang}")
def switch_lang(request: Request, lang: str) -> Response:
    """Only a display preference: no CSRF needed, nothing in the database changes."""
    response = RedirectResponse(safe_next(request, request.query_params.get("next", "")), 303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
