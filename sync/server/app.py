"""The central server's HTTP API (FastAPI), mounted under ``/api/v1/``.

Every error leaves as ``{"error": {"code", "message"}}`` with a fitting
status; nothing a client sends can produce a 500 (a last-resort handler turns
any surprise into a logged ``internal`` error, and the fuzz tests make sure
it is never reached). Request bodies are read by :class:`BodyLimit` before
FastAPI sees them, so an oversized body is refused with 413 without being
parsed, however it is framed (Content-Length or chunked).

The app holds no state of its own besides the engine: rate limits, cursors
and chain heads are all rows, so any number of server processes can share
one PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync import protocol as P
from sync.voucher.keys import PublicKey

from . import enrolment, feeds, ingest
from .db import make_sessionmaker, session_scope
from .errors import ServerError
from .models import now_ms

log = logging.getLogger("cinepass.server")
VERSION = "0.1.0"

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


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    import json

    payload = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_app(engine: Engine) -> BodyLimit:
    """Build the ASGI app for one database (the server, tests and bench all use this)."""
    maker: sessionmaker[Session] = make_sessionmaker(engine)
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

    @app.exception_handler(ServerError)
    async def _server_error(_r: Request, exc: ServerError) -> JSONResponse:
        return _error(exc.http_status, exc.reason, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        if first.get("type") == "json_invalid":
            return _error(400, "bad_json", "the request body is not valid JSON")
        msg = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
        return _error(422, "invalid_request", msg[:300])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
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
        log.exception("unexpected error")
        return _error(500, "internal", "unexpected server error (logged)")

    def client_addr(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def current_device(
        authorization: Annotated[str | None, Header()] = None,
    ) -> tuple[str, str, bytes]:
        with session_scope(maker) as s:
            d = enrolment.authenticate(s, authorization)
            return d.id, d.cinema, bytes(d.public_raw)

    # (not an Annotated alias: with postponed annotations FastAPI resolves names
    # in module globals, and this dependency is local to the app)
    device_dep = Depends(current_device)

    @app.get(f"{P.API_PREFIX}/health", response_model=P.ServerInfo)
    def health() -> P.ServerInfo:
        return P.ServerInfo(version=VERSION, time_ms=now_ms())

    @app.post(f"{P.API_PREFIX}/enrol", response_model=P.EnrolResponse)
    def enrol(body: P.EnrolRequest, request: Request) -> P.EnrolResponse:
        client = client_addr(request)
        try:
            public_raw = bytes.fromhex(body.public_key)
            PublicKey.from_raw(public_raw)
        except ValueError as exc:
            raise ServerError("bad_key", "public_key is not an Ed25519 key", 422) from exc
        with session_scope(maker) as s:
            enrolment.check_rate(s, client)
        try:
            with session_scope(maker) as s:
                device, token, cinema = enrolment.enrol(s, body.code, public_raw, body.name)
                device_id, cinema_code, cinema_name = device.id, cinema.code, cinema.name
                keys, _ = feeds.keys_snapshot(s)
                rev, rev_cursor = feeds.revocation_snapshot(s)
                roster, roster_cursor = feeds.roster_snapshot(s)
        except ServerError as exc:
            if exc.reason in ("bad_code", "code_used", "code_expired"):
                with session_scope(maker) as s:
                    enrolment.record_failure(s, client)
            raise
        log.info("enrolled device %s for cinema %s", device_id, cinema_code)
        return P.EnrolResponse(
            device_id=device_id,
            cinema=cinema_code,
            cinema_name=cinema_name,
            token=token,
            keys=[P.TrustedKeyOut(**k) for k in keys],
            revocations=P.FeedPage(
                feed="revocation", cursor=rev_cursor, snapshot=True, entries=rev
            ),
            roster=P.FeedPage(feed="roster", cursor=roster_cursor, snapshot=True, entries=roster),
            time_ms=now_ms(),
        )

    @app.post(f"{P.API_PREFIX}/device/hello", response_model=P.DeviceInfo)
    def hello(body: P.DeviceHello, dev: tuple[str, str, bytes] = device_dep) -> P.DeviceInfo:
        device_id, cinema, _ = dev
        with session_scope(maker) as s:
            _touch(s, device_id, body.health)
        return P.DeviceInfo(device_id=device_id, cinema=cinema, status="active", time_ms=now_ms())

    @app.post(f"{P.API_PREFIX}/records", response_model=P.UploadResponse)
    def upload(body: P.UploadRequest, dev: tuple[str, str, bytes] = device_dep) -> JSONResponse:
        device_id, _cinema, public_raw = dev
        with session_scope(maker) as s:
            keys = ingest.trusted_keys(s)

        def known(ctis: Sequence[str]) -> dict[str, tuple[str, int]]:
            with session_scope(maker) as s:
                return ingest.issued_tokens(s, ctis)

        prepared = ingest.prepare(
            body.records, device_id, PublicKey.from_raw(public_raw), keys, known=known
        )
        with session_scope(maker) as s:
            results = ingest.store(s, device_id, prepared)
            if body.health is not None:
                _touch(s, device_id, body.health)
        # built by ingest from typed columns: answer directly (the response model
        # stays in the OpenAPI schema; re-validating 1,000 results costs more than it checks)
        return JSONResponse({"results": results, "time_ms": now_ms()})

    @app.get(f"{P.API_PREFIX}/feeds/{{feed}}", response_model=P.FeedPage)
    def feed(
        feed: str,
        dev: tuple[str, str, bytes] = device_dep,
        since: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=feeds.MAX_PAGE)] = 1000,
    ) -> JSONResponse:
        if feed not in P.FEED_NAMES:
            raise ServerError("unknown_feed", f"feeds are {', '.join(P.FEED_NAMES)}", 404)
        with session_scope(maker) as s:
            entries, cursor, more = feeds.read(
                s, feed, since, limit, device=dev[0] if feed == "status" else None
            )
        return JSONResponse(
            {"feed": feed, "cursor": cursor, "more": more, "snapshot": False, "entries": entries}
        )

    @app.get(f"{P.API_PREFIX}/feeds/{{feed}}/snapshot", response_model=P.FeedPage)
    def snapshot(feed: str, dev: tuple[str, str, bytes] = device_dep) -> JSONResponse:
        snapshots = {
            "revocation": feeds.revocation_snapshot,
            "roster": feeds.roster_snapshot,
            "keys": feeds.keys_snapshot,
        }
        fn = snapshots.get(feed)
        if fn is None:
            raise ServerError("unknown_feed", f"snapshots exist for {', '.join(snapshots)}", 404)
        with session_scope(maker) as s:
            entries, cursor = fn(s)
        return JSONResponse(
            {"feed": feed, "cursor": cursor, "more": False, "snapshot": True, "entries": entries}
        )

    wrapped = BodyLimit(app)
    wrapped.fastapi = app
    return wrapped


def _touch(s: Session, device_id: str, health: P.Health) -> None:
    from .models import Device

    d = s.get(Device, device_id)
    if d is not None:
        d.last_contact = now_ms()
        d.health = health.model_dump()
