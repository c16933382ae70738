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

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
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


@dataclass
class Filters:
    """The list's query: ``?status=&rule=&cinema=`` (each may be empty: all)."""

    status: str = ""
    rule: str = ""
    cinema: str = ""


@dataclass
class NoteForm:
    """The ack / resolve form: the note and the session's CSRF token."""

    note: Annotated[str, Form()] = ""
    csrf: Annotated[str, Form()] = ""


@router.get("/alerts")
@router.get("/alerts/live")
def alerts_page(
    request: Request, session: SessionDep, viewer: ViewerDep, q: Annotated[Filters, Depends()]
) -> Response:
    """The list, or (``/alerts/live``) its live part alone, which the page polls."""
    data = listing(session, viewer, q.status, q.rule, q.cinema)
    if request.url.path.endswith("/live"):
        return render(request, "alerts_live.html", viewer, **data)
    return render(request, "alerts.html", viewer, active="alerts", **data)


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


@router.post("/alerts/{alert_id}/{action}")
def change_alert(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    alert_id: int,
    action: str,
    form: Annotated[NoteForm, Depends()],
) -> Response:
    """``ack`` or ``resolve`` with a note (:func:`sync.office.alerts.ack` / ``resolve``)."""
    steps = {"ack": alerts.ack, "resolve": alerts.resolve}
    if action not in steps:
        raise HTTPException(404)
    check_csrf(viewer.csrf, form.csrf, viewer)
    require(viewer, CHANGE_ALERTS)
    shown(session, viewer, alert_id)
    steps[action](session, alert_id, note=form.note, actor=viewer.name, address=viewer.address)
    return RedirectResponse(f"{base_of(request)}/alerts/{alert_id}?done={action}", 303)
