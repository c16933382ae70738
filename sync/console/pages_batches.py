"""A batch's downloads: its ``vouchers.csv``, its cards (PDF) and a ZIP of its PNGs.

A batch issued from the console has its folder (written by the office's one
issuing sequence, :mod:`sync.office.issuing`): the files are sent from there,
as made, so a 20,000-card batch is not drawn again per download. A batch
issued by ``cinepass-admin issue`` on another machine has no folder here: its
files are made from its database rows. A card *is* the voucher, so only
``admin`` and ``operator`` download, each download audited (``batch.download``).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from sync import batchparts, cards
from sync.office.batches import batch_vouchers, job_of_batch
from sync.office.issuing import ZIP_NAME
from sync.server.deps import SessionDep
from sync.server.models import Voucher

from . import web
from .actions import audited
from .pages_cards import attachment, cards_pdf, issued_of

router = APIRouter()
PDF_NAME = re.compile(r"^cards(-\d{4,6})?\.pdf$")


def handed_out(session: Session, viewer: web.Viewer, batch: str, what: str) -> Path | None:
    """Check and audit a download; the batch's folder when this server made it."""
    web.require(viewer, web.CHANGE_VOUCHERS)
    job = job_of_batch(session, batch[:64])
    if job is None and not batch_vouchers(session, batch[:64]):
        raise HTTPException(404, "no such batch")
    audited(session, viewer, "batch.download", batch, after={"download": what})
    folder = Path(job.folder) if job is not None else None
    return folder if folder is not None and folder.is_dir() else None


def rows(session: Session, batch: str) -> list[Voucher]:
    return batch_vouchers(session, batch[:64])


def sent(path: Path, media: str, name: str) -> Response:
    return FileResponse(
        path, media_type=media, filename=name, headers={"Cache-Control": "no-store"}
    )


@router.get("/batches/{batch}/vouchers.csv")
def batch_csv(request: Request, session: SessionDep, viewer: web.ViewerDep, batch: str) -> Response:
    folder = handed_out(session, viewer, batch, "csv")
    if folder is not None:
        return sent(folder / "vouchers.csv", "text/csv; charset=utf-8", f"{batch}.csv")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(batchparts.CSV_HEADER)
    w.writerows(batchparts.csv_row(issued_of(v)) for v in rows(session, batch))
    return attachment(
        ("\ufeff" + out.getvalue()).encode(), "text/csv; charset=utf-8", f"{batch}.csv"
    )


@router.get("/batches/{batch}/{name}.pdf")
def batch_pdf(
    request: Request, session: SessionDep, viewer: web.ViewerDep, batch: str, name: str
) -> Response:
    """``cards.pdf``; a batch of more than 2,000 cards has ``cards-0001.pdf``, ... too."""
    if not PDF_NAME.match(f"{name}.pdf"):
        raise HTTPException(404, "no such file")
    folder = handed_out(session, viewer, batch, f"{name}.pdf")
    if folder is not None and (folder / f"{name}.pdf").is_file():
        return sent(folder / f"{name}.pdf", "application/pdf", f"{batch}-{name}.pdf")
    if name != "cards":
        raise HTTPException(404, "no such file")
    return attachment(cards_pdf(session, rows(session, batch)), "application/pdf", f"{batch}.pdf")


@router.get("/batches/{batch}/qr.zip")
def batch_zip(request: Request, session: SessionDep, viewer: web.ViewerDep, batch: str) -> Response:
    folder = handed_out(session, viewer, batch, "zip")
    if folder is not None:
        made = folder.with_name(f"{folder.name}.{ZIP_NAME}")
        if made.is_file():
            return sent(made, "application/zip", f"{batch}.zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for v in rows(session, batch):
            z.writestr(f"{v.short_code}.png", cards.png_bytes(cards.qr_matrix(v.token)))
    return attachment(buf.getvalue(), "application/zip", f"{batch}.zip")
