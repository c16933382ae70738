"""The batch folder: vouchers.csv, one PNG per voucher and cards.pdf.

Written into a hidden sibling of ``--out`` (:func:`staging_dir`) and renamed
into place (:func:`publish_dir`) only when complete and recorded, so a crash or
an error never leaves a half batch where people look. See :mod:`sync.issuing`
for what the folder holds.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sync.batchparts import CSV_HEADER, card_of, csv_row
from sync.cardrights import CardRights
from sync.fsutil import fsync_dir
from sync.issuing import IssuedVoucher, IssueError

if TYPE_CHECKING:
    from sync.cards import QRArt

__all__ = [
    "CSV_HEADER",
    "batch_id",
    "check_output_dir",
    "discard_dir",
    "publish_dir",
    "resume_dir",
    "staging_dir",
    "write_batch",
]

# -- the batch folder ---------------------------------------------------------


def check_output_dir(out: Path) -> None:
    """Refuse a target that exists and is not empty, or whose parent we cannot write."""
    if out.exists() and not out.is_dir():
        raise IssueError("output_exists", f"{out} is a file: --out needs a new folder")
    if out.exists() and any(out.iterdir()):
        raise IssueError(
            "output_exists", f"{out} already exists and is not empty: pick a new folder"
        )
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise IssueError("output_unwritable", f"folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise IssueError("output_unwritable", f"cannot write into folder {parent}")


def staging_dir(out: Path) -> Path:
    """A fresh hidden sibling of ``out`` (same file system, so the final rename is atomic)."""
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
    except OSError as exc:
        raise IssueError("output_unwritable", f"cannot create {tmp}: {exc.strerror}") from exc
    return tmp


def resume_dir(out: Path) -> Path:
    """The staging folder of ``cinepass-admin issue``: the same name on every run for
    the same ``--out``, so a re-run finds an interrupted batch (:mod:`sync.batchparts`)."""
    tmp = out.with_name(f".{out.name}.partial-issue")
    try:
        tmp.mkdir(exist_ok=True)
    except OSError as exc:
        raise IssueError("output_unwritable", f"cannot create {tmp}: {exc.strerror}") from exc
    return tmp


def publish_dir(tmp: Path, out: Path) -> None:
    """Move the finished batch into place (``out`` absent or empty), durably.

    A folder, not a file: :func:`sync.fsutil.atomic_replace` would open it to
    fsync it, which Windows refuses; the rename is atomic and
    :func:`~sync.fsutil.fsync_dir` makes it durable where the platform needs it.
    """
    if out.exists():
        out.rmdir()  # empty, checked by check_output_dir
    os.replace(tmp, out)
    fsync_dir(out.parent)


def discard_dir(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)


def _qr_files(job: tuple[Path, list[tuple[str, str]]]) -> list[QRArt]:
    """Worker: write each voucher's PNG and return its QR ready for the card.

    Runs in a process pool: QR encoding and PNG writing are most of a batch's
    CPU time and independent per voucher, so they use the second core while
    the main process builds the PDF (which fpdf2 can only do in one place).
    """
    from sync import cards, qrfast

    folder, items = job
    out: list[QRArt] = []
    for (short_code, _), matrix in zip(
        items, qrfast.qr_matrices([t for _, t in items]), strict=True
    ):
        (folder / f"{short_code}.png").write_bytes(cards.png_bytes(matrix))
        out.append(cards.QRArt.of(matrix))
    return out


POOL_THRESHOLD = 400  # below this a process pool costs more than it saves
CHUNK = 200


def _qr_art_stream(qr_dir: Path, issued: Sequence[IssuedVoucher], workers: int) -> Iterator[QRArt]:
    jobs = [
        (qr_dir, [(v.short_code, v.token) for v in issued[i : i + CHUNK]])
        for i in range(0, len(issued), CHUNK)
    ]
    if workers <= 1 or len(issued) < POOL_THRESHOLD:
        for job in jobs:
            yield from _qr_files(job)
        return
    import multiprocessing

    # spawn, not fork: a forked child inherits the parent's threads' locks (a server
    # thread in the same process, logging) and could hang; spawn costs ~0.3 s here.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for result in pool.imap(_qr_files, jobs):
            yield from result


def write_batch(
    folder: Path,
    issued: Sequence[IssuedVoucher],
    issuer_label: str,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    rights: CardRights | None = None,
) -> None:
    """Write vouchers.csv, one ``<short code>.png`` per voucher and cards.pdf into ``folder``.

    Each QR is encoded once (by a worker, which also writes the PNG) and the
    same modules are drawn on the card. ``rights`` (cinema names and
    addresses, hotline, after-sales text) is what every card of the batch states.
    """
    from sync import cards

    qr_dir = folder  # PNGs beside the CSV: what a print shop or mail merge expects
    n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    sheet = cards.CardSheet(title=f"CinePass {issuer_label}", rights=rights)
    with open(folder / "vouchers.csv", "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        arts = _qr_art_stream(qr_dir, issued, n_workers)
        for item, art in zip(issued, arts, strict=True):
            writer.writerow(csv_row(item))
            sheet.add(card_of(item, issuer_label, art))
            if progress is not None:
                progress(1)
    sheet.save(folder / "cards.pdf")


def batch_id(now: int | None = None) -> str:
    """A readable, unique batch name: ``B20261201-085512-3f9a``."""
    t = datetime.fromtimestamp(int(time.time()) if now is None else now, UTC)
    return f"B{t:%Y%m%d-%H%M%S}-{os.urandom(2).hex()}"
