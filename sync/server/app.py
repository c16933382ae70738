"""The central server's HTTP API (FastAPI), mounted under ``/api/v1/``.

Every error leaves as ``{"error": {"code", "message"}}`` with a fitting
status; nothing a client sends can produce a 500 (a last-resort handler turns
any surprise into a logged ``internal`` error, and the fuzz tests make sure
it is never reached). Request bodies are read by :class:`BodyLimit` before
FastAPI sees them, so an oversized body is refused with 413 without being
parsed, however it is framed (Content-Length or chunked).

The app holds no state of its own besides the sessionmaker on ``app.state``:
rate limits, cursors and chain heads are all rows, so any number of server
processes can share one PostgreSQL. The routes live in
:mod:`sync.server.routers` (one module per resource) and reach the database
through :mod:`sync.server.deps`; this module assembles them and maps every
error to an answer in one place (:func:`install_error_handlers`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync import protocol as P
from sync.errors import CinePassError

from . import alerts_worker, metrics
from .db import POOL_OVERFLOW, POOL_SIZE, make_sessionmaker
from .routers import ROUTERS
from .routers.health import VERSION

log = logging.getLogger("cinepass.server")
__all__ = ["VERSION", "BodyLimit", "create_app", "install_error_handlers"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: buffer the request body up to ``limit`` bytes, else answer 413."""

    def __init__(self, app: ASGIApp, limit: int = P.MAX_BODY) -> None:
        self.app = app
        self.limit = limit
        self.fastapi: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await _send_error(send, 413, "too_large", f"body over {self.limit} bytes")
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _send_error(send, 413, "too_large", f"body over {self.limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Admission:
    """ASGI middleware: at most ``limit`` requests inside the app at once; the rest wait here.

    Why: a route's sync dependencies and body run in FastAPI's thread pool in
    separate hops, and the request's session holds its database connection
    across them. With more requests in flight than the connection pool holds,
    the threads can all be waiting for a connection while the connections
    belong to requests waiting for a thread: nothing moves until the pool's
    30 s timeout (seen under bench/load.py). Admitting fewer requests than
    there are connections (and threads) makes that impossible, and a waiting
    request costs a coroutine, not a thread.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._gate: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._gate is None:  # first request: inside the server's event loop
            self._gate = asyncio.Semaphore(self.limit)
            # every admitted request may need two threads at once (its body, and FastAPI's
            # response check while the dependency still holds the connection): never short
            threads = anyio.to_thread.current_default_thread_limiter()
            threads.total_tokens = max(threads.total_tokens, 4 * self.limit)
        async with self._gate:
            await self.app(scope, receive, send)


#: requests inside the app at once: the pool's connections less three for the alerts
#: worker's threads and a /metrics or /ready read
ADMITTED = POOL_SIZE + POOL_OVERFLOW - 3


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one error shape of the API (``P.ErrorResponse``)."""
    return {"error": {"code": code, "message": message}}


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    payload = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Every error the API can answer, mapped here and nowhere else.

    A :class:`~sync.errors.CinePassError` (the server's, a record's, a
    voucher's) carries its own status, code and words. Validation and routing
    errors, and the three database failures a client can cause or should
    retry, get fixed codes. Anything else is a bug: logged with its traceback
    and answered 500 ``internal`` without details.
    """

    @app.exception_handler(CinePassError)
    async def _refused(_r: Request, exc: CinePassError) -> JSONResponse:
        return _error(exc.http_status, exc.reason, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        if first.get("type") == "json_invalid":
            return _error(400, "bad_json", "the request body is not valid JSON")
        if any(e.get("type") == "bad_text" for e in errs):
            return _error(422, "bad_text", "text must be valid Unicode (a lone surrogate was sent)")
        msg = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
        return _error(422, "invalid_request", msg[:300])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's own body parser gave up (nested too deep...)
            return _error(400, "bad_json", "the request body is not valid JSON")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(DataError)
    async def _bad_data(_r: Request, exc: DataError) -> JSONResponse:
        return _error(422, "bad_data", "a value does not fit the database (too long or invalid)")

    @app.exception_handler(IntegrityError)
    async def _conflict(_r: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error (concurrent write?): %s", exc.__class__.__name__)
        return _error(409, "conflict", "a concurrent change got in first; retry")

    @app.exception_handler(OperationalError)
    async def _db_down(_r: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc.__class__.__name__)
        return _error(503, "database_unavailable", "the database is busy or down; retry later")

    @app.exception_handler(Exception)
    async def _internal(_r: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return _error(500, "internal", "unexpected server error (logged)")


def create_app(
    engine: Engine,
    *,
    trusted_proxies: Sequence[str] = (),
    console: bool = True,
    metrics_token: str | None = None,
    member_page: bool = True,
) -> BodyLimit:
    """Build the ASGI app for one database (the server, tests and bench all use this).

    ``trusted_proxies`` are the CIDRs whose ``X-Forwarded-For`` is believed
    (see :func:`sync.server.deps.client_addr`); none by default. ``console``:
    also serve the union office's web console under ``/console/``. ``member_page``:
    also serve the members' page under ``/m/`` (docs/member-page.md).
    ``metrics_token``: the bearer token ``/metrics`` asks for (None: open).
    """
    app = FastAPI(
        title="CinePass central server",
        version=VERSION,
        openapi_url=f"{P.API_PREFIX}/openapi.json",
        docs_url=f"{P.API_PREFIX}/docs",
        redoc_url=None,
        responses={
            400: {"model": P.ErrorResponse},
            401: {"model": P.ErrorResponse},
            403: {"model": P.ErrorResponse},
            413: {"model": P.ErrorResponse},
            422: {"model": P.ErrorResponse},
            429: {"model": P.ErrorResponse},
        },
    )
    app.state.sessions = make_sessionmaker(engine)
    app.state.trusted_proxies = tuple(
        ipaddress.ip_network(c, strict=False) for c in trusted_proxies
    )
    app.state.alerts = alerts_worker.install(app, engine)  # issue 13: evaluates after uploads
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    if console:
        from sync.console import mount  # the console sits above the server: imported late

        mount(app)
    if member_page:
        from sync import member  # a front end too: imported late like the console

        member.mount(app)
    metrics.install(app, metrics_token)  # issue 16: GET /metrics (docs/server.md)
    wrapped = BodyLimit(metrics.RequestMetrics(Admission(app, ADMITTED)))
    wrapped.fastapi = app
    return wrapped
