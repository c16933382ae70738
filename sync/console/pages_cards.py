"""A voucher's card for the member: the QR as PNG, the printable card as PDF.

The same drawing code as an issued batch (:mod:`sync.cards`). A card *is*
the voucher (whoever holds the QR can use it), so only ``admin`` and
``operator`` may download one, never for a frozen voucher, and every
download is in the audit log.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sync import batchparts, cards
from sync.issuing import IssuedVoucher
from sync.office.errors import OfficeError
from sync.office.issuers import issuer_label
from sync.server.deps import SessionDep
from sync.server.models import Voucher
from sync.voucher import decode_voucher

from .actions import audited
from .pages_vouchers import load
from .web import CHANGE_VOUCHERS, Viewer, ViewerDep, require

router = APIRouter()


def handed_out(session: Session, viewer: Viewer, cti: str, what: str) -> Voucher:
    require(viewer, CHANGE_VOUCHERS)
    v = load(session, cti)
    if v.status == "frozen":
        raise OfficeError("frozen", f"voucher {v.short_code} is frozen: no card for it")
    audited(session, viewer, "voucher.card", v.short_code, after={"download": what})
    return v


def attachment(data: bytes, media: str, name: str) -> Response:
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/vouchers/{cti}/qr.png")
def qr_png(request: Request, session: SessionDep, viewer: ViewerDep, cti: str) -> Response:
    v = handed_out(session, viewer, cti, "png")
    return attachment(cards.png_bytes(cards.qr_matrix(v.token)), "image/png", f"{v.short_code}.png")


@router.get("/vouchers/{cti}/card.pdf")
def card_pdf(request: Request, session: SessionDep, viewer: ViewerDep, cti: str) -> Response:
    v = handed_out(session, viewer, cti, "pdf")
    return attachment(cards_pdf(session, [v]), "application/pdf", f"{v.short_code}.pdf")


def cards_pdf(session: Session, vouchers: list[Voucher]) -> bytes:
    """The A4 sheet(s) of these vouchers' cards (fpdf writes a file: a private temp one)."""
    with tempfile.TemporaryDirectory(prefix="cinepass-cards-") as tmp:
        path = Path(tmp) / "cards.pdf"
        cards.write_cards_pdf([card_of(session, v) for v in vouchers], path)
        return path.read_bytes()


def card_of(session: Session, v: Voucher) -> cards.Card:
    """What the member's card prints, from the voucher's row (as a batch's cards do)."""
    card: cards.Card = batchparts.card_of(issued_of(v), issuer_label(session, v.issuer_code))
    return card


def issued_of(v: Voucher) -> IssuedVoucher:
    """The signed voucher of a row (its claims read back from its QR text)."""
    return IssuedVoucher(decode_voucher(v.token).voucher, v.token, v.member_ref)
