"""Issuing a batch of any size: in parts, on all cores, streamed to disk, resumable.

A batch of ``total`` vouchers is cut into parts of :data:`PART_CARDS` (the
last one shorter). One part is one job for a worker process: it signs its
vouchers, draws each QR once (the PNG and the card share it), writes the
PNGs, the part's CSV rows and the part's PDF (``fpdf2`` holds a document in
memory, so a part bounds what any process holds), and last, atomically, the
part's ``.rows`` file, which is what marks the part done. Nothing of a part
is kept in memory after it is written, so memory does not grow with the batch.

The plan (fingerprint of the arguments, issue time, batch id, parts) is
``.<out>.partial-issue.json`` beside the staging folder
(:func:`sync.batchdir.resume_dir`, ``.<out>.partial-issue``), which holds::

    XXXX-....png           the PNGs, already where they will be published
    .work/part-00001.codes the short codes a part is about to write (its clean-up list)
    .work/part-00001.csv   its CSV rows, in member order
    .work/part-00001.pdf   its cards
    .work/part-00001.rows  cti, member, holder, token per voucher: written last = part done

Interrupted (Ctrl-C, a kill, a power cut), the folder stays; a re-run with
the same arguments finds the plan, keeps every part whose ``.rows`` and files
are complete and redoes only the others. A redone part gets new vouchers, and
that is safe: nothing of the batch is in the central database before
:func:`finish` has joined every part, so a voucher of an unfinished part was
never issued (no one can redeem it: the kiosks learn of vouchers through the
roster feed written in the same transaction as the rows). The database, not
the folder, says whether a batch was recorded (``vouchers.batch``), which is
how a re-run after a crash between the commit and the publishing rename only
publishes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sync.cardrights import CardRights
from sync.fsutil import atomic_write
from sync.issuing import (
    IssuedVoucher,
    IssueError,
    IssueOptions,
    Member,
    create_voucher,
    display_date,
    expiry_for,
    valid_until_date,
)
from sync.voucher.codec import Voucher, decode_and_verify, keyring
from sync.voucher.keys import PrivateKey

#: Cards per part: 250 A4 pages, ~60 MB of fpdf2 objects in one worker while it is built,
#: and a print job any shop's RIP takes. A batch of at most this many has one ``cards.pdf``.
PART_CARDS = 2000
#: Below this many vouchers the worker processes cost more (spawn, imports) than they save.
POOL_THRESHOLD = 400
WORK = ".work"
CSV_HEADER = ("short_code", "member_ref", "holder", "valid_from", "valid_until", "qr_text")


@dataclass(frozen=True)
class Plan:
    """What a batch is, written before the first part so a re-run continues it."""

    fingerprint: str
    now: int
    batch: str
    total: int
    part_cards: int

    @property
    def parts(self) -> int:
        return -(-self.total // self.part_cards)

    def size(self, part: int) -> int:
        return min(self.part_cards, self.total - part * self.part_cards)


def fingerprint(**what: Any) -> str:
    """A hash of everything that makes the batch what it is (arguments, members, key)."""
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def plan_path(stage: Path) -> Path:
    """Where the plan of ``stage`` is kept: beside it, so publishing the folder leaves
    the plan behind until the batch is out (a re-run after that publishes only)."""
    return stage.with_name(stage.name + ".json")


def open_plan(stage: Path, fresh: Plan) -> tuple[Plan, bool]:
    """The plan of the batch in ``stage``: ``fresh`` written there, or the one found.

    Returns (plan, resumed). A folder left by a run with other arguments is
    refused (exit 2) rather than mixed in or thrown away.
    """
    path = plan_path(stage)
    if path.is_file():
        try:
            found = Plan(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise IssueError("bad_resume", f"{path} is damaged: delete {stage}") from exc
        if found.fingerprint != fresh.fingerprint:
            raise IssueError(
                "resume_mismatch",
                f"{stage} 中是另一批未完成的发放 / holds an interrupted batch issued with other "
                f"arguments: re-run that command, or delete {stage} to start over",
            )
        return found, True
    shutil.rmtree(stage, ignore_errors=True)  # no plan: whatever is there belongs to no batch
    (stage / WORK).mkdir(parents=True)
    atomic_write(path, json.dumps(asdict(fresh)).encode(), mode=0o644)
    return fresh, False


def _name(part: int, suffix: str) -> str:
    return f"part-{part + 1:05d}.{suffix}"


def pdf_names(plan: Plan) -> list[str]:
    """``cards.pdf`` for a one-part batch, else ``cards-0001.pdf``, ``cards-0002.pdf``..."""
    if plan.parts == 1:
        return ["cards.pdf"]
    width = max(4, len(str(plan.parts)))
    return [f"cards-{i + 1:0{width}d}.pdf" for i in range(plan.parts)]


# -- one part (runs in a worker process, or in this one for small batches) ------------


@dataclass(frozen=True)
class PartJob:
    """Everything a worker needs for one part (pickled to it)."""

    stage: Path
    part: int
    key_pem: bytes
    options: IssueOptions
    members: tuple[Member, ...] | None
    count: int
    now: int
    label: str
    rights: CardRights | None
    font: Path | None = None  # the batch's small font (sync.cardfont); None: the full one


_KEYS: dict[bytes, PrivateKey] = {}


def peak_rss() -> int:
    """This process's peak resident memory in bytes (0 where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    scale = 1 if os.uname().sysname == "Darwin" else 1024  # macOS says bytes, Linux KiB
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def make_part(job: PartJob) -> tuple[int, int]:
    """Sign, draw and write one part: (vouchers in it, this process's peak RSS)."""
    from sync import cards, qrfast

    key = _KEYS.get(job.key_pem)
    if key is None:
        key = _KEYS.setdefault(job.key_pem, PrivateKey.from_pem(job.key_pem))
    work = job.stage / WORK
    who: Sequence[Member | None] = job.members if job.members is not None else [None] * job.count
    issued = [create_voucher(key, job.options, member=m, now=job.now) for m in who]
    decode_and_verify(issued[0].token, keyring(key.public))  # the round trip, once a part
    (work / _name(job.part, "codes")).write_text(
        "\n".join(i.short_code for i in issued), encoding="ascii"
    )
    matrices = qrfast.qr_matrices([i.token for i in issued])
    codes = [i.short_code for i in issued]  # a property that encodes each time: once here
    for code, matrix in zip(codes, matrices, strict=True):
        (job.stage / f"{code}.png").write_bytes(cards.png_bytes(matrix))
    arts = [cards.QRArt.of(m) for m in matrices]
    for font in dict.fromkeys((job.font, None)):  # the small font; if it lacks a glyph, the full
        sheet = cards.CardSheet(title=f"CinePass {job.label}", font=font, rights=job.rights)
        for item, art, code in zip(issued, arts, codes, strict=True):
            sheet.add(card_of(item, job.label, art, code=code))
        if not sheet.missing:
            break
    sheet.save(work / _name(job.part, "pdf"))
    text = io.StringIO()
    writer = csv.writer(text)
    rows = []
    for item, code in zip(issued, codes, strict=True):
        v = item.voucher
        writer.writerow(csv_row(item, code=code))
        rows.append(f"{v.cti.hex()}\t{item.member_ref or ''}\t{v.holder or ''}\t{item.token}\n")
    (work / _name(job.part, "csv")).write_text(text.getvalue(), encoding="utf-8", newline="")
    atomic_write(work / _name(job.part, "rows"), "".join(rows).encode(), mode=0o644)
    return len(issued), peak_rss()


