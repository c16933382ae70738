"""发券 Issue: upload a members CSV, issue it in the background, download CSV, PDF and PNGs.

The same office sequence as ``cinepass-admin issue`` (:mod:`sync.office.issuing`),
so ``allow repeat``, the hotline and the after-sales text mean the same here.
The request only checks: the flags, the whole members file
(:func:`sync.members.parse_members`: every problem listed with its line number,
nothing written), the issuer's key, the cinemas, and members who already hold
vouchers in the campaign (refused unless allowed). Then the batch is issued
by a background thread (:func:`sync.office.issuing.start_in_background`), its
progress kept in the ``issue_job`` row, so a 20,000-member batch never holds a
request and any server process answers the progress page. A small batch is
usually done within :data:`QUICK_WAIT_S`: the answer then goes straight to the
finished batch.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from sync import issuing
from sync.errors import CinePassError
from sync.members import MembersError, Problem, parse_members
from sync.office.batches import job_of_batch, job_state, recent_batches
from sync.office.campaigns import list_campaigns
from sync.office.issuing import (
    Audit,
    Order,
    batch_root,
    check_order,
    check_repeat,
    prepare,
    start_in_background,
)
from sync.server.deps import SessionDep

from . import web
from .actions import Posted, allowed, number
from .web import CHANGE_VOUCHERS, READ_VOUCHERS, Viewer, ViewerDep, base_of

router = APIRouter()
ENCODINGS = ("utf-8", "gb18030")
#: A batch of at most this many members is waited for (it takes a second or two) ...
QUICK_BATCH = 500
#: ... for at most this long; a larger batch answers at once with its progress page.
QUICK_WAIT_S = 30.0


def issue_form(
    request: Request,
    session: Session,
    viewer: Viewer,
    *,
    status: int = 200,
    problem: str = "",
    problems: list[Problem] | None = None,
    done: str = "",
    values: dict[str, object] | None = None,
) -> Response:
    """The batches so far and the upload form (with what was typed, after a refusal)."""
    shown: dict[str, object] = {
        "valid_days": issuing.MIN_VALID_DAYS,
        "cinemas": "",
        "campaign": "",
        "hotline": "",
        "after_sales": "",
        "allow_repeat": False,
        "formats": list(issuing.KNOWN_FORMATS),
    }
    shown.update(values or {})
    job = job_of_batch(session, done) if done else None
    return web.render(
        request,
        "issue.html",
        viewer,
        status=status,
        active="issue",
        batches=recent_batches(session),
        campaigns=list_campaigns(session),
        known_formats=issuing.KNOWN_FORMATS,
        values=shown,
        may_change=viewer.may(CHANGE_VOUCHERS),
        problem=problem,
        problems=problems or [],
        done=done,
        fresh=list(job.files or []) if job is not None else [],
    )


@router.get("/issue")
def issue_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    web.require(viewer, READ_VOUCHERS)
    return issue_form(request, session, viewer, done=request.query_params.get("done", "")[:64])


#: The issue form's fields that are an :class:`~sync.office.issuing.Order`'s text fields.
TEXT_FIELDS = ("cinemas", "campaign", "hotline", "after_sales")


@router.post("/issue")
def issue_batch(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    members: Annotated[UploadFile, File()],
    form: Posted,
    formats: Annotated[list[str] | None, Form()] = None,
) -> Response:
    allowed(viewer, form, CHANGE_VOUCHERS)
    values: dict[str, Any] = {k: form.get(k, "") for k in TEXT_FIELDS}
    values.update(allow_repeat=bool(form.get("allow_repeat")), formats=formats or [])
    values["valid_days"] = form.get("valid_days", "") or issuing.MIN_VALID_DAYS
    sessions = request.app.state.sessions
    job_id = f"J{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
    name = (members.filename or "members.csv").rsplit("/", 1)[-1] or "members.csv"
    encoding = form.get("encoding", "utf-8")
    try:
        order = Order(
            valid_days=number(values["valid_days"]),
            formats=",".join(formats or []) or None,
            allow_repeat=values["allow_repeat"],
            **{k: values[k] or None for k in TEXT_FIELDS},
        )
        check_order(order)  # a validity under 12 months is refused before the file is read
        people = parse_members(
            members.file.read(), name, encoding if encoding in ENCODINGS else "utf-8"
        )
        out = batch_root(sessions) / job_id
        out.parent.mkdir(parents=True, exist_ok=True)
        prepared = prepare(session, order, people, out)
        check_repeat(prepared.held, prepared.options.campaign, allow=order.allow_repeat)
    except CinePassError as exc:  # shown on the form, nothing signed or written
        problems = exc.problems if isinstance(exc, MembersError) else None
        return issue_form(
            request,
            session,
            viewer,
            status=400,
            problem=exc.message,
            problems=problems,
            values=values,
        )
    who = Audit(actor=viewer.name, address=viewer.address, after={"file": name, "job": job_id})
    # the job writes in its own transactions: this request's (the session's heartbeat,
    # SQLite's BEGIN IMMEDIATE) must not hold it up
    session.commit()
    thread = start_in_background(sessions, prepared, who, job_id)
    if prepared.total <= QUICK_BATCH:
        thread.join(QUICK_WAIT_S)
    return RedirectResponse(f"{base_of(request)}/issue/jobs/{job_id}", 303)


def state_of_job(session: Session, viewer: Viewer, job_id: str) -> dict[str, Any]:
    web.require(viewer, READ_VOUCHERS)
    state = job_state(session, job_id[:40])
    if state is None:
        raise HTTPException(404, "no such job")
    return state


@router.get("/issue/jobs/{job_id}")
def job_page(request: Request, session: SessionDep, viewer: ViewerDep, job_id: str) -> Response:
    """A finished job goes to its batch on the issue page; a running one shows progress."""
    state = state_of_job(session, viewer, job_id)
    if state["status"] == "done":
        return RedirectResponse(f"{base_of(request)}/issue?done={state['batch']}", 303)
    status = 400 if state["status"] == "failed" else 200
    return web.render(request, "issue_job.html", viewer, status=status, active="issue", job=state)


@router.get("/issue/jobs/{job_id}/state.json")
def job_json(request: Request, session: SessionDep, viewer: ViewerDep, job_id: str) -> Response:
    """What the progress bar polls (plain JS, static/issue.js)."""
    state = state_of_job(session, viewer, job_id)
    keep = ("status", "phase", "done", "total", "percent", "batch", "message")
    body = {k: state[k] for k in keep}
    body["next"] = f"{base_of(request)}/issue?done={state['batch']}" if state["batch"] else ""
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
