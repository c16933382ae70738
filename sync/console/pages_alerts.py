"""告警 Alerts: the live list of the monitoring's alerts, each alert with its evidence.

The list (``/alerts``) embeds its live part once; ``static/console.js`` fetches
``/alerts/live`` with the same filters every 2 seconds and swaps it in (the
overview's mechanism: one rendering path). Filters: status (open / acked /
resolved), rule, cinema. ``/alerts/ID`` shows the rule's numbers and every
evidence record, records linked to their voucher's page. Acknowledge and
resolve take a note and go through :func:`sync.office.alerts.ack` /
:func:`~sync.office.alerts.resolve` (audited there, with the viewer's address):
``admin`` and ``operator`` only; an ``auditor`` reads; a ``cinema`` account
sees its own cinema's alerts only (another cinema's alert is "no such alert").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from sync.office import alerts, alerts_view
from sync.office.alert_rules import RULES
from sync.office.alerts_models import STATUSES, Alert
from sync.server.deps import SessionDep

from .web import CHANGE_VOUCHERS, Forbidden, Viewer, ViewerDep, base_of, check_csrf, render, require

router = APIRouter()
CHANGE_ALERTS = CHANGE_VOUCHERS  # admin, operator


def own_cinema(viewer: Viewer) -> str | None:
    return viewer.cinema if viewer.role == "cinema" else None


def shown(session: Session, viewer: Viewer, alert_id: int) -> Alert:
    """The alert, or the 403 page for another cinema's alert (a ``cinema`` account)."""
    a = alerts.get_alert(session, alert_id)
    if not alerts_view.visible(a, own_cinema(viewer)):
        raise Forbidden(viewer=viewer)
    return a


def listing(
    session: Session, viewer: Viewer, status: str, rule: str, cinema: str
) -> dict[str, Any]:
    mine = own_cinema(viewer)
    f = {"status": status if status in STATUSES else "", "rule": rule if rule in RULES else ""}
    f["cinema"] = mine or cinema.strip()[:64]
    rows = alerts_view.find_alerts(
        session, status=f["status"] or None, rule=f["rule"] or None, cinema=f["cinema"] or None
    )
    query = "&".join(f"{k}={v}" for k, v in f.items() if v)
    return {
        "rows": [alerts.alert_json(a) for a in rows],
        "f": f,
        "query": query,
        "rules": list(RULES),
        "statuses": STATUSES,
        "full": len(rows) >= alerts_view.LIST_LIMIT,
        "fixed_cinema": mine,
    }


@router.get("/alerts")
def alerts_page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    status: str = "",
    rule: str = "",
    cinema: str = "",
) -> Response:
    data = listing(session, viewer, status, rule, cinema)
    return render(request, "alerts.html", viewer, active="alerts", **data)


@router.get("/alerts/live")
def alerts_live(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    status: str = "",
    rule: str = "",
    cinema: str = "",
) -> Response:
    data = listing(session, viewer, status, rule, cinema)
    return render(request, "alerts_live.html", viewer, **data)


@router.get("/alerts/{alert_id}")
def alert_page(
    request: Request, session: SessionDep, viewer: ViewerDep, alert_id: int, done: str = ""
) -> Response:
    a = shown(session, viewer, alert_id)
    return render(
        request,
        "alert.html",
        viewer,
        active="alerts",
        a=alerts.alert_json(a, full=True),
        evidence=alerts_view.evidence_rows(session, a),
        may_change=viewer.may(CHANGE_ALERTS),
        done=done if done in ("ack", "resolve") else "",
    )


def change(
    request: Request,
    session: Session,
    viewer: Viewer,
    alert_id: int,
    csrf: str,
    note: str,
    action: str,
) -> Response:
    check_csrf(viewer.csrf, csrf, viewer)
    require(viewer, CHANGE_ALERTS)
    shown(session, viewer, alert_id)
    step = alerts.ack if action == "ack" else alerts.resolve
    step(session, alert_id, note=note, actor=viewer.name, address=viewer.address)
    return RedirectResponse(f"{base_of(request)}/alerts/{alert_id}?done={action}", 303)


@router.post("/alerts/{alert_id}/ack")
def ack_alert(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    alert_id: int,
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    return change(request, session, viewer, alert_id, csrf, note, "ack")


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    alert_id: int,
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    return change(request, session, viewer, alert_id, csrf, note, "resolve")
