"""The API's routes, one module per resource, each an ``APIRouter`` under ``/api/v1``.

:func:`sync.server.app.create_app` includes :data:`ROUTERS` in this order
(the order fixes the OpenAPI listing). Routes hold no state: they reach the
database through :mod:`sync.server.deps` and leave every error to the one
mapping in :mod:`sync.server.app`.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import devices, enrol, feeds, health, online, records, refusals

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    enrol.router,
    devices.router,
    records.router,
    feeds.router,
    refusals.router,
    online.router,
)
