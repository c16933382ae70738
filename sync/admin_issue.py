"""``cinepass-admin init | export-key | issue``: issuer keys and voucher batches.

``issue`` is the office's one issuing sequence (:mod:`sync.office.issuing`,
shared with the console): this module only reads the flags and the members
file and prints. Its consistency rule (staged, recorded in one transaction,
then published) is told there and in docs/issuing-at-scale.md.

``init`` writes the private key file (0600) first and the database rows
second, deleting the file again if the database refuses.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from sync import batchdir, issuing
from sync.admin_common import AdminError, command, db_url, open_db, session
from sync.cliparse import Parser
from sync.errors import EXIT_OK
from sync.fsutil import atomic_write
from sync.issuing import Member
from sync.members import MembersError, read_members
from sync.office import audit
from sync.office import issuing as office_issuing
from sync.office.issuers import (
    active_kids,
    add_signing_key,
    check_issuer_code,
    key_dir_for,
    one_line,
    set_card_contact,
    signing_key,
    trusted_keys,
)
from sync.server.db import session_scope
from sync.voucher.keys import PrivateKey, save_private_key

#: Office functions are re-exported only because kiosk/demo.py still imports them from
#: here; once it imports :mod:`sync.office` they leave this list.
__all__ = ["Progress", "register", "signing_key"]

PROG = "cinepass-admin"

# -- helpers ------------------------------------------------------------------


class Progress:
    """A progress bar on stderr when it is a terminal; silent otherwise (logs, tests)."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label, self.total, self.done = label, max(total, 1), 0
        self._last = 0.0

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            width = 30
            filled = width * self.done // self.total
            self.stream.write(
                f"\r{self.label:<8} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total}"
            )
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()


# -- init ---------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    code = check_issuer_code(args.issuer)
    url = db_url(args)
    key_dir = Path(args.key_dir) if args.key_dir else key_dir_for(url)
    engine = open_db(url, create=True)
    with session_scope(engine) as s:
        kids = active_kids(s, code)
    if kids and not args.rotate:
        raise AdminError(
            "issuer_exists",
            f"issuer {code} already has key {kids[-1]}: pass --rotate to make a new signing "
            "key (the old one stays trusted for vouchers already issued)",
        )
    key = PrivateKey.generate()
    kid = key.public.kid.hex()
    path = (key_dir / f"{code}-{kid}.pem").resolve()
    try:
        save_private_key(path, key)
    except OSError as exc:
        raise AdminError("key_unwritable", f"cannot write key file {path}: {exc.strerror}") from exc
    try:
        with session_scope(engine) as s:
            add_signing_key(s, code, args.name, key, path)
            if args.hotline is not None or args.after_sales is not None:
                set_card_contact(s, code, hotline=args.hotline, after_sales=args.after_sales)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    verb = "rotated: new signing key" if kids else "created key"
    print(f"issuer {code}: {verb} {kid}")
    print(f"private key: {path} (mode 0600; back it up and keep it secret)")
    if kids:
        print(f"still trusted for verification: {', '.join(kids)}")
    return EXIT_OK


# -- issuer set ---------------------------------------------------------------


def cmd_issuer_set(args: argparse.Namespace) -> int:
    if args.hotline is None and args.after_sales is None and args.name is None:
        raise AdminError(
            "nothing_to_set", "给出要修改的内容 / give --hotline, --after-sales or --name"
        )
    with session(args) as s:
        code, _kid, _key = signing_key(s, args.issuer)
        issuer = set_card_contact(s, code, hotline=args.hotline, after_sales=args.after_sales)
        if args.name is not None:
            issuer.name = one_line(args.name, "--name", 200) or issuer.name
        hotline, after_sales = issuer.hotline, issuer.after_sales
    print(f"issuer {code}: hotline {hotline or '-'}; after-sales {after_sales or '(default)'}")
    return EXIT_OK


# -- export-key ---------------------------------------------------------------


def cmd_export_key(args: argparse.Namespace) -> int:
    with session(args) as s:
        keys = trusted_keys(s, args.issuer)
    if not keys:
        who = f"issuer {args.issuer}" if args.issuer else "any issuer"
        raise AdminError("no_issuer", f"no trusted key for {who}: run `cinepass-admin init` first")
    out = Path(args.out)
    if out.is_dir():
        raise AdminError("bad_out", f"--out {out} is a folder: give a file name, e.g. issuer.pem")
    # newest (signing) key first: a reader that takes one PEM block gets that one
    pem = b"".join(k.to_pem() for _, _, k in keys)
    try:
        atomic_write(out, pem, mode=0o644)  # public keys: meant to be copied around
    except OSError as exc:
        raise AdminError("bad_out", f"cannot write {out}: {exc.strerror}") from exc
    for code, kid, _ in keys:
        print(f"{code} {kid}")
    print(f"wrote {len(keys)} public key(s) to {out}")
    return EXIT_OK


# -- issue --------------------------------------------------------------------