def csv_row(item: IssuedVoucher, code: str | None = None) -> tuple[str, ...]:
    """One line of vouchers.csv (:data:`CSV_HEADER`); ``code``: the short code, if known."""
    v = item.voucher
    return (
        code or v.short_code,
        item.member_ref or "",
        v.holder or "",
        display_date(v.nbf),
        valid_until_date(v.exp),
        item.token,
    )


def card_of(item: IssuedVoucher, label: str, art: Any = None, code: str | None = None) -> Any:
    """The :class:`sync.cards.Card` of a voucher (``art``: its QR, already drawn)."""
    from sync import cards

    return cards.Card.of(item.voucher, item.token, label, art=art, code=code)


# -- the whole batch -------------------------------------------------------------------


def _read_rows(stage: Path, part: int) -> list[list[str]] | None:
    try:
        text = (stage / WORK / _name(part, "rows")).read_text(encoding="utf-8")
    except OSError:
        return None
    return [line.split("\t") for line in text.splitlines()]


def part_done(stage: Path, plan: Plan, part: int) -> bool:
    """A part is done when its rows file is whole and every file it names exists."""
    rows = _read_rows(stage, part)
    if rows is None or len(rows) != plan.size(part) or any(len(r) != 4 for r in rows):
        return False
    work = stage / WORK
    if not (work / _name(part, "csv")).is_file() or not (work / _name(part, "pdf")).is_file():
        return False
    from sync.voucher.shortcode import encode_short_code

    return all((stage / f"{encode_short_code(bytes.fromhex(r[0]))}.png").is_file() for r in rows)


def clean_part(stage: Path, part: int) -> None:
    """Remove what an unfinished part left (its PNGs by the codes it announced)."""
    work = stage / WORK
    try:
        codes = (work / _name(part, "codes")).read_text(encoding="ascii").split()
    except OSError:
        codes = []
    for code in codes:
        (stage / f"{code}.png").unlink(missing_ok=True)
    for suffix in ("codes", "csv", "pdf", "rows"):
        (work / _name(part, suffix)).unlink(missing_ok=True)


