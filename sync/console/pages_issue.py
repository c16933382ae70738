"""发券 Issue: upload a members CSV, issue a batch, download its CSV, PDF and PNGs.

The members file is read by :func:`sync.issuing.read_members` (the same
checks as ``cinepass-admin issue``: encoding, columns, empty cells, duplicate
members, each refusal with its line number) before anything is signed or
written; signing is :func:`sync.issuing.create_batch` and recording
:func:`sync.office.batches.record_batch`, in one transaction with its audit
row. Nothing is kept on disk: a batch's files are made from its database
rows when downloaded (integrator: the sequence shared with
``sync/admin_issue.py`` belongs in one :mod:`sync.office` function).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from sync import batchdir, cards, issuing
from sync.errors import CinePassError
from sync.office import audit
from sync.office.batches import record_batch
from sync.office.cinemas import check_cinemas
from sync.office.issuers import signing_key
from sync.server.deps import SessionDep
from sync.server.models import Voucher

from .pages_cards import attachment, cards_pdf
from .web import (
    CHANGE_VOUCHERS,
    READ_VOUCHERS,
    Viewer,
    ViewerDep,
    base_of,
    check_csrf,
    render,
    require,
)

router = APIRouter()
ENCODINGS = ("utf-8", "gb18030")


def recent_batches(session: Session) -> list[dict[str, object]]:
    rows = session.execute(
        select(Voucher.batch, func.count(), func.min(Voucher.issued_at), func.max(Voucher.campaign))
        .group_by(Voucher.batch)
        .order_by(func.min(Voucher.issued_at).desc())
        .limit(50)
    )
    return [{"batch": b, "count": n, "at": at, "campaign": c} for b, n, at, c in rows if b]


def issue_form(
    request: Request,
    session: Session,
    viewer: Viewer,
    *,
    status: int = 200,
    problem: str = "",
    done: str = "",
    values: dict[str, object] | None = None,
) -> Response:
    """The batches so far and the upload form (with what was typed, after a refusal)."""
    shown: dict[str, object] = {
        "valid_days": issuing.MIN_VALID_DAYS,
        "cinemas": "",
        "campaign": "",
        "formats": list(issuing.KNOWN_FORMATS),
    }
    shown.update(values or {})
    return render(
        request,
        "issue.html",
        viewer,
        status=status,
        active="issue",
        batches=recent_batches(session),
        known_formats=issuing.KNOWN_FORMATS,
        values=shown,
        may_change=viewer.may(CHANGE_VOUCHERS),
        problem=problem,
        done=done,
    )


@router.get("/issue")
def issue_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    require(viewer, READ_VOUCHERS)
    return issue_form(request, session, viewer, done=request.query_params.get("done", "")[:64])


@router.post("/issue")
def issue_batch(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    members: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form()] = "",
    encoding: Annotated[str, Form()] = "utf-8",
    valid_days: Annotated[int, Form()] = issuing.MIN_VALID_DAYS,
    formats: Annotated[list[str] | None, Form()] = None,
    cinemas: Annotated[str, Form()] = "",
    campaign: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(viewer.csrf, csrf, viewer)
    require(viewer, CHANGE_VOUCHERS)
    values = {
        "valid_days": valid_days,
        "cinemas": cinemas,
        "campaign": campaign,
        "formats": formats or [],
    }
    try:
        options = issuing.make_options(
            "-",
            valid_days=valid_days,
            formats=",".join(formats or []) or None,
            cinemas=cinemas or None,
            campaign=campaign or None,
        )
        with tempfile.TemporaryDirectory(prefix="cinepass-members-") as tmp:
            path = Path(tmp) / (Path(members.filename or "members.csv").name or "members.csv")
            path.write_bytes(members.file.read())
            people = issuing.read_members(path, encoding if encoding in ENCODINGS else "utf-8")
        code, kid, key = signing_key(session, None)
        check_cinemas(session, options.cinemas)
    except CinePassError as exc:  # shown on the form, nothing signed or written
        return issue_form(request, session, viewer, status=400, problem=exc.message, values=values)
    options = dataclasses.replace(options, iss=code)
    issued = issuing.create_batch(key, options, members=people)
    batch = batchdir.batch_id()
    record_batch(session, issued, kid, batch)
    audit.record(
        session,
        actor=viewer.name,
        action="batch.issue",
        subject=batch,
        after={
            "count": len(issued),
            "kid": kid,
            "campaign": options.campaign,
            "file": members.filename,
        },
        address=viewer.address,
    )
    return RedirectResponse(f"{base_of(request)}/issue?done={batch}", 303)


def batch_rows(session: Session, batch: str, viewer: Viewer, what: str) -> list[Voucher]:
    require(viewer, CHANGE_VOUCHERS)
    rows = list(
        session.scalars(
            select(Voucher).where(Voucher.batch == batch).order_by(Voucher.issued_at, Voucher.cti)
        )
    )
    if not rows:
        raise HTTPException(404, "no such batch")
    audit.record(
        session,
        actor=viewer.name,
        action="batch.download",
        subject=batch,
        after={"download": what},
        address=viewer.address,
    )
    return rows


@router.get("/batches/{batch}/vouchers.csv")
def batch_csv(request: Request, session: SessionDep, viewer: ViewerDep, batch: str) -> Response:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(batchdir.CSV_HEADER)
    for v in batch_rows(session, batch, viewer, "csv"):
        w.writerow(
            (
                v.short_code,
                v.member_ref or "",
                v.holder or "",
                issuing.display_date(v.nbf),
                issuing.valid_until_date(v.exp),
                v.token,
            )
        )
    return attachment(
        ("\ufeff" + out.getvalue()).encode(), "text/csv; charset=utf-8", f"{batch}.csv"
    )


@router.get("/batches/{batch}/cards.pdf")
def batch_pdf(request: Request, session: SessionDep, viewer: ViewerDep, batch: str) -> Response:
    data = cards_pdf(session, batch_rows(session, batch, viewer, "pdf"))
    return attachment(data, "application/pdf", f"{batch}.pdf")


@router.get("/batches/{batch}/qr.zip")
def batch_zip(request: Request, session: SessionDep, viewer: ViewerDep, batch: str) -> Response:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for v in batch_rows(session, batch, viewer, "zip"):
            z.writestr(f"{v.short_code}.png", cards.png_bytes(cards.qr_matrix(v.token)))
    return attachment(buf.getvalue(), "application/zip", f"{batch}.zip")
