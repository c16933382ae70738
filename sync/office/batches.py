"""Recording issued vouchers centrally (traceability: every card is a row)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from sync.issuing import IssuedVoucher
from sync.server.feeds import publish_roster
from sync.server.models import Voucher, now_ms


def voucher_row(item: IssuedVoucher, kid: str, batch: str, at: int) -> dict[str, Any]:
    """The ``vouchers`` row of one signed voucher."""
    v = item.voucher
    return {
        "cti": v.cti.hex(),
        "short_code": v.short_code,
        "issuer_code": v.iss,
        "kid": kid,
        "member_ref": item.member_ref,
        "holder": v.holder,
        "formats": list(v.formats),
        "cinemas": list(v.cinemas) if v.cinemas is not None else None,
        "admissions": v.admissions,
        "campaign": v.campaign,
        "iat": v.iat,
        "nbf": v.nbf,
        "exp": v.exp,
        "token": item.token,
        "batch": batch,
        "issued_at": at,
        "status": "active",
    }


def record_batch(session: Session, issued: list[IssuedVoucher], kid: str, batch: str) -> None:
    """Insert the vouchers and announce them on the roster feed (caller commits)."""
    at = now_ms()
    rows = [voucher_row(item, kid, batch, at) for item in issued]
    session.execute(insert(Voucher), rows)
    publish_roster(session, [Voucher(cti=r["cti"], token=r["token"]) for r in rows])
