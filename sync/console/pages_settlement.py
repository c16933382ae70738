"""结算 Settlement: month x cinema, each cinema's lines, review decisions, sign-off, downloads.

Numbers are those of :func:`sync.office.reports.monthly` (the same report as
``cinepass-admin report``, which the downloads build); the month table from
:func:`sync.console.queries_settlement.settlement_table` and a cinema's page
from :func:`sync.console.queries_month.cinema_view`, which count the same
lines from the running counts and show the first lines of each section. A ``cinema`` account sees only its own cinema (and downloads its
own statement); another cinema's page is a 403 page. Deciding a held line is
:func:`sync.office.review.review` (``cinepass-admin review``) and signing a
month off :func:`sync.office.signoff.sign_off` (``cinepass-admin settle
sign-off``): both audited there, both for ``admin`` and ``operator`` only,
each form CSRF-checked.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from sync.issuing import DISPLAY_TZ
from sync.office import reports
from sync.office.review import review
from sync.office.signoff import sign_off
from sync.server.deps import SessionDep

from .queries_month import cinema_view
from .queries_settlement import alert_marks, settlement_table
from .statement import statement_pdf
from .web import Forbidden, Viewer, ViewerDep, base_of, check_csrf, render, require

router = APIRouter()
#: lines shown per section on the page; the downloads have them all
LINE_MAX = 300
#: who decides held lines and signs months off (docs/console.md)
SETTLE = ("admin", "operator")
#: the drill-down's sections: (report key, label key), paid lines first
SECTIONS = (
    ("valid", "valid_total"),
    ("review", "under_review"),
    ("duplicates", "duplicates"),
    ("voids", "voids"),
    ("rejected", "rejected"),
)


def month_of(request: Request) -> str:
    return month_or_now(request.query_params.get("month", ""))


def own(viewer: Viewer, cinema: str) -> None:
    if viewer.role == "cinema" and viewer.cinema != cinema:
        raise Forbidden(viewer=viewer)


@router.get("/settlement")
def settlement_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    month = month_of(request)
    if viewer.role == "cinema" and viewer.cinema:
        return RedirectResponse(f"{base_of(request)}/settlement/{viewer.cinema}?month={month}", 303)
    return render(
        request,
        "settlement.html",
        viewer,
        active="settlement",
        month=month,
        rows=settlement_table(session, month),
        may_settle=viewer.may(SETTLE),
        done=request.query_params.get("done", ""),
    )


@router.get("/settlement/{cinema}")
def cinema_page(request: Request, session: SessionDep, viewer: ViewerDep, cinema: str) -> Response:
    own(viewer, cinema)
    month = month_of(request)
    c = cinema_view(session, month, cinema, LINE_MAX)
    return render(
        request,
        "settlement_cinema.html",
        viewer,
        active="settlement",
        month=month,
        c=c,
        sections=SECTIONS,
        marks=alert_marks(session, month),
        line_max=LINE_MAX,
        may_settle=viewer.may(SETTLE),
        done=request.query_params.get("done", ""),
    )


def xlsx_body(data: dict[str, Any]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="cinepass-report-") as tmp:
        path = Path(tmp) / "report.xlsx"
        reports.to_xlsx(data, path)
        return path.read_bytes()


#: download -> (how it is made from the report, its media type)
DOWNLOADS: dict[str, tuple[Callable[[dict[str, Any]], bytes], str]] = {
    "csv": (
        lambda data: ("\ufeff" + reports.to_csv(data)).encode("utf-8"),  # a BOM for Excel
        "text/csv; charset=utf-8",
    ),
    "xlsx": (xlsx_body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pdf": (statement_pdf, "application/pdf"),
}


@router.get("/settlement/{cinema}/{kind}")
def cinema_download(
    request: Request, session: SessionDep, viewer: ViewerDep, cinema: str, kind: str
) -> Response:
    """The cinema's month as CSV, Excel or the PDF statement (``kind``)."""
    if kind not in DOWNLOADS:
        raise HTTPException(404)
    own(viewer, cinema)
    month = month_of(request)
    make, media = DOWNLOADS[kind]
    return Response(
        make(reports.monthly(session, month, cinema)),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="cinepass-{cinema}-{month}.{kind}"'},
    )


@dataclass(frozen=True)
class Act:
    """A settlement form: its viewer (may settle) and its fields (CSRF checked)."""

    viewer: Viewer
    form: dict[str, str]

    def get(self, name: str) -> str:
        return self.form.get(name, "").strip()


async def settle_form(request: Request, viewer: ViewerDep) -> Act:
    """403 page unless the viewer may settle and the form carries the session's token."""
    require(viewer, SETTLE)
    fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(viewer.csrf, fields.get("csrf", ""), viewer)
    return Act(viewer, fields)


ActDep = Annotated[Act, Depends(settle_form)]


@router.post("/settlement/{cinema}/review")
def decide(request: Request, session: SessionDep, act: ActDep, cinema: str) -> Response:
    """Pay or refuse one held line (``cinepass-admin review --accept|--reject``)."""
    if act.get("decision") not in ("pay", "refuse"):
        raise HTTPException(400, "decision must be pay or refuse")
    who = {"actor": act.viewer.name, "address": act.viewer.address}
    accept = act.get("decision") == "pay"
    review(session, act.get("record"), accept=accept, note=act.get("note"), **who)
    month = month_or_now(act.get("month"))
    return RedirectResponse(
        f"{base_of(request)}/settlement/{cinema}?month={month}&done=review", 303
    )


@router.post("/settlement/sign-off")
def sign_off_month(request: Request, session: SessionDep, act: ActDep) -> Response:
    """Lock the month for one cinema, or for every cinema not signed yet (``cinema`` empty)."""
    cinema = act.get("cinema")
    who = {"actor": act.viewer.name, "address": act.viewer.address}
    sign_off(session, act.get("month"), cinema or None, **who)
    where = f"/settlement/{cinema}" if cinema else "/settlement"
    month = month_or_now(act.get("month"))
    return RedirectResponse(f"{base_of(request)}{where}?month={month}&done=signoff", 303)


def month_or_now(month: str) -> str:
    month = month.strip()
    return month if reports.MONTH_RE.match(month) else datetime.now(DISPLAY_TZ).strftime("%Y-%m")
