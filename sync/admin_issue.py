"""``cinepass-admin init | export-key | issue``: issuer keys and voucher batches.

Consistency rule for ``issue``: the batch is first written completely into a
hidden staging folder beside ``--out``; then every voucher is recorded in the
central database (and announced on the roster feed) in one transaction;
only after that commit is the staging folder renamed to ``--out``. So any
voucher a person can see in ``--out`` is in the database (traceability), and
any failure before the commit leaves neither files nor rows. The one window
left, a failed rename after the commit, is reported with the staging path.

``init`` writes the private key file (0600) first and the database rows
second, deleting the file again if the database refuses.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from sync import batchdir, issuing
from sync.admin_common import AdminError, add_common, db_url, open_db, session
from sync.errors import EXIT_ENV, EXIT_OK
from sync.fsutil import atomic_write
from sync.office.batches import record_batch
from sync.office.cinemas import check_cinemas
from sync.office.issuers import (
    active_kids,
    add_signing_key,
    check_issuer_code,
    issuer_label,
    key_dir_for,
    signing_key,
    trusted_keys,
)
from sync.server.db import session_scope
from sync.voucher.codec import decode_and_verify, keyring
from sync.voucher.keys import PrivateKey, save_private_key

#: Office functions are re-exported only because kiosk/demo.py still imports them from
#: here; once it imports :mod:`sync.office` they leave this list.
__all__ = ["Progress", "register", "signing_key"]

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
    engine = open_db(url)
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
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    verb = "rotated: new signing key" if kids else "created key"
    print(f"issuer {code}: {verb} {kid}")
    print(f"private key: {path} (mode 0600; back it up and keep it secret)")
    if kids:
        print(f"still trusted for verification: {', '.join(kids)}")
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
    started = time.monotonic()
    # 1. everything about the input, before touching anything
    if args.count is not None and args.count < 1:
        raise AdminError("bad_count", "--count must be at least 1")
    if args.count is not None and args.count > issuing.MAX_BATCH:
        raise AdminError("bad_count", f"--count at most {issuing.MAX_BATCH} per batch")
    options = issuing.make_options(
        "-",  # the issuer code is known once the database is open
        valid_days=args.valid_days,
        formats=args.formats,
        cinemas=args.cinemas,
        campaign=args.campaign,
    )
    members = issuing.read_members(Path(args.members), args.encoding) if args.members else None
    out = Path(args.out).resolve()  # "." or "x/.." have no name to stage beside
    batchdir.check_output_dir(out)
    engine = open_db(db_url(args))
    with session_scope(engine) as s:
        code, kid, key = signing_key(s, args.issuer)
        check_cinemas(s, options.cinemas)
        label = issuer_label(s, code)
    options = dataclasses.replace(options, iss=code)
    # 2. sign; check the first voucher round-trips before printing thousands
    total = len(members) if members is not None else int(args.count)
    issued = issuing.create_batch(
        key, options, members=members, count=args.count, progress=Progress("signing", total)
    )
    decode_and_verify(issued[0].token, keyring(key.public))
    # 3. files into the staging folder, 4. database, 5. rename into place
    tmp = batchdir.staging_dir(out)
    try:
        batchdir.write_batch(tmp, issued, label, progress=Progress("writing", total))
        batch = batchdir.batch_id()
        with session_scope(engine) as s:
            record_batch(s, issued, kid, batch)
    except BaseException:
        batchdir.discard_dir(tmp)
        raise
    try:
        batchdir.publish_dir(tmp, out)
    except OSError as exc:
        raise AdminError(
            "publish_failed",
            f"vouchers recorded (batch {batch}) but could not rename {tmp} to {out}: "
            f"{exc.strerror}; rename it by hand",
            EXIT_ENV,
        ) from exc
    first = issued[0].voucher
    print(
        f"issued {total} voucher(s), batch {batch}, key {kid}, valid "
        f"{issuing.display_date(first.nbf)} to {issuing.valid_until_date(first.exp)}"
    )
    pages = -(-total // 8)
    print(f"  {out / 'vouchers.csv'}")
    print(f"  {out}/XXXX-XXXX-XXXX-XXXX.png ({total} PNG, one per voucher)")
    print(f"  {out / 'cards.pdf'} ({pages} A4 page(s))")
    print(f"  took {time.monotonic() - started:.1f} s")
    return EXIT_OK


# -- registration -------------------------------------------------------------


def register(sub: Any) -> None:
    """Add ``init``, ``export-key`` and ``issue`` to ``cinepass-admin``'s subparsers."""
    p = sub.add_parser("init", help="create (or --rotate) an issuer's Ed25519 signing key")
    add_common(p)
    p.add_argument("--issuer", required=True, help="issuing union's code, e.g. ACFTU-SH")
    p.add_argument("--name", help="the union's name, printed on cards")
    p.add_argument("--rotate", action="store_true", help="make a new key; the old stays trusted")
    p.add_argument("--key-dir", help="folder for the private key (default: beside the database)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("export-key", help="write the trusted public key(s) as PEM")
    add_common(p)
    p.add_argument("--out", required=True, help="PEM file to write")
    p.add_argument("--issuer", help="only this issuer's keys")
    p.set_defaults(func=cmd_export_key)

    p = sub.add_parser("issue", help="issue a batch of vouchers (CSV, PNGs, printable PDF)")
    add_common(p)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--count", type=int, help="number of anonymous vouchers")
    who.add_argument("--members", help="members CSV (member reference + name columns)")
    p.add_argument("--out", required=True, help="new folder for the batch")
    p.add_argument("--issuer", help="issuer code (needed when there are several)")
    p.add_argument(
        "--valid-days",
        type=int,
        default=issuing.MIN_VALID_DAYS,
        help="validity in days (at least 365)",
    )
    p.add_argument("--formats", default="2D,3D", help="allowed formats (default 2D,3D)")
    p.add_argument("--cinemas", help="allowed cinema codes, comma separated (default: all)")
    p.add_argument("--campaign", help="campaign name printed on the cards")
    p.add_argument("--encoding", default="utf-8", help="members CSV encoding (e.g. gb18030)")
    p.set_defaults(func=cmd_issue)
