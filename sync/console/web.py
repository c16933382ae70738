"""The console's plumbing: templates, the logged-in viewer, roles, CSRF, error pages.

Every page module (``pages_*.py``) uses only what is here: :data:`ViewerDep`
(the logged-in person, or a redirect to the login page), :func:`require`
(a role check that answers a 403 *page*, never an empty one), :func:`check_csrf`
(every POST form carries the session's token; a missing or wrong one is a 403
and nothing changes) and :func:`render`. Why the cookie is what it is:

* ``cp_session`` holds a random token; the database holds only its SHA-256
  (:mod:`sync.office.users`), so a copy of the database opens no session.
  HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it),
  Secure when the server speaks HTTPS, path ``/console``.
* Sessions end after 30 minutes without a request (checked in the database,
  so it holds across server processes).
* The login form has no session yet: its CSRF token is a double-submit
  cookie (``cp_login``) that must equal the form's hidden field.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from sync import webcommon
from sync.errors import CinePassError
from sync.office import users
from sync.office.reports import local_time
from sync.server.deps import SessionDep, client_addr

from .i18n import translator, translator_or

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "cp_session"
LOGIN_COOKIE = "cp_login"
LANG_COOKIE = "cp_lang"

#: Which roles may open what (the nav shows only what the viewer may open).
READ_VOUCHERS = ("admin", "operator", "auditor")
CHANGE_VOUCHERS = ("admin", "operator")
READ_AUDIT = ("admin", "auditor")
EVERYONE = users.ROLES

NAV = (
    ("overview", "nav_overview", EVERYONE),
    ("vouchers", "nav_vouchers", READ_VOUCHERS),
    ("issue", "nav_issue", READ_VOUCHERS),
    ("campaigns", "nav_campaigns", READ_VOUCHERS),
    ("counters", "nav_counters", READ_VOUCHERS),
    ("settlement", "nav_settlement", EVERYONE),
    ("audit", "nav_audit", READ_AUDIT),
    ("alerts", "nav_alerts", EVERYONE),
)

env = webcommon.templates(HERE / "templates")
env.filters["when"] = lambda ms: local_time(ms) if ms else ""


class LoginRequired(CinePassError):  # noqa: N818 (control flow: answered by a redirect)
    """Not logged in (or idle too long): answered by a redirect to the login page."""

    http_status = 401

    def __init__(self, expired: bool = False) -> None:
        super().__init__("login_required", "请先登录 / log in first")
        self.expired = expired


class Forbidden(CinePassError):  # noqa: N818
    """A page or form this viewer may not use: answered by the 403 page."""

    http_status = 403

    def __init__(self, text_key: str = "forbidden_text", viewer: Viewer | None = None) -> None:
        super().__init__("forbidden", "无权访问 / forbidden")
        self.text_key = text_key
        self.viewer = viewer


@dataclass(frozen=True)
class Viewer:
    """The person behind the request."""

    name: str
    role: str
    cinema: str | None
    csrf: str
    address: str

    def may(self, roles: tuple[str, ...]) -> bool:
        return self.role in roles


def lang_of(request: Request) -> str:
    """The viewer's language, from the ``cp_lang`` cookie (``zh`` by default)."""
    return webcommon.lang_of(request, LANG_COOKIE)


#: Where the console is mounted (``/console``), for every link and form.
base_of = webcommon.base_of


def current_viewer(request: Request, session: SessionDep) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE, "")
    found = users.resume_session(session, token) if token else None
    if found is None:
        if token:
            session.commit()  # the idle session's row is deleted for good
        raise LoginRequired(expired=bool(token))
    user, row = found
    return Viewer(user.name, user.role, user.cinema, row.csrf, client_addr(request))


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def require(viewer: Viewer, roles: tuple[str, ...]) -> None:
    """403 page unless the viewer's role is one of ``roles``."""
    if viewer.role not in roles:
        raise Forbidden(viewer=viewer)


def check_csrf(expected: str, given: str, viewer: Viewer | None = None) -> None:
    """403 page unless the form's token equals the session's (constant-time)."""
    if not given or not expected or not secrets.compare_digest(expected, given):
        raise Forbidden("csrf_text", viewer)


def cookie_args(request: Request) -> dict[str, Any]:
    """HttpOnly, SameSite=Lax, Secure under HTTPS, scoped to the console."""
    return webcommon.cookie_args(request, "lax")


def render(
    request: Request,
    template: str,
    viewer: Viewer | None = None,
    *,
    status: int = 200,
    active: str = "",
    **context: Any,
) -> HTMLResponse:
    """One page in the viewer's language, with the nav the viewer may use."""
    lang = lang_of(request)
    base = base_of(request)
    nav = [
        {"href": f"{base}/{page}", "label": label, "on": page == active}
        for page, label, roles in NAV
        if viewer is not None and viewer.role in roles
    ]
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = env.get_template(template).render(
        t=translator(lang),
        t_or=translator_or(lang),
        lang=lang,
        base=base,
        viewer=viewer,
        nav=nav,
        switch_href=webcommon.switch_href(base, lang, here),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def error_page(
    request: Request, status: int, title_key: str, text: str, viewer: Viewer | None = None
) -> Response:
    return render(
        request, "error.html", viewer, status=status, title_key=title_key, text=text, code=status
    )
