"""``GET /api/v1/health`` (liveness, the clock) and ``GET /api/v1/ready`` (fit to serve).

``health`` touches no database: it says the process answers. ``ready`` is
what a load balancer or systemd watchdog asks before sending traffic: the
database answers *and* its schema is the one this code was written for (the
Alembic head). A process started against a database one upgrade behind, or
whose database went away, says 503 with the reason instead of failing the
requests that follow.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from sync import protocol as P

from ..db import current_revision, head_revision
from ..models import now_ms

VERSION = "0.1.0"

router = APIRouter(prefix=P.API_PREFIX)


@router.get("/health", response_model=P.ServerInfo)
def health() -> P.ServerInfo:
    return P.ServerInfo(version=VERSION, time_ms=now_ms())


@router.get("/ready")
def ready(request: Request) -> JSONResponse:
    """200 ``{"ready": true, "revision", "head"}``, else 503 ``{"ready": false, "reason"}``."""
    head = head_revision()
    try:
        with request.app.state.sessions() as s:
            revision = current_revision(s)
    except SQLAlchemyError as exc:
        return _not_ready(
            "database_unavailable",
            f"数据库无响应 / the database does not answer ({exc.__class__.__name__})",
            head,
        )
    if revision != head:
        return _not_ready(
            "schema_not_current",
            f"数据库结构不是最新 / the database schema is at {revision or 'none'}, this server "
            f"needs {head}: run `cinepass-server --db URL --upgrade-only`",
            head,
            revision,
        )
    body = {"ready": True, "revision": revision, "head": head, "version": VERSION}
    return JSONResponse(body | {"time_ms": now_ms()})


def _not_ready(reason: str, message: str, head: str, revision: str | None = None) -> JSONResponse:
    body = {"ready": False, "reason": reason, "message": message, "head": head}
    return JSONResponse(body | {"revision": revision}, status_code=503)
