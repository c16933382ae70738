"""审计 Audit: the audit log, filtered, and its CSV export (``admin`` and ``auditor``).

Reads :class:`sync.server.models.AuditEntry` (the append-only table
:mod:`sync.office.audit` writes). Day filters are China Standard Time days.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sync.issuing import DISPLAY_TZ
from sync.office.reports import local_time
from sync.server.deps import SessionDep
from sync.server.models import AuditEntry

from .web import READ_AUDIT, ViewerDep, render, require

router = APIRouter()
PAGE_ROWS = 500


def day_ms(day: str, end: bool = False) -> int | None:
    try:
        d = datetime.strptime(day.strip(), "%Y-%m-%d").replace(tzinfo=DISPLAY_TZ)
    except ValueError:
        return None
    return int(d.timestamp() * 1000) + (86400 * 1000 if end else 0)


def filtered(request: Request) -> tuple[Select[AuditEntry], dict[str, str]]:
    f = {
        k: request.query_params.get(k, "").strip()[:200]
        for k in ("actor", "action", "subject", "from", "to")
    }
    q = select(AuditEntry)
    if f["actor"]:
        q = q.where(AuditEntry.actor == f["actor"])
    if f["action"]:
        q = q.where(AuditEntry.action.like(f"{f['action']}%"))
    if f["subject"]:
        q = q.where(AuditEntry.subject.like(f"%{f['subject']}%"))
    start, end = day_ms(f["from"]), day_ms(f["to"], end=True)
    if start is not None:
        q = q.where(AuditEntry.at >= start)
    if end is not None:
        q = q.where(AuditEntry.at < end)
    return q.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), f


def as_text(d: dict[str, Any] | None) -> str:
    return json.dumps(d, ensure_ascii=False, sort_keys=True) if d else ""


def rows_of(session: Session, q: Select[AuditEntry]) -> list[dict[str, Any]]:
    return [
        {
            "at": a.at,
            "time": local_time(a.at),
            "actor": a.actor,
            "action": a.action,
            "subject": a.subject,
            "before": as_text(a.before),
            "after": as_text(a.after),
            "address": a.address,
        }
        for a in session.scalars(q)
    ]


@router.get("/audit")
def audit_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    require(viewer, READ_AUDIT)
    q, f = filtered(request)
    rows = rows_of(session, q.limit(PAGE_ROWS))
    query = request.url.query
    return render(
        request,
        "audit.html",
        viewer,
        active="audit",
        rows=rows,
        f=f,
        query=query,
        full=len(rows) == PAGE_ROWS,
    )


@router.get("/audit.csv")
def audit_csv(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    require(viewer, READ_AUDIT)
    q, _f = filtered(request)
    out = io.StringIO()
    fields = ("time", "actor", "action", "subject", "before", "after", "address")
    w = csv.writer(out)
    w.writerow(fields)
    for r in rows_of(session, q):
        w.writerow([r[k] for k in fields])
    return Response(
        "\ufeff" + out.getvalue(),  # the BOM makes Excel read it as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cinepass-audit.csv"'},
    )
