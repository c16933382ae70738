"""结算 Settlement: one month per cinema, each cinema's lines, CSV download.

Numbers come from :func:`sync.office.reports.monthly` (the same report as
``cinepass-admin report``). A ``cinema`` account sees only its own cinema;
another cinema's page is a 403 page.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sync.issuing import DISPLAY_TZ
from sync.office import reports
from sync.server.deps import SessionDep

from . import queries
from .statement import statement_pdf
from .web import Forbidden, Viewer, ViewerDep, base_of, render

router = APIRouter()
#: lines shown per section on the page; the downloads have them all
LINE_MAX = 300


def month_of(request: Request) -> str:
    m = request.query_params.get("month", "").strip()
    return m if reports.MONTH_RE.match(m) else datetime.now(DISPLAY_TZ).strftime("%Y-%m")


def own(viewer: Viewer, cinema: str) -> None:
    if viewer.role == "cinema" and viewer.cinema != cinema:
        raise Forbidden(viewer=viewer)


@router.get("/settlement")
def settlement_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    month = month_of(request)
    if viewer.role == "cinema" and viewer.cinema:
        return RedirectResponse(f"{base_of(request)}/settlement/{viewer.cinema}?month={month}", 303)
    rows = queries.settlement_summary(session, month)
    return render(request, "settlement.html", viewer, active="settlement", month=month, rows=rows)


@router.get("/settlement/{cinema}")
def cinema_page(request: Request, session: SessionDep, viewer: ViewerDep, cinema: str) -> Response:
    own(viewer, cinema)
    month = month_of(request)
    data = reports.monthly(session, month, cinema)
    return render(
        request,
        "settlement_cinema.html",
        viewer,
        active="settlement",
        month=month,
        c=data["cinemas"][0],
        line_max=LINE_MAX,
    )


@router.get("/settlement/{cinema}/xlsx")
def cinema_xlsx(request: Request, session: SessionDep, viewer: ViewerDep, cinema: str) -> Response:
    own(viewer, cinema)
    month = month_of(request)
    data = reports.monthly(session, month, cinema)
    with tempfile.TemporaryDirectory(prefix="cinepass-report-") as tmp:
        path = Path(tmp) / "report.xlsx"
        reports.to_xlsx(data, path)
        body = path.read_bytes()
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="cinepass-{cinema}-{month}.xlsx"'},
    )


@router.get("/settlement/{cinema}/pdf")
def cinema_pdf(request: Request, session: SessionDep, viewer: ViewerDep, cinema: str) -> Response:
    own(viewer, cinema)
    month = month_of(request)
    body = statement_pdf(reports.monthly(session, month, cinema))
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="cinepass-{cinema}-{month}.pdf"'},
    )


@router.get("/settlement/{cinema}/csv")
def cinema_csv(request: Request, session: SessionDep, viewer: ViewerDep, cinema: str) -> Response:
    own(viewer, cinema)
    month = month_of(request)
    text = reports.to_csv(reports.monthly(session, month, cinema))
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="cinepass-{cinema}-{month}.csv"'},
    )
