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
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from sync import protocol as P
from sync.errors import CinePassError
from sync.office import online, online_once
from sync.office.partners import OnlineError, PartnerIdentity, authenticate, spend

from .. import alerts_worker
from ..deps import SessionDep
from ..models import Redemption

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
    """The partner whose signature the request carries (spent here: a replay is refused).

    The signature is recorded in the request's transaction, committed with
    its answer (one commit per request); a refusal records it on its own
    after the rollback (:func:`answer`).
    """
    identity = authenticate(
        session,
        partner_id=x_cinepass_partner,
        timestamp=x_cinepass_timestamp,
        sig=x_cinepass_signature,
        method=request.method,
        path=signed_path(request),
        body=body,
        commit=False,
    )
    return identity


CurrentPartner = Annotated[PartnerIdentity, Depends(current_partner)]


async def idempotency_key(  # async: a pure check, no worker thread needed
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


def answer(
    session: Session, partner: PartnerIdentity, operation: Callable[[], dict[str, Any]]
) -> JSONResponse:
    """The operation's answer; a refusal rolls back, then spends the signature on its own.

    (A refused request must not be replayable either: it might succeed later.)
    """
    try:
        return JSONResponse(operation())
    except CinePassError:
        session.rollback()
        try:
            spend(session, partner)
            session.commit()
        except IntegrityError:  # a replay of it got in meanwhile: spent all the same
            session.rollback()
        raise


@router.post("/check")
def check(body: CheckIn, partner: CurrentPartner, session: SessionDep) -> JSONResponse:
    b = body
    return answer(
        session, partner, lambda: online.check(session, partner, b.code, b.cinema, b.format)
    )


@dataclass(frozen=True)
class Write:
    """What a writing endpoint works with: the session, the partner, its key and fingerprint."""

    session: Session
    partner: PartnerIdentity
    key: str | None
    fingerprint: str

    def once(self, operation: Callable[[], dict[str, Any]]) -> JSONResponse:
        """Run ``operation`` at most once per Idempotency-Key (:func:`sync.office.online_once.once`)."""
        return answer(
            self.session,
            self.partner,
            lambda: online_once.once(
                self.session, self.partner, self.key, self.fingerprint, operation
            ),
        )


def writing(
    request: Request,
    key: IdempotencyKey,
    partner: CurrentPartner,
    session: SessionDep,
    raw: Annotated[bytes, Depends(raw_body)],
) -> Write:
    """Authenticate, then end lapsed holds in the request's transaction.

    After authentication (it depends on it), so an unsigned request writes
    nothing. A refusal rolls the sweep back with the rest: the next write
    sweeps again, and counters stop refusing a lapsed hold on their own.
    """
    online.sweep(session)
    return Write(
        session, partner, key, online_once.fingerprint(request.method, signed_path(request), raw)
    )


WriteDep = Annotated[Write, Depends(writing)]


@router.post("/holds")
def hold(body: HoldIn, w: WriteDep) -> JSONResponse:
    b = body

    def run() -> dict[str, Any]:
        if w.key is None:  # refused inside the answer, so its signature is spent too
            raise OnlineError("missing_idempotency_key", "POST holds needs an Idempotency-Key", 400)
        return online.hold(
            w.session, w.partner, b.code, b.cinema, b.format, b.order_ref, b.hold_seconds
        )

    return w.once(run)


@router.post("/holds/{hold_id}/confirm")
def confirm(hold_id: str, w: WriteDep) -> JSONResponse:
    return w.once(lambda: online.confirm(w.session, w.partner, hold_id, _watched(w)))


@router.post("/holds/{hold_id}/release")
def release(hold_id: str, w: WriteDep) -> JSONResponse:
    return w.once(lambda: online.release(w.session, w.partner, hold_id))


@router.post("/redemptions/{record_id}/cancel")
def cancel(record_id: str, body: CancelIn, w: WriteDep) -> JSONResponse:
    return w.once(lambda: online.cancel(w.session, w.partner, record_id, body.reason, _watched(w)))


def _watched(w: Write) -> online.OnLine:
    """An online line goes to the monitor like a counter's upload (issue 13: alerts)."""

    def note(line: Redemption) -> None:
        alerts_worker.after_upload(w.session, records=[line.uuid], device=line.device)

    return note
