"""Alerts: stored, merged per rule and subject, acknowledged and resolved (issue 13).

A rule (:mod:`sync.office.alert_rules`) returns :class:`Finding` values;
:func:`raise_alert` turns each into a row of :class:`~sync.office.alerts_models.Alert`:
a new open alert, or more evidence on the one already open for that rule and
subject (``count`` grows by one per finding that brought evidence not seen
before, ``last_seen`` moves on). Re-evaluating the same records (a catch-up
sweep, two processes) therefore changes nothing: evidence is a set.

A new alert also owes a webhook notice (:class:`AlertNotice`, same
transaction), so an alert is never stored without its notification queued.

``ack`` and ``resolve`` take a note and are audited through
:func:`sync.office.audit.record` in the same transaction. A resolved alert
frees its subject: the next finding opens a new alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync.server.models import now_ms

from . import audit
from .alerts_models import Alert, AlertNotice
from .errors import OfficeError
from .reports import iso_utc

MAX_EVIDENCE = 200  # ids kept per alert; ``count`` goes on counting past it
#: The keys of ``cinepass-admin alerts --json`` (a contract other tools read).
JSON_KEYS = (
    "id",
    "rule",
    "severity",
    "status",
    "cinema",
    "device",
    "voucher",
    "member",
    "first_seen",
    "last_seen",
    "count",
)


@dataclass(frozen=True)
class Finding:
    """What a rule saw: the subject, the evidence (record/refusal ids) and its numbers."""

    rule: str
    severity: str
    subject_kind: str  # voucher | member | device | staff | cinema
    subject_key: str
    at: int  # when it happened (the newest evidence's time, UTC ms)
    evidence: tuple[str, ...]
    cinema: str | None = None
    device: str | None = None
    voucher: str | None = None
    member: str | None = None
    staff: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def open_key(self) -> str:
        return f"{self.rule}|{self.subject_kind}|{self.subject_key}"[:260]


def raise_alert(
    session: Session, f: Finding, *, notify: bool = False, mail: bool = False
) -> tuple[Alert, bool]:
    """Store a finding; returns (the alert, True if it is new). Safe under concurrency.

    The open alert of the rule and subject is read with ``FOR UPDATE`` (a row
    lock on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serializes
    writers). When there is none, the insert runs in a savepoint: if another
    process inserted the same ``open_key`` first, the unique index refuses
    ours and we merge into theirs.
    """
    for _attempt in range(3):
        alert = session.scalars(
            select(Alert).where(Alert.open_key == f.open_key).with_for_update()
        ).first()
        if alert is not None:
            merge(alert, f)
            return alert, False
        alert = new_alert(f)
        try:
            with session.begin_nested():
                session.add(alert)
        except IntegrityError:
            continue  # someone else opened it between our read and our insert
        for wanted, event in ((notify, "opened"), (mail, "mail:opened")):
            if wanted:  # the webhook's notice, the mail's (sync.server.alerts_mail)
                session.add(AlertNotice(alert_id=alert.id, event=event, payload={}, next_at=0))
        return alert, True
    raise OfficeError("alert_conflict", f"could not store alert {f.open_key}")


#: What an alert copies from the finding that opens it, as it is.
_FROM_FINDING: tuple[str, ...] = ("rule", "severity", "subject_kind", "subject_key", "open_key")
_FROM_FINDING += ("cinema", "device", "voucher", "member", "staff")


def new_alert(f: Finding) -> Alert:
    t = now_ms()
    alert = Alert(**{k: getattr(f, k) for k in _FROM_FINDING})
    alert.status, alert.count, alert.first_seen, alert.last_seen = "open", 1, f.at, f.at
    alert.evidence, alert.detail = list(f.evidence[:MAX_EVIDENCE]), dict(f.detail)
    alert.created_at = alert.updated_at = t
    return alert


def merge(alert: Alert, f: Finding) -> bool:
    """Add a repeat to an open alert; False (nothing changed) when all evidence was known."""
    known = set(alert.evidence)
    fresh = [e for e in f.evidence if e not in known]
    if not fresh and f.evidence:
        return False
    alert.evidence = (list(alert.evidence) + fresh)[:MAX_EVIDENCE]
    alert.count += 1
    alert.first_seen = min(alert.first_seen, f.at)
    alert.last_seen = max(alert.last_seen, f.at)
    alert.detail = dict(f.detail)
    alert.updated_at = now_ms()
    for name in ("cinema", "device", "voucher", "member", "staff"):
        if getattr(alert, name) is None and getattr(f, name) is not None:
            setattr(alert, name, getattr(f, name))
    return True


def raise_all(
    session: Session, findings: Iterable[Finding], *, notify: bool = False, mail: bool = False
) -> list[Alert]:
    """Store every finding; the alerts that are new (their webhook / mail notices queued)."""
    new = []
    for f in findings:
        alert, is_new = raise_alert(session, f, notify=notify, mail=mail)
        if is_new:
            new.append(alert)
    return new


def alert_json(a: Alert, *, full: bool = False) -> dict[str, Any]:
    """One alert as ``alerts --json`` prints it (``full``: with evidence and notes)."""
    out: dict[str, Any] = {
        "id": a.id,
        "rule": a.rule,
        "severity": a.severity,
        "status": a.status,
        "cinema": a.cinema,
        "device": a.device,
        "voucher": a.voucher,
        "member": a.member,
        "first_seen": iso_utc(a.first_seen),
        "last_seen": iso_utc(a.last_seen),
        "count": a.count,
        "staff": a.staff,
        "subject": {"kind": a.subject_kind, "key": a.subject_key},
        "detail": a.detail,
    }
    if full:
        out["evidence"] = list(a.evidence)
        out["note"] = a.note
        out["acked_by"] = a.acked_by
        out["acked_at"] = iso_utc(a.acked_at) if a.acked_at else None
        out["resolved_by"] = a.resolved_by
        out["resolved_at"] = iso_utc(a.resolved_at) if a.resolved_at else None
    return out


def list_alerts(session: Session, *, open_only: bool = False) -> list[Alert]:
    """Alerts, newest activity first; ``open_only``: those not resolved (open or acked)."""
    q = select(Alert)
    if open_only:
        q = q.where(Alert.status != "resolved")
    return list(session.scalars(q.order_by(Alert.last_seen.desc(), Alert.id.desc())))


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise OfficeError(
            "unknown_alert", f"没有此告警 / no alert {alert_id} (see `cinepass-admin alerts`)"
        )
    return alert


def _state(a: Alert) -> dict[str, Any]:
    return {"status": a.status, "note": a.note}


def _check_note(note: str) -> str:
    text = " ".join(note.split())
    if not text or len(text) > 1000:
        raise OfficeError(
            "bad_note", "需要说明（1 至 1000 字）/ --note must be 1 to 1000 characters"
        )
    return text


def _change(
    session: Session, alert_id: int, status: str, note: str, actor: str, address: str
) -> Alert:
    """Move an alert to ``status`` with a note, audited in the same transaction."""
    alert = get_alert(session, alert_id)
    if status == "acked" and alert.status != "open":
        raise OfficeError(
            "not_open", f"告警 {alert_id} 不是待处理状态 / alert {alert_id} is {alert.status}"
        )
    if alert.status == "resolved":
        raise OfficeError(
            "already_resolved", f"告警 {alert_id} 已解决 / alert {alert_id} is resolved"
        )
    before, t = _state(alert), now_ms()
    alert.status, alert.note, alert.updated_at = status, _check_note(note), t
    if status == "acked":
        alert.acked_by, alert.acked_at = actor, t
    else:
        alert.resolved_by, alert.resolved_at, alert.open_key = actor, t, None
    action = "alert.ack" if status == "acked" else "alert.resolve"
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=f"alert:{alert_id}",
        before=before,
        after=_state(alert),
        address=address,
    )
    return alert


def ack(session: Session, alert_id: int, *, note: str, actor: str, address: str = "cli") -> Alert:
    """Acknowledge: someone is on it (repeats still add to it; it stays the subject's alert)."""
    return _change(session, alert_id, "acked", note, actor, address)


def resolve(
    session: Session, alert_id: int, *, note: str, actor: str, address: str = "cli"
) -> Alert:
    """Resolve: closed; the subject's next finding opens a new alert."""
    return _change(session, alert_id, "resolved", note, actor, address)
