"""The member page, served by ``cinepass-server`` under ``/m/`` (issue 14).

A member types the voucher's short code and a second factor, then sees the
voucher's state, validity, films, cinemas (address, phone), the rights the
card prints and the QR to show at the box office, and can report it lost,
which freezes it at once. Server-rendered (Jinja2) with no script at all and
every asset in the package (no CDN), made for a phone first. It is a FastAPI
sub-application so its errors are pages while the API keeps answering JSON;
``cinepass-server --no-member-page`` leaves it out. Who may see what, and why:
:mod:`sync.member.guard`. docs/member-page.md is the contract.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync.webcommon import front_end_app, security_headers

from . import pages
from .pages import HERE

log = logging.getLogger("cinepass.member")
PREFIX = "/m"

#: Sent with every answer: no framing, nothing from elsewhere, no script at all.
SECURITY_HEADERS = security_headers(
    csp=(
        "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    referrer_policy="no-referrer",
)


def create_member_app(sessions: object) -> FastAPI:
    """The member app on the server's sessionmaker (mounted by :func:`mount`)."""
    app = front_end_app(sessions, HERE / "static", SECURITY_HEADERS)
    app.include_router(pages.router)

    def page(request: Request, status: int, key: str) -> Response:
        return pages.render(request, "error.html", status=status, text_key=key)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return page(
            request, exc.status_code, "not_found" if exc.status_code == 404 else "error_text"
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return page(request, 400, "csrf_text")

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.error("member page error", exc_info=exc)
        return page(request, 500, "error_text")

    return app


def mount(api: FastAPI) -> None:
    """Serve the member page under ``/m/`` of the server's app (same sessions).

    A build without the package's templates serves the API alone.
    """
    if not (HERE / "templates" / "base.html").is_file():
        log.warning("member page templates not installed: /m/ is not served")
        return
    api.mount(PREFIX, create_member_app(api.state.sessions))


__all__ = ["PREFIX", "create_member_app", "mount"]