def run_parts(
    stage: Path,
    plan: Plan,
    job: Callable[[int], PartJob],
    *,
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Make every part not done yet: (parts already done, the workers' peak RSS in bytes).

    At most ``2 * workers`` jobs are in flight, so the members sent to the
    workers stay a few parts' worth, not the batch.
    """
    todo, kept = [], 0
    if plan.parts > 1:  # one part loads the font once anyway: no copy for it
        job = with_font(stage, plan, job)
    for p in range(plan.parts):
        if part_done(stage, plan, p):
            kept += 1
            if progress is not None:
                progress(plan.size(p))
        else:
            clean_part(stage, p)
            todo.append(p)
    if workers <= 1 or plan.total - kept * plan.part_cards < POOL_THRESHOLD:
        for p in todo:
            n, _ = make_part(job(p))
            if progress is not None:
                progress(n)
        return kept, 0
    import multiprocessing

    # spawn, not fork: a forked child inherits the parent's threads' locks (a server
    # thread in the same process, logging) and could hang; spawn costs ~0.3 s.
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    queue = list(reversed(todo))
    running: set[Future[tuple[int, int]]] = set()
    peak = 0
    try:
        while queue or running:
            while queue and len(running) < 2 * workers:
                running.add(pool.submit(make_part, job(queue.pop())))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                n, rss = f.result()  # a worker's error stops the batch, as in-process
                peak = max(peak, rss)
                if progress is not None:
                    progress(n)
    except BaseException:  # Ctrl-C or an error: start nothing more; the parts done stay
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return kept, peak


def with_font(stage: Path, plan: Plan, job: Callable[[int], PartJob]) -> Callable[[int], PartJob]:
    """``job`` with the batch's small font (:mod:`sync.cardfont`), made here once."""
    from dataclasses import replace

    from sync import cardfont

    first = job(0)
    texts: list[str | None] = [first.label, first.options.campaign]
    texts += list(first.options.cinemas or ()) + list(first.options.formats)
    for p in range(plan.parts):
        texts += [m.name for m in job(p).members or ()]
    chars = cardfont.batch_characters(texts, first.rights)
    font = cardfont.batch_font(chars, stage / WORK / "cards-font.ttf")
    return lambda part: replace(job(part), font=font)


def finish(stage: Path, plan: Plan) -> list[str]:
    """Join the parts into vouchers.csv and the PDF file(s); returns the PDF names.

    Idempotent (a re-run after a crash here does it again): the parts stay in
    ``.work`` until :func:`tidy`. Then everything is flushed to disk, because
    the next step records the batch and from then on these files are what
    the members get.
    """
    work = stage / WORK
    tmp = stage / "vouchers.csv.tmp"
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerow(CSV_HEADER)
        for p in range(plan.parts):
            with open(work / _name(p, "csv"), encoding="utf-8", newline="") as part:
                shutil.copyfileobj(part, fh)
    os.replace(tmp, stage / "vouchers.csv")
    names = pdf_names(plan)
    for p, name in enumerate(names):
        src = work / _name(p, "pdf")
        if src.exists():
            os.replace(src, stage / name)
    if hasattr(os, "sync"):
        os.sync()  # one flush of the whole folder: an fsync per PNG would cost minutes
    return names


def vouchers(stage: Path, plan: Plan, options: IssueOptions) -> Iterator[list[IssuedVoucher]]:
    """The batch's vouchers, a part at a time (to record them; memory stays one part)."""
    exp = expiry_for(plan.now, options.valid_days)
    for p in range(plan.parts):
        rows = _read_rows(stage, p)
        if rows is None:
            raise IssueError("bad_resume", f"part {p + 1} of {stage} is missing")
        yield [
            IssuedVoucher(
                voucher=Voucher(
                    iss=options.iss,
                    cti=bytes.fromhex(cti),
                    iat=plan.now,
                    nbf=plan.now,
                    exp=exp,
                    formats=options.formats,
                    cinemas=options.cinemas,
                    holder=holder or None,
                    admissions=options.admissions,
                    campaign=options.campaign,
                    sub=ref or None,
                ),
                token=token,
                member_ref=ref or None,
            )
            for cti, ref, holder, token in rows
        ]


def tidy(stage: Path) -> None:
    """Remove the parts before publishing (only the batch's files stay)."""
    shutil.rmtree(stage / WORK, ignore_errors=True)


def forget(stage: Path) -> None:
    """Remove the plan: once the batch is published, or when it is thrown away."""
    plan_path(stage).unlink(missing_ok=True)
