"""The union office's web console, served by ``cinepass-server`` under ``/console/``.

Server-rendered pages (Jinja2, :mod:`.web`) over the office layer
(:mod:`sync.office`), in the same process, database and port as the API;
``cinepass-server --no-console`` leaves it out. It is a FastAPI sub-application
so its errors are *pages* (a 403 page, a login redirect) while the API keeps
answering JSON. Every asset is in the package (``static/``): offices run this
on an intranet without internet. See docs/console.md.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync.errors import CinePassError
from sync.webcommon import front_end_app, security_headers

from . import (
    pages_alerts,
    pages_audit,
    pages_auth,
    pages_batches,
    pages_campaigns,
    pages_cards,
    pages_counters,
    pages_issue,
    pages_overview,
    pages_settlement,
    pages_vouchers,
)
from .i18n import translator
from .web import HERE, Forbidden, LoginRequired, base_of, error_page, lang_of

log = logging.getLogger("cinepass.console")
PREFIX = "/console"
#: ``CINEPASS_ADMIN_TOTP=1`` in the server's environment: every admin must log in with TOTP.
ADMIN_TOTP_ENV = "CINEPASS_ADMIN_TOTP"

#: Sent with every console answer: no framing, scripts and styles only from here.
SECURITY_HEADERS = security_headers(
    csp=(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    referrer_policy="same-origin",
)


def create_console(sessions: object) -> FastAPI:
    """The console app on the server's sessionmaker (mounted by :func:`mount`)."""
    app = front_end_app(sessions, HERE / "static", SECURITY_HEADERS)
    app.state.admin_totp = os.environ.get(ADMIN_TOTP_ENV, "") == "1"
    for module in (
        pages_auth,
        pages_overview,
        pages_vouchers,
        pages_cards,
        pages_issue,
        pages_batches,
        pages_campaigns,
        pages_counters,
        pages_settlement,
        pages_audit,
        pages_alerts,
    ):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        extra = "&expired=1" if exc.expired else ""
        return RedirectResponse(f"{base_of(request)}/login?next={quote(here)}{extra}", 303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        t = translator(lang_of(request))
        return error_page(request, 403, "forbidden", t(exc.text_key), exc.viewer)

    @app.exception_handler(CinePassError)
    async def _refused(request: Request, exc: CinePassError) -> Response:
        return error_page(request, exc.http_status, "refused", exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return error_page(request, 400, "refused", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        t = translator(lang_of(request))
        if exc.status_code == 404:
            return error_page(request, 404, "not_found", t("not_found_text"))
        return error_page(request, exc.status_code, "refused", str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.error("console error", exc_info=exc)
        return error_page(request, 500, "error", translator(lang_of(request))("error_text"))

    return app


def mount(api: FastAPI) -> None:
    """Serve the console under ``/console/`` of the server's app (same sessions).

    A build that left the package's templates out (the kiosk's PyInstaller
    bundle runs the demo's embedded server, which has no use for a console)
    serves the API alone instead of failing to start.
    """
    if not (HERE / "templates" / "base.html").is_file() or not (HERE / "static").is_dir():
        log.warning("console templates not installed: /console/ is not served")
        return
    api.mount(PREFIX, create_console(api.state.sessions))
