"""The counters' refusal log: what each box office turned away, for the office and settlement.

A kiosk uploads every refusal it logs (``POST /api/v1/refusals``, see
:class:`sync.protocol.RefusalIn`): when, which counter, which clerk, why, and
the voucher's short code only when its signature was verified (otherwise a
SHA-256 of the scanned text, never the text: an unreadable or forged code is
not spread further). The cinema and device are the authenticated device's.
Each (device, refusal id) is stored once, so a resend after a cut connection
changes nothing.

The monthly settlement lists them in its ``rejected`` section
(:func:`rejected_lines`, in the shape of the report's other lines), so the
XLSX "Rejected" sheet shows what the counters refused.

The table is defined here, beside the only code that writes and reads it;
its schema comes from the server migration ``0003_refusals``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.businessday import BusinessDay
from sync.issuing import DISPLAY_TZ
from sync.protocol import RefusalIn
from sync.server.models import Refusal, now_ms

from .cinemas import business_day


def store_refusals(
    session: Session, device: str, cinema: str, items: Sequence[RefusalIn]
) -> tuple[int, int]:
    """Store the refusals of ``device`` not stored before; returns (stored, known)."""
    wanted = {i.id: i for i in items}  # a batch naming one id twice keeps its last copy
    known: set[str] = set()
    ids = list(wanted)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        known.update(
            session.scalars(
                select(Refusal.id).where(Refusal.device == device, Refusal.id.in_(chunk))
            )
        )
    t = now_ms()
    fresh = [i for i in wanted.values() if i.id not in known]
    session.add_all(
        Refusal(device=device, cinema=cinema, received_at=t, **i.model_dump()) for i in fresh
    )
    session.flush()
    return len(fresh), len(items) - len(fresh)


def _line(r: Refusal) -> dict[str, Any]:
    """A refusal in the shape of a settlement line (``status`` = ``refused``)."""
    when = datetime.fromtimestamp(r.at / 1000, UTC)
    return {
        "record": r.id,
        "voucher": r.voucher or (f"sha256:{r.text_hash[:16]}" if r.text_hash else ""),
        "device": r.device,
        "time": when.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M:%S"),
        "redeemed_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "format": r.format,
        "staff": r.staff,
        "status": "refused",
        "duplicate_of": None,
        "voids": None,
        "problem": r.reason,
        "duplicated_by": [],
        "flags": [],
        "decision": None,
        "counter": r.counter,
        "text_hash": r.text_hash,
    }


def rejected_lines(
    session: Session,
    start_ms: int,
    end_ms: int,
    cinema: str | None = None,
    *,
    month: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """cinema -> the refusals in [start, end), oldest first, as settlement lines.

    Each line carries the business ``day`` it counts to (sync.businessday, as
    the settlement's other lines); with ``month`` only the refusals of that
    business month of their cinema are kept.
    """
    q = select(Refusal).where(Refusal.at >= start_ms, Refusal.at < end_ms)
    if cinema is not None:
        q = q.where(Refusal.cinema == cinema)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    days: dict[str, BusinessDay] = {}
    for r in session.scalars(q.order_by(Refusal.at, Refusal.device, Refusal.id)):
        bd = days.get(r.cinema) or days.setdefault(r.cinema, business_day(session, r.cinema))
        if month is not None and bd.month_of(r.at) != month:
            continue  # in the UTC window, outside this cinema's business month
        out[r.cinema].append(_line(r) | {"day": bd.day_of(r.at).isoformat()})
    return dict(out)