def cmd_issue(args: argparse.Namespace) -> int:
    """``issue``: the office's one issuing sequence (:mod:`sync.office.issuing`)."""
    started = time.monotonic()
    # 1. everything about the input, before touching anything
    order = office_issuing.Order(**{f: getattr(args, f) for f in office_issuing.ORDER_FIELDS})
    office_issuing.check_order(order)
    members = read_members_listing(Path(args.members), args.encoding) if args.members else None
    out = Path(args.out).resolve()  # "." or "x/.." have no name to stage beside
    batchdir.check_output_dir(out)
    engine = open_db(db_url(args))
    with session_scope(engine) as s:
        prepared = office_issuing.prepare(s, order, members, out)
    who = office_issuing.Audit(
        actor=audit.os_user(), address="cli", subject=str(args.out), after=audit_flags(args)
    )
    # 2. sign and write in parts, record in one go, publish (docs/issuing-at-scale.md)
    try:
        tell = office_issuing.Tell(Progress("issuing", prepared.total), say)
        issued = office_issuing.issue_prepared(engine, prepared, who, tell)
    except KeyboardInterrupt:
        print(
            f"{PROG}: 已中断，再次运行同一命令即可继续 / interrupted: run the same command "
            f"again to continue (kept in {batchdir.resume_dir(out)})",
            file=sys.stderr,
        )
        raise
    total = issued.total
    print(
        f"issued {total} voucher(s), batch {issued.batch}, key {issued.kid}, valid "
        f"{issuing.display_date(issued.now)} to {issuing.valid_until_date(issued.exp)}"
    )
    pages = -(-total // 8)
    pdfs = issued.pdfs
    print(f"  {out / 'vouchers.csv'}")
    print(f"  {out}/XXXX-XXXX-XXXX-XXXX.png ({total} PNG, one per voucher)")
    if len(pdfs) == 1:
        print(f"  {out / pdfs[0]} ({pages} A4 page(s))")
    else:
        print(
            f"  {out / pdfs[0]} … {pdfs[-1]} ({len(pdfs)} PDF parts of up to "
            f"{issued.part_cards} cards, {pages} A4 page(s))"
        )
    print(f"  took {time.monotonic() - started:.1f} s")
    return EXIT_OK


def say(text: str) -> None:
    """A line for the clerk on stderr (a warning, resuming), the program's name first."""
    print(f"{PROG}: {text}", file=sys.stderr)


def read_members_listing(path: Path, encoding: str) -> list[Member]:
    """The members file, or every problem of it on stderr, one line each (then exit 2
    with the one-line summary, nothing issued): docs/members-csv.md."""
    try:
        return read_members(path, encoding)
    except MembersError as exc:
        if len(exc.problems) > 1:
            for p in exc.problems:
                say(p.message)
        raise


def audit_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The flags the audit line names (never a key)."""
    keep = ("issuer", "count", "members", "out", "valid_days", "formats", "cinemas", "campaign")
    return {k: getattr(args, k) for k in keep if getattr(args, k, None) not in (None, False)}


# -- registration -------------------------------------------------------------


def register(sub: Any) -> None:
    """Add ``init``, ``issuer set``, ``export-key`` and ``issue`` to ``cinepass-admin``."""
    p = command(sub, "init", "create (or --rotate) an issuer's Ed25519 signing key", cmd_init)
    p.add_argument("--issuer", required=True, help="issuing union's code, e.g. ACFTU-SH")
    p.add_argument("--name", help="the union's name, printed on cards")
    p.add_argument("--rotate", action="store_true", help="make a new key; the old stays trusted")
    p.add_argument("--key-dir", help="folder for the private key (default: beside the database)")
    add_contact_flags(p)

    p = command(sub, "issuer", "the issuer's hotline and after-sales text (on cards)", None)
    isub = p.add_subparsers(dest="issuer_command", required=True, parser_class=Parser)
    a = command(isub, "set", "change the hotline, after-sales text or name", cmd_issuer_set)
    a.add_argument("--issuer", help="issuer code (needed when there are several)")
    a.add_argument("--name", help="the union's name, printed on cards")
    add_contact_flags(a)

    p = command(sub, "export-key", "write the trusted public key(s) as PEM", cmd_export_key)
    p.add_argument("--out", required=True, help="PEM file to write")
    p.add_argument("--issuer", help="only this issuer's keys")

    p = command(sub, "issue", "issue a batch of vouchers (CSV, PNGs, printable PDF)", cmd_issue)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--count", type=int, help="number of anonymous vouchers")
    who.add_argument("--members", help="members CSV (member reference + name columns)")
    p.add_argument("--out", required=True, help="new folder for the batch")
    for flag, kw in ISSUE_FLAGS:
        p.add_argument(flag, **kw)
    add_contact_flags(p, batch=True)
    p.add_argument(
        "--allow-repeat",
        action="store_true",
        help="issue even to members who already hold vouchers in this campaign",
    )


#: ``issue``'s flags for what every voucher of the batch shares.
ISSUE_FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--issuer", {"help": "issuer code (needed when there are several)"}),
    (
        "--valid-days",
        {"type": int, "default": issuing.MIN_VALID_DAYS, "help": "validity in days (at least 365)"},
    ),
    ("--formats", {"default": "2D,3D", "help": "allowed formats (default 2D,3D)"}),
    ("--cinemas", {"help": "allowed cinema codes, comma separated (default: all)"}),
    (
        "--campaign",
        {"help": "campaign (its code; see cinepass-admin campaign) printed on the cards"},
    ),
    ("--encoding", {"default": "utf-8", "help": "members CSV encoding (e.g. gb18030)"}),
    ("--workers", {"type": int, "help": "processes signing and drawing (default: every core)"}),
)


def add_contact_flags(p: argparse.ArgumentParser, *, batch: bool = False) -> None:
    """``--hotline`` and ``--after-sales``: stored on the issuer, or for one batch only."""
    scope = "this batch's cards (default: the issuer's)" if batch else "the issuer's cards"
    p.add_argument("--hotline", help=f"loss/freeze hotline printed on {scope}")
    p.add_argument("--after-sales", help=f"after-sales rule (loss, reissue) printed on {scope}")
