"""Recording issued vouchers centrally (traceability: every card is a row), and the
state of a batch the console issues in the background (:class:`IssueJob`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from sync.issuing import IssuedVoucher
from sync.server.feeds import publish_roster
from sync.server.models import Voucher, now_ms

from .campaign_models import IssueJob


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


# -- the console's issue jobs (state in the database: any server process answers) ------

#: A running job whose heartbeat is older than this died with its server process.
JOB_STALE_MS = 15 * 60 * 1000


def start_job(session: Session, job_id: str, **what: Any) -> IssueJob:
    """The row of a batch the console starts issuing in the background (caller commits):
    ``total``, ``folder``, ``campaign``, ``actor``."""
    job = IssueJob(id=job_id, done=0, **what)
    session.add(job)
    session.flush()
    return job


def job_progress(session: Session, job_id: str, **what: Any) -> None:
    """Move a job on (``done``, ``phase``, ``batch``, ``message``) and beat its heart;
    caller commits."""
    values = {k: v for k, v in what.items() if v is not None}
    values["updated_at"] = now_ms()
    session.execute(update(IssueJob).where(IssueJob.id == job_id).values(**values))


def end_job(session: Session, job_id: str, ok: bool, **what: Any) -> None:
    """A job is over: ``done`` with its ``files``, or ``failed`` with the one-line
    ``message``."""
    status = "done" if ok else "failed"
    values = {k: v for k, v in what.items() if v is not None}
    values.update(status=status, phase=status, updated_at=now_ms())
    session.execute(update(IssueJob).where(IssueJob.id == job_id).values(**values))


def job_state(session: Session, job_id: str) -> dict[str, Any] | None:
    """What the progress page shows: status, phase, done/total, batch, message, files.

    A ``running`` job without a heartbeat for :data:`JOB_STALE_MS` is reported
    ``failed`` (its server process stopped); the batch was not recorded then,
    unless its vouchers are in the database.
    """
    job = session.get(IssueJob, job_id)
    if job is None:
        return None
    status = job.status
    if status == "running" and now_ms() - job.updated_at > JOB_STALE_MS:
        status = "failed"
    return {
        "id": job.id,
        "status": status,
        "phase": job.phase if status == job.status else "failed",
        "done": job.done,
        "total": job.total,
        "percent": int(100 * job.done / job.total) if job.total else 0,
        "batch": job.batch,
        "campaign": job.campaign,
        "message": job.message
        or ("服务进程已停止 / the server process stopped" if status != job.status else None),
        "files": list(job.files or []),
        "folder": job.folder,
        "actor": job.actor,
    }


def job_of_batch(session: Session, batch: str) -> IssueJob | None:
    """The finished console job that made ``batch`` (its folder holds the files)."""
    return session.scalars(
        select(IssueJob).where(IssueJob.batch == batch, IssueJob.status == "done")
    ).first()


def recent_batches(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """The newest batches: id, vouchers, when, campaign (the issue page's list)."""
    rows = session.execute(
        select(Voucher.batch, func.count(), func.min(Voucher.issued_at), func.max(Voucher.campaign))
        .group_by(Voucher.batch)
        .order_by(func.min(Voucher.issued_at).desc())
        .limit(limit)
    )
    return [{"batch": b, "count": n, "at": at, "campaign": c} for b, n, at, c in rows if b]


def batch_vouchers(session: Session, batch: str) -> list[Voucher]:
    """Every voucher of ``batch`` in the order it was issued (empty: no such batch)."""
    return list(
        session.scalars(
            select(Voucher).where(Voucher.batch == batch).order_by(Voucher.issued_at, Voucher.cti)
        )
    )
