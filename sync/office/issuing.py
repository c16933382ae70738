"""Issuing a batch: the one sequence behind ``cinepass-admin issue`` and the console.

Both front ends used to write the steps themselves, and the console's copy
forgot ``--allow-repeat``, the hotline and the after-sales text. Now both
call :func:`check_order` (the flags, no database), :func:`prepare` (the
issuer key, the cinemas, what the cards state, who already holds vouchers in
the campaign) and :func:`issue_prepared` (refuse repeats, sign and write in
parts, record with the audit line in one transaction, publish the folder).

Consistency rule: the batch is first written completely into a hidden
staging folder beside ``out`` (in parts, on every core, resumable:
:mod:`sync.batchparts`); then every voucher is recorded in the central
database (and announced on the roster feed) in one transaction, with its
audit line; only after that commit is the staging folder renamed to
``out``. So any voucher a person can see in ``out`` is in the database
(traceability), and any failure before the commit leaves neither files nor
rows. The one window left, a failed rename after the commit, is reported
with the staging path.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from sync import batchdir, batchparts, issuing
from sync.cardrights import CardRights
from sync.errors import EXIT_ENV, CinePassError
from sync.fsutil import atomic_replace
from sync.issuing import IssueOptions, Member
from sync.server.db import session_scope
from sync.server.models import Voucher
from sync.voucher.keys import PrivateKey

from . import audit
from .batches import end_job, job_progress, record_batch, start_job
from .cinemas import check_cinemas, cinema_entries
from .errors import OfficeError
from .issuers import (
    MAX_AFTER_SALES,
    MAX_HOTLINE,
    card_contact,
    check_card_text,
    issuer_label,
    key_dir_for,
    signing_key,
)
from .vouchers import held_in_campaign

log = logging.getLogger("cinepass.issue")

#: How many members a repeat warning names before "and N more".
REPEAT_SHOWN = 20

Sessions = Engine | sessionmaker[Session]


@dataclass(frozen=True)
class Order:
    """What to issue, as the clerk asked: the flags of ``cinepass-admin issue`` (and the
    issue page's fields, which mean the same), checked by :func:`check_order`."""

    valid_days: int = issuing.MIN_VALID_DAYS
    formats: str | None = None
    cinemas: str | None = None
    campaign: str | None = None
    count: int | None = None
    issuer: str | None = None
    hotline: str | None = None
    after_sales: str | None = None
    allow_repeat: bool = False
    workers: int | None = None


#: The fields of :class:`Order`, named as the ``issue`` command's flags are.
ORDER_FIELDS = tuple(f.name for f in dataclasses.fields(Order))


@dataclass(frozen=True)
class Prepared:
    """An order with everything the database says about it, before anything is written."""

    order: Order
    options: IssueOptions
    members: Sequence[Member] | None
    out: Path
    kid: str
    key: PrivateKey
    label: str
    rights: CardRights
    held: dict[str, int]

    @property
    def total(self) -> int:
        return len(self.members) if self.members is not None else int(self.order.count or 0)


@dataclass(frozen=True)
class Issued:
    """A published batch: what the front ends tell the clerk."""

    batch: str
    total: int
    kid: str
    now: int
    exp: int
    out: Path
    pdfs: list[str]
    part_cards: int
    warning: str | None


@dataclass(frozen=True)
class Audit:
    """Who asks (the audit line's actor, address, subject and extra fields)."""

    actor: str
    address: str = "cli"
    subject: str = ""
    after: dict[str, Any] = dataclasses.field(default_factory=dict)


def check_order(order: Order) -> IssueOptions:
    """The flags of a batch, checked before anything is read (exit 2 on a bad one)."""
    if order.count is not None and order.count < 1:
        raise OfficeError("bad_count", "--count must be at least 1")
    if order.count is not None and order.count > issuing.MAX_BATCH:
        raise OfficeError("bad_count", f"--count at most {issuing.MAX_BATCH} per batch")
    if order.workers is not None and order.workers < 1:
        raise OfficeError("bad_workers", "--workers must be at least 1")
    return issuing.make_options(
        "-",  # the issuer code is known once the database is open
        valid_days=order.valid_days,
        formats=order.formats,
        cinemas=order.cinemas,
        campaign=order.campaign,
    )


def batch_rights(
    s: Session, code: str, cinemas: tuple[str, ...] | None, order: Order
) -> CardRights:
    """What the batch's cards state: the cinemas' names and addresses, the hotline and
    after-sales text (the batch's own flags, else what the issuer has stored)."""
    hotline, after_sales = order.hotline, order.after_sales
    stored_hotline, stored_after_sales = card_contact(s, code)
    given_hotline = check_card_text(hotline, "--hotline", MAX_HOTLINE)
    given_after_sales = check_card_text(after_sales, "--after-sales", MAX_AFTER_SALES)
    return CardRights(
        cinemas=cinema_entries(s, cinemas),
        hotline=given_hotline if hotline is not None else stored_hotline,
        after_sales=given_after_sales if after_sales is not None else stored_after_sales,
    )


def prepare(s: Session, order: Order, members: Sequence[Member] | None, out: Path) -> Prepared:
    """Everything about the input, before touching anything: the output folder, the
    issuer's signing key, the cinemas, the cards' text, the members who already hold
    vouchers in the campaign (reads only)."""
    options = check_order(order)
    batchdir.check_output_dir(out)
    code, kid, key = signing_key(s, order.issuer)
    check_cinemas(s, options.cinemas)
    label = issuer_label(s, code)
    rights = batch_rights(s, code, options.cinemas, order)
    refs = [m.ref for m in members] if members else []
    held = held_in_campaign(s, refs, options.campaign) if members else {}
    options = dataclasses.replace(options, iss=code)
    return Prepared(order, options, members, out, kid, key, label, rights, held)


def check_repeat(held: dict[str, int], campaign: str | None, *, allow: bool) -> str | None:
    """Refuse (exit 2) to issue again to members who already hold vouchers in the
    campaign, unless allowed; then the warning text is returned and the batch goes on."""
    if not held:
        return None
    shown = ", ".join(f"{ref} {n}" for ref, n in sorted(held.items())[:REPEAT_SHOWN])
    more = f" … +{len(held) - REPEAT_SHOWN}" if len(held) > REPEAT_SHOWN else ""
    where = f"campaign {campaign!r}" if campaign else "the vouchers issued without --campaign"
    text = (
        f"{len(held)} 名会员在此活动已持有观影券 / {len(held)} member(s) already hold "
        f"vouchers in {where} (member voucher(s)): {shown}{more}"
    )
    if not allow:
        raise OfficeError(
            "repeat_members",
            f"{text}; 未发放 / nothing issued: pass --allow-repeat to issue to them again",
        )
    return f"警告 / warning: {text}; issuing again (--allow-repeat)"


def batch_recorded(sessions: Sessions, batch: str) -> bool:
    """Whether the central database holds vouchers of ``batch`` (the truth, not the folder)."""
    with session_scope(sessions) as s:
        n = s.execute(
            select(func.count()).select_from(Voucher).where(Voucher.batch == batch)
        ).scalar_one()
    return bool(n)


def plan_for(prepared: Prepared) -> batchparts.Plan:
    """The fresh plan of a batch: a re-run with the same input has the same fingerprint."""
    members, options = prepared.members, prepared.options
    who = [(m.ref, m.name) for m in members] if members is not None else prepared.total
    return batchparts.Plan(
        fingerprint=batchparts.fingerprint(
            kid=prepared.kid,
            options=options,
            who=who,
            label=prepared.label,
            rights=prepared.rights,
        ),
        now=int(time.time()),
        batch=batchdir.batch_id(),
        total=prepared.total,
        part_cards=batchparts.PART_CARDS,
    )


def ignore(_what: str) -> None:
    """A listener that does not listen."""


@dataclass(frozen=True)
class Tell:
    """Whom to tell on the way: ``progress`` the vouchers of each finished part,
    ``notify`` the lines a person should read (the repeat warning, resuming an
    interrupted batch), ``started`` the batch id once the plan is known."""

    progress: Callable[[int], None] | None = None
    notify: Callable[[str], None] = ignore
    started: Callable[[str], None] = ignore


def issue_prepared(sessions: Sessions, prepared: Prepared, who: Audit, tell: Tell) -> Issued:
    """Sign, write, record (with the audit line) and publish; see the module's rule.

    An interruption keeps the staging folder (a re-run continues it); a
    refusal or an error removes it.
    """
    options, tmp = prepared.options, batchdir.resume_dir(prepared.out)
    plan, resumed = batchparts.open_plan(tmp, plan_for(prepared))  # another run's: refused
    tell.started(plan.batch)
    recorded, warning = False, None
    try:
        recorded = batch_recorded(sessions, plan.batch)
        if not recorded:
            warning = check_repeat(
                prepared.held, options.campaign, allow=prepared.order.allow_repeat
            )
            if warning:
                tell.notify(warning)
            if resumed:
                tell.notify(f"继续未完成的批次 / resuming batch {plan.batch} in {tmp}")
            make_parts(prepared, plan, tmp, tell.progress)
            with session_scope(sessions) as s:
                for part in batchparts.vouchers(tmp, plan, options):
                    record_batch(s, part, prepared.kid, plan.batch)
                audit.record(
                    s,
                    actor=who.actor,
                    action="batch.issue",
                    subject=who.subject or plan.batch,
                    after={
                        **who.after,
                        "batch": plan.batch,
                        "count": plan.total,
                        "kid": prepared.kid,
                        "campaign": options.campaign,
                    },
                    address=who.address,
                )
            recorded = True
        batchparts.tidy(tmp)
    except KeyboardInterrupt:
        raise
    except BaseException:
        if not recorded:  # a refusal (not an interruption): nothing was issued, nothing stays
            batchdir.discard_dir(tmp)
            batchparts.forget(tmp)
        raise
    try:
        batchdir.publish_dir(tmp, prepared.out)
    except OSError as exc:
        raise OfficeError(
            "publish_failed",
            f"vouchers recorded (batch {plan.batch}) but could not rename {tmp} to "
            f"{prepared.out}: {exc.strerror}; rename it by hand",
            exit_code=EXIT_ENV,
        ) from exc
    batchparts.forget(tmp)
    return Issued(
        batch=plan.batch,
        total=plan.total,
        kid=prepared.kid,
        now=plan.now,
        exp=issuing.expiry_for(plan.now, options.valid_days),
        out=prepared.out,
        pdfs=batchparts.pdf_names(plan),
        part_cards=plan.part_cards,
        warning=warning,
    )


def make_parts(prepared: Prepared, plan: batchparts.Plan, tmp: Path, progress: Any) -> None:
    """Sign and write the parts on all cores, then join them (:mod:`sync.batchparts`)."""
    members, key_pem = prepared.members, prepared.key.to_pem()

    def job(part: int) -> batchparts.PartJob:
        first = part * plan.part_cards
        chunk = members[first : first + plan.size(part)] if members else None
        return batchparts.PartJob(
            stage=tmp,
            part=part,
            key_pem=key_pem,
            options=prepared.options,
            members=tuple(chunk) if chunk else None,
            count=plan.size(part),
            now=plan.now,
            label=prepared.label,
            rights=prepared.rights,
        )

    workers = prepared.order.workers or os.cpu_count() or 1
    batchparts.run_parts(tmp, plan, job, workers=workers, progress=progress)
    batchparts.finish(tmp, plan)


# -- the console's background issue (its state: :mod:`sync.office.batches` jobs) -------

#: ``CINEPASS_BATCH_DIR``: where the console's batches are written (default: ``batches/``
#: beside the keys, i.e. beside a SQLite database, else in the user data folder).
BATCH_DIR_ENV = "CINEPASS_BATCH_DIR"
ZIP_NAME = "qr.zip"


def batch_root(sessions: Sessions) -> Path:
    """The folder holding the console's batch folders (one per job)."""
    given = os.environ.get(BATCH_DIR_ENV, "")
    if given:
        return Path(given)
    engine = sessions if isinstance(sessions, Engine) else sessions.kw["bind"]
    url = engine.url.render_as_string(hide_password=False)
    return key_dir_for(url).parent / "batches"


def zip_pngs(folder: Path, dest: Path) -> None:
    """A ZIP of the batch's PNGs (stored, not deflated: a PNG is compressed already)."""
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        for png in sorted(folder.glob("*.png")):
            z.write(png, png.name)
    atomic_replace(tmp, dest)


def run_job(sessions: Sessions, job_id: str, prepared: Prepared, who: Audit) -> None:
    """Issue ``prepared`` as console job ``job_id``, telling its row how far it is.

    Runs in a background thread of the server (the request that started it
    has answered); every step is written to the job's row, so the progress
    page can be answered by any server process. Never raises: the outcome is
    the row (``done`` with its files, or ``failed`` with the reason).
    """
    done = 0

    def beat(**what: Any) -> None:
        with session_scope(sessions) as s:
            job_progress(s, job_id, **what)

    def progress(n: int) -> None:
        nonlocal done
        done += n
        beat(done=done, phase="record" if done >= prepared.total else "sign")

    notes: list[str] = []
    try:
        tell = Tell(progress, notes.append, lambda batch: beat(batch=batch, phase="sign"))
        issued = issue_prepared(sessions, prepared, who, tell)
        beat(phase="zip")
        zip_pngs(issued.out, issued.out.with_name(f"{issued.out.name}.{ZIP_NAME}"))
        files = ["vouchers.csv", *issued.pdfs, ZIP_NAME]
        with session_scope(sessions) as s:
            end_job(s, job_id, ok=True, message=" ".join(notes) or None, files=files)
    except Exception as exc:  # the outcome goes to the row; a bug also to the log
        if not isinstance(exc, CinePassError):
            log.error("issue job %s failed", job_id, exc_info=exc)
        text = exc.message if isinstance(exc, CinePassError) else "内部错误 / internal error"
        with session_scope(sessions) as s:
            end_job(s, job_id, ok=False, message=text)


def start_in_background(
    sessions: Sessions, prepared: Prepared, who: Audit, job_id: str
) -> threading.Thread:
    """Record the job (committed, so a poll finds it at once) and start its thread."""
    with session_scope(sessions) as s:
        start_job(
            s,
            job_id,
            total=prepared.total,
            folder=str(prepared.out),
            campaign=prepared.options.campaign,
            actor=who.actor,
        )
    thread = threading.Thread(
        target=run_job, args=(sessions, job_id, prepared, who), name=f"issue-{job_id}", daemon=True
    )
    thread.start()
    return thread
