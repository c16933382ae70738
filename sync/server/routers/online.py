"""``/api/v1/online/``: the partners' API (check, hold, confirm, release, cancel).

Every request is signed (:func:`sync.office.partners.authenticate`); what each
endpoint does is :mod:`sync.office.online`. docs/online-api.md is the contract.

One worker-thread hop per request: the routes are ``async`` and read the
headers and body in the event loop, then :func:`serve` does the request's
whole database work in one sync call (open the session, authenticate, sweep,
validate the body, operate, remember the idempotent answer, commit). With
FastAPI's sync dependencies each of those was a hop of its own, and every hop
waited for the event loop while the request held the database's one write
transaction (SQLite) or the feed-head lock (PostgreSQL). The order of the
answers is kept: a bad ``Idempotency-Key`` or unparsable JSON first, then the
signature, then the body's fields (docs/online-api.md, "Speed").

Errors here are ``{"error": CODE, "message": TEXT}`` (the shape issue 14
gives integrators, and :meth:`sync.errors.CinePassError.as_dict`), not the
``{"error": {"code", "message"}}`` of the counters' API: :class:`OnlineRoute`
maps every error raised while a request of this router is handled, so the
shape holds for refusals, bad JSON, invalid fields and database conflicts
alike. Only what never reaches a route (an unknown path, a body over the
size limit) keeps the server-wide shape.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from sync import protocol as P
from sync.errors import CinePassError
from sync.office import online, online_once
from sync.office.partners import OnlineError, PartnerIdentity, authenticate, spend

from .. import alerts_worker
from ..db import session_scope

log = logging.getLogger("cinepass.server.online")
KEY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")


def flat(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


class OnlineRoute(APIRoute):
    """A route whose every error leaves as ``{"error", "message"}`` (see module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except CinePassError as exc:
                return flat(exc.http_status, exc.reason, exc.message)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                if first.get("type") == "json_invalid":
                    return flat(400, "bad_json", "the request body is not valid JSON")
                text = first.get("type") in ("bad_text", "string_unicode")
                code = "bad_text" if text else "invalid_request"
                where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
                return flat(422, code, f"{where}: {first.get('msg', 'invalid')}"[:300])
            except IntegrityError:
                log.warning("online: integrity error (concurrent write)")
                return flat(409, "conflict", "a concurrent change got in first; retry")
            except OperationalError:
                log.error("online: database error")
                return flat(
                    503, "database_unavailable", "the database is busy or down; retry later"
                )

        return guarded


router = APIRouter(prefix=f"{P.API_PREFIX}/online", route_class=OnlineRoute)


def signed_path(request: Request) -> str:
    """The path as the client sent it (percent-escapes kept): what it signed."""
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1").split("?", 1)[0] if raw else request.url.path


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` if well-formed (checked before the signature)."""
    key = request.headers.get("idempotency-key")
    if key is not None and not KEY_RE.match(key):
        raise OnlineError(
            "bad_idempotency_key", "Idempotency-Key: 1 to 128 printable ASCII characters", 400
        )
    return key


def _header(name: str, text: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": text,
        "schema": {"type": "string"},
    }


#: the headers every route reads itself (in :func:`incoming`): declared for the OpenAPI
#: page only, since FastAPI's own header parameters cost a share of each request
SIGNED_HEADERS = [
    _header("X-CinePass-Partner", "the partner id"),
    _header("X-CinePass-Timestamp", "UNIX seconds, within 300 s of the server's clock"),
    _header("X-CinePass-Signature", "hex HMAC-SHA256 (docs/online-api.md)"),
]
KEY_HEADER = _header("Idempotency-Key", "1 to 128 printable ASCII characters")


class _Body(BaseModel):
    """A request body: no unknown field, and no text a database could choke on."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: object) -> object:
        if isinstance(value, str) and any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
            raise PydanticCustomError("bad_text", "control character or lone surrogate")
        return value


class CheckIn(_Body):
    code: str = Field(min_length=1, max_length=2048)
    cinema: str = Field(min_length=1, max_length=64)
    format: str = Field(min_length=1, max_length=8)


class HoldIn(CheckIn):
    order_ref: str = Field(min_length=1, max_length=128)
    hold_seconds: int | None = Field(default=None, ge=1, le=online.HOLD_MAX_S)


class CancelIn(_Body):
    reason: str = Field(min_length=1, max_length=200)


class NoBody(BaseModel):
    """confirm and release take no body (whatever is sent is signed, and ignored)."""


B = TypeVar("B", bound=BaseModel)
_ABSENT = object()


def documented(model: type[BaseModel] | None, *, key: bool = True) -> dict[str, Any]:
    """The OpenAPI of a route that reads its headers and body itself."""
    out: dict[str, Any] = {"parameters": SIGNED_HEADERS + ([KEY_HEADER] if key else [])}
    if model is not None:
        schema = model.model_json_schema()
        content = {"application/json": {"schema": schema}}
        out["requestBody"] = {"required": True, "content": content}
    return out


@dataclass(frozen=True)
class Incoming:
    """What the event loop reads of a request before its one worker-thread hop."""

    maker: sessionmaker[Session]
    method: str
    path: str
    raw: bytes
    data: Any  # the parsed JSON, the bytes of a body that is not JSON, or _ABSENT
    partner: str | None
    timestamp: str | None
    signature: str | None
    key: str | None = None
    needs_key: bool = False  # POST holds: no key is refused (its signature spent)


def is_json(content_type: str) -> bool:
    """FastAPI's test (``email.message``'s reading of the header, without building one):
    ``application/json`` or ``application/*+json``, parameters aside."""
    mime = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = mime.partition("/")
    return (
        mime.count("/") == 1 and main == "application" and (sub == "json" or sub.endswith("+json"))
    )


async def incoming(request: Request, *, parse: bool = True) -> Incoming:
    """The request's parts; unparsable JSON is ``bad_json`` here, as FastAPI's own parser says.

    Which bodies are JSON follows FastAPI (a JSON content type; none at all is
    not JSON), so the answers are those of a declared body parameter. Without
    ``parse`` (a route that takes no body) the body is only signed.
    """
    raw = await request.body()
    data: Any = _ABSENT
    if raw and parse:
        data = raw
        if is_json(request.headers.get("content-type", "")):
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise RequestValidationError(
                    [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}]
                ) from exc
    h = request.headers
    return Incoming(
        request.app.state.sessions,
        request.method,
        signed_path(request),
        raw,
        data,
        h.get("x-cinepass-partner"),
        h.get("x-cinepass-timestamp"),
        h.get("x-cinepass-signature"),
    )


def validated(model: type[B], data: Any) -> B:
    """The body as ``model``; else the validation error FastAPI would have raised."""
    if model is NoBody:
        return model()
    if data is _ABSENT:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


#: what a route does with the session, the partner, the body and (hold, confirm: the
#: routes that claim their key themselves, :func:`sync.office.online_once.kept`) the key
Operation = Callable[[Session, PartnerIdentity, B, online.Keep | None], dict[str, Any]]


def serve(
    req: Incoming, model: type[B], operation: Operation[B], *, writes: bool, claims: bool = False
) -> dict[str, Any]:
    """A request's whole database work, in one worker thread and one transaction.

    Authenticate (the signature is recorded in the request's transaction,
    committed with its answer: one commit per request), validate the body,
    operate (writes: at most once per Idempotency-Key,
    :func:`sync.office.online_once.kept` or ``once``), end lapsed holds
    (writes; at most once a second, :func:`sync.office.online.sweep_due`),
    commit. The sweep comes last: it takes the feed-head lock, and hold and
    confirm do their work before that lock (on PostgreSQL a sweep first would
    hold it while a hold waits on another's row, which waits for the lock:
    a deadlock). A refusal rolls back, then
    spends the signature on its own: a refused request must not be
    replayable either, it might succeed later. An invalid body rolls back and
    spends nothing (the same bytes are refused the same way again).
    """
    with session_scope(req.maker) as session:
        partner = authenticate(
            session,
            partner_id=req.partner,
            timestamp=req.timestamp,
            sig=req.signature,
            method=req.method,
            path=req.path,
            body=req.raw,
            commit=False,
        )
        body = validated(model, req.data)
        mark = online_once.fingerprint(req.method, req.path, req.raw)
        try:
            if req.needs_key and req.key is None:
                raise OnlineError(
                    "missing_idempotency_key", "POST holds needs an Idempotency-Key", 400
                )
            if writes and claims:
                answer = online_once.kept(
                    session, partner, req.key, mark, lambda k: operation(session, partner, body, k)
                )
            elif writes:
                answer = online_once.once(
                    session, partner, req.key, mark, lambda: operation(session, partner, body, None)
                )
            else:
                answer = operation(session, partner, body, None)
            if writes:
                online.sweep_due(session)
        except CinePassError as exc:
            session.rollback()
            prior = (
                online_once.answered_meanwhile(session, partner, req.key, mark, exc.reason)
                if writes
                else None
            )
            try:
                spend(session, partner)
                session.commit()
            except IntegrityError:  # a replay of it got in meanwhile: spent all the same
                session.rollback()
            if prior is not None:
                return prior
            raise
        session.commit()
        return answer


async def run(
    request: Request,
    model: type[B],
    operation: Operation[B],
    *,
    writes: bool = True,
    needs_key: bool = False,
    claims: bool = False,
) -> JSONResponse:
    """Read the request (bad JSON, then a malformed Idempotency-Key, are refused here,
    in that order as before), then :func:`serve` it in one worker thread."""
    req = await incoming(request, parse=model is not NoBody)
    if writes:
        req = dataclasses.replace(req, key=idempotency_key(request), needs_key=needs_key)
    return JSONResponse(
        await run_in_threadpool(serve, req, model, operation, writes=writes, claims=claims)
    )


@router.post("/check", openapi_extra=documented(CheckIn, key=False))
async def check(request: Request) -> JSONResponse:
    def op(s: Session, p: PartnerIdentity, b: CheckIn, _k: online.Keep | None) -> dict[str, Any]:
        return online.check(s, p, b.code, b.cinema, b.format)

    return await run(request, CheckIn, op, writes=False)


@router.post("/holds", openapi_extra=documented(HoldIn))
async def hold(request: Request) -> JSONResponse:
    def op(s: Session, p: PartnerIdentity, b: HoldIn, k: online.Keep | None) -> dict[str, Any]:
        return online.hold(s, p, b.code, b.cinema, b.format, b.order_ref, b.hold_seconds, k)

    return await run(request, HoldIn, op, needs_key=True, claims=True)


@router.post("/holds/{hold_id}/confirm", openapi_extra=documented(None))
async def confirm(request: Request, hold_id: str) -> JSONResponse:
    def op(s: Session, p: PartnerIdentity, _b: NoBody, k: online.Keep | None) -> dict[str, Any]:
        return online.confirm(s, p, hold_id, watched(s), k)

    return await run(request, NoBody, op, claims=True)


@router.post("/holds/{hold_id}/release", openapi_extra=documented(None))
async def release(request: Request, hold_id: str) -> JSONResponse:
    def op(s: Session, p: PartnerIdentity, _b: NoBody, _k: online.Keep | None) -> dict[str, Any]:
        return online.release(s, p, hold_id)

    return await run(request, NoBody, op)


@router.post("/redemptions/{record_id}/cancel", openapi_extra=documented(CancelIn))
async def cancel(request: Request, record_id: str) -> JSONResponse:
    def op(s: Session, p: PartnerIdentity, b: CancelIn, _k: online.Keep | None) -> dict[str, Any]:
        return online.cancel(s, p, record_id, b.reason, watched(s))

    return await run(request, CancelIn, op)


def watched(session: Session) -> online.OnLine:
    """An online line goes to the monitor like a counter's upload (issue 13: alerts)."""

    def note(record: str, device: str) -> None:
        alerts_worker.after_upload(session, records=[record], device=device)

    return note
