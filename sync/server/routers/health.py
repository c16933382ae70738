"""``GET /api/v1/health``: liveness and the server's clock (no auth, no database)."""

from __future__ import annotations

from fastapi import APIRouter

from sync import protocol as P

from ..models import now_ms

VERSION = "0.1.0"

router = APIRouter(prefix=P.API_PREFIX)


@router.get("/health", response_model=P.ServerInfo)
def health() -> P.ServerInfo:
    return P.ServerInfo(version=VERSION, time_ms=now_ms())
