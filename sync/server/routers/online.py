"""``/api/v1/online/``: the partners' API (check, hold, confirm, release, cancel).

Every request is signed (:data:`CurrentPartner`, over
:func:`sync.office.partners.authenticate`); what each endpoint does is
:mod:`sync.office.online`. docs/online-api.md is the contract.

Errors here are ``{"error": CODE, "message": TEXT}`` (the shape issue 14
gives integrators, and :meth:`sync.errors.CinePassError.as_dict`), not the
``{"error": {"code", "message"}}`` of the counters' API: :class:`OnlineRoute`
maps every error raised while a request of this router is handled, so the
shape holds for refusals, bad JSON, invalid fields and database conflicts
alike. Only what never reaches a route (an unknown path, a body over the
size limit) keeps the server-wide shape.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError, OperationalError

from sync import protocol as P
from sync.errors import CinePassError
from sync.office import online
from sync.office.partners import OnlineError, PartnerIdentity, authenticate

from ..deps import SessionDep

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


async def raw_body(request: Request) -> bytes:
    """The body's bytes as signed (FastAPI keeps them for the model too)."""
    return await request.body()


def current_partner(
    request: Request,
    session: SessionDep,
    body: Annotated[bytes, Depends(raw_body)],
    x_cinepass_partner: Annotated[str | None, Header()] = None,
    x_cinepass_timestamp: Annotated[str | None, Header()] = None,
    x_cinepass_signature: Annotated[str | None, Header()] = None,
) -> PartnerIdentity:
    """The partner whose signature the request carries (spent here: a replay is refused)."""
    return authenticate(
        session,
        partner_id=x_cinepass_partner,
        timestamp=x_cinepass_timestamp,
        sig=x_cinepass_signature,
        method=request.method,
        path=signed_path(request),
        body=body,
    )


CurrentPartner = Annotated[PartnerIdentity, Depends(current_partner)]


def idempotency_key(
    idempotency_key: Annotated[str | None, Header()] = None,
) -> str | None:
    if idempotency_key is not None and not KEY_RE.match(idempotency_key):
        raise OnlineError(
            "bad_idempotency_key", "Idempotency-Key: 1 to 128 printable ASCII characters", 400
        )
    return idempotency_key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


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


def _fingerprint(request: Request, body: bytes) -> str:
    return online.fingerprint(request.method, signed_path(request), body)


@router.post("/check")
def check(body: CheckIn, partner: CurrentPartner, session: SessionDep) -> JSONResponse:
    return JSONResponse(online.check(session, partner, body.code, body.cinema, body.format))


def _sweep(_partner: CurrentPartner, session: SessionDep) -> None:
    """End lapsed holds in their own transaction, so a refusal later cannot undo that.

    After authentication (it depends on it), so an unsigned request writes nothing.
    """
    online.sweep(session)
    session.commit()


Swept = Depends(_sweep)


@router.post("/holds", dependencies=[Swept])
def hold(
    request: Request,
    body: HoldIn,
    partner: CurrentPartner,
    session: SessionDep,
    key: IdempotencyKey,
    raw: Annotated[bytes, Depends(raw_body)],
) -> JSONResponse:
    if key is None:
        raise OnlineError("missing_idempotency_key", "POST holds needs an Idempotency-Key", 400)
    answer = online.once(
        session,
        partner,
        key,
        _fingerprint(request, raw),
        lambda: online.hold(
            session,
            partner,
            body.code,
            body.cinema,
            body.format,
            body.order_ref,
            body.hold_seconds,
        ),
    )
    return JSONResponse(answer)


@router.post("/holds/{hold_id}/confirm", dependencies=[Swept])
def confirm(
    request: Request,
    hold_id: str,
    partner: CurrentPartner,
    session: SessionDep,
    key: IdempotencyKey,
    raw: Annotated[bytes, Depends(raw_body)],
) -> JSONResponse:
    print_ = _fingerprint(request, raw)
    op = lambda: online.confirm(session, partner, hold_id)  # noqa: E731
    return JSONResponse(online.once(session, partner, key, print_, op))


@router.post("/holds/{hold_id}/release", dependencies=[Swept])
def release(
    request: Request,
    hold_id: str,
    partner: CurrentPartner,
    session: SessionDep,
    key: IdempotencyKey,
    raw: Annotated[bytes, Depends(raw_body)],
) -> JSONResponse:
    print_ = _fingerprint(request, raw)
    op = lambda: online.release(session, partner, hold_id)  # noqa: E731
    return JSONResponse(online.once(session, partner, key, print_, op))


@router.post("/redemptions/{record_id}/cancel", dependencies=[Swept])
def cancel(
    request: Request,
    record_id: str,
    body: CancelIn,
    partner: CurrentPartner,
    session: SessionDep,
    key: IdempotencyKey,
    raw: Annotated[bytes, Depends(raw_body)],
) -> JSONResponse:
    print_ = _fingerprint(request, raw)
    op = lambda: online.cancel(session, partner, record_id, body.reason)  # noqa: E731
    return JSONResponse(online.once(session, partner, key, print_, op))
