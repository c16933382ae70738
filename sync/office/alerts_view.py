"""What the console's 告警 Alerts pages read: filtered lists and an alert's evidence rows.

Kept beside :mod:`sync.office.alerts` so the console runs no SQL of its own.
Evidence ids (``record:<uuid>``, ``refusal:<device>:<id>``,
``quarantine:<device>:<uuid>``, ``device:...``, ``clock:...``) are resolved to
the rows they name, each record with its voucher (the link to the voucher page).
A ``cinema`` account sees only its own cinema's alerts (:func:`visible`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.server.db import rows_in
from sync.server.models import Quarantine, Redemption, Refusal, Voucher

from .alerts_models import STATUSES, Alert

LIST_LIMIT = 200


def find_alerts(
    session: Session,
    *,
    status: str | None = None,
    rule: str | None = None,
    cinema: str | None = None,
    limit: int = LIST_LIMIT,
) -> list[Alert]:
    """Alerts, newest activity first, filtered by status, rule and cinema (any may be None)."""
    q = select(Alert)
    if status in STATUSES:
        q = q.where(Alert.status == status)
    if rule:
        q = q.where(Alert.rule == rule)
    if cinema:
        q = q.where(Alert.cinema == cinema)
    q = q.order_by(Alert.last_seen.desc(), Alert.id.desc()).limit(limit)
    return list(session.scalars(q))


def visible(alert: Alert, cinema: str | None) -> bool:
    """``cinema`` None: the union's office sees everything; else only that cinema's alerts."""
    return cinema is None or alert.cinema == cinema


def evidence_rows(session: Session, alert: Alert) -> list[dict[str, Any]]:
    """Each evidence id of ``alert`` with the row it names (``kind`` says which), in order."""
    ids = list(alert.evidence)
    uuids = [e.split(":", 1)[1] for e in ids if e.startswith("record:")]
    q = select(Redemption, Voucher.short_code).join(
        Voucher, Voucher.cti == Redemption.voucher, isouter=True
    )
    records = {r.uuid: (r, code) for r, code in rows_in(session, q, Redemption.uuid, uuids)}
    out: list[dict[str, Any]] = []
    for e in ids:
        kind, _, rest = e.partition(":")
        row: dict[str, Any] = {"id": e, "kind": kind}
        if kind == "record" and rest in records:
            r, code = records[rest]
            row |= {
                "at": r.at,
                "cinema": r.cinema,
                "device": r.device,
                "staff": r.staff,
                "status": r.status,
                "flags": list(r.flags or []),
                "cti": r.voucher,
                "short_code": code,
            }
        elif kind in ("refusal", "quarantine") and ":" in rest:
            device, key = rest.split(":", 1)
            if kind == "refusal":
                ref = session.get(Refusal, (device, key))
                if ref is not None:
                    row |= {
                        "at": ref.at,
                        "cinema": ref.cinema,
                        "device": device,
                        "staff": ref.staff,
                        "status": ref.reason,
                        "short_code": ref.voucher,
                    }
            else:
                quarantined = session.get(Quarantine, (device, key))
                if quarantined is not None:
                    row |= {"at": quarantined.last_at, "device": device}
                    row["status"] = quarantined.problem
        out.append(row)
    return out
