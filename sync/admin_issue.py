"""``cinepass-admin init | export-key | issue``: issuer keys and voucher batches.

Consistency rule for ``issue``: the batch is first written completely into a
hidden staging folder beside ``--out`` (in parts, on every core, resumable:
:mod:`sync.batchparts`); then every voucher is recorded in the
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
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync import batchdir, batchparts, issuing
from sync.admin_common import AdminError, add_common, db_url, open_db, session
from sync.cardrights import CardRights
from sync.cliparse import Parser
from sync.errors import EXIT_ENV, EXIT_OK
from sync.fsutil import atomic_write
from sync.office.batches import record_batch
from sync.office.cinemas import check_cinemas, cinema_entries
from sync.office.issuers import (
    MAX_AFTER_SALES,
    MAX_HOTLINE,
    active_kids,
    add_signing_key,
    card_contact,
    check_card_text,
    check_issuer_code,
    issuer_label,
    key_dir_for,
    one_line,
    set_card_contact,
    signing_key,
    trusted_keys,
)
from sync.office.vouchers import held_in_campaign
from sync.server.db import session_scope
from sync.server.models import Voucher
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


def batch_rights(
    s: Session,
    issuer: str,
    cinemas: tuple[str, ...] | None,
    hotline: str | None,
    after_sales: str | None,
) -> CardRights:
    """What the batch's cards state: the cinemas' names and addresses, the hotline and
    after-sales text (the batch's own flags, else what the issuer has stored)."""
    stored_hotline, stored_after_sales = card_contact(s, issuer)
    given_hotline = check_card_text(hotline, "--hotline", MAX_HOTLINE)
    given_after_sales = check_card_text(after_sales, "--after-sales", MAX_AFTER_SALES)
    return CardRights(
        cinemas=cinema_entries(s, cinemas),
        hotline=given_hotline if hotline is not None else stored_hotline,
        after_sales=given_after_sales if after_sales is not None else stored_after_sales,
    )


#: How many members a repeat warning names before "and N more".
REPEAT_SHOWN = 20


def check_repeat(held: dict[str, int], campaign: str | None, *, allow: bool) -> None:
    """Refuse (exit 2) to issue again to members who already hold vouchers in the campaign,
    unless ``--allow-repeat``; then it is a warning on stderr and the batch goes on."""
    if not held:
        return
    shown = ", ".join(f"{ref} {n}" for ref, n in sorted(held.items())[:REPEAT_SHOWN])
    more = f" … +{len(held) - REPEAT_SHOWN}" if len(held) > REPEAT_SHOWN else ""
    where = f"campaign {campaign!r}" if campaign else "the vouchers issued without --campaign"
    text = (
        f"{len(held)} 名会员在此活动已持有观影券 / {len(held)} member(s) already hold "
        f"vouchers in {where} (member voucher(s)): {shown}{more}"
    )
    if not allow:
        raise AdminError(
            "repeat_members",
            f"{text}; 未发放 / nothing issued: pass --allow-repeat to issue to them again",
        )
    print(f"{PROG}: 警告 / warning: {text}; issuing again (--allow-repeat)", file=sys.stderr)


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
    started = time.monotonic()
    # 1. everything about the input, before touching anything
    if args.count is not None and args.count < 1:
        raise AdminError("bad_count", "--count must be at least 1")
    if args.count is not None and args.count > issuing.MAX_BATCH:
        raise AdminError("bad_count", f"--count at most {issuing.MAX_BATCH} per batch")
    if args.workers is not None and args.workers < 1:
        raise AdminError("bad_workers", "--workers must be at least 1")
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
        rights = batch_rights(s, code, options.cinemas, args.hotline, args.after_sales)
        held = held_in_campaign(s, [m.ref for m in members], options.campaign) if members else {}
    options = dataclasses.replace(options, iss=code)
    total = len(members) if members is not None else int(args.count)
    # 2. the plan: new, or the interrupted run of the same command (docs/issuing-at-scale.md)
    who = [(m.ref, m.name) for m in members] if members is not None else total
    fresh = batchparts.Plan(
        fingerprint=batchparts.fingerprint(
            kid=kid, options=options, who=who, label=label, rights=rights
        ),
        now=int(time.time()),
        batch=batchdir.batch_id(),
        total=total,
        part_cards=batchparts.PART_CARDS,
    )
    tmp = batchdir.resume_dir(out)
    plan, resumed = batchparts.open_plan(tmp, fresh)  # another run's folder: refused, untouched
    recorded = False
    try:
        recorded = batch_recorded(engine, plan.batch)
        if not recorded:
            check_repeat(held, options.campaign, allow=args.allow_repeat)
            if resumed:
                print(
                    f"{PROG}: 继续未完成的批次 / resuming batch {plan.batch} in {tmp}",
                    file=sys.stderr,
                )
            # 3. sign and write the parts on all cores, 4. join them, 5. record in one go
            key_pem = key.to_pem()

            def job(part: int) -> batchparts.PartJob:
                first = part * plan.part_cards
                chunk = members[first : first + plan.size(part)] if members else None
                return batchparts.PartJob(
                    stage=tmp,
                    part=part,
                    key_pem=key_pem,
                    options=options,
                    members=tuple(chunk) if chunk else None,
                    count=plan.size(part),
                    now=plan.now,
                    label=label,
                    rights=rights,
                )

            batchparts.run_parts(
                tmp,
                plan,
                job,
                workers=args.workers or os.cpu_count() or 1,
                progress=Progress("issuing", total),
            )
            batchparts.finish(tmp, plan)
            with session_scope(engine) as s:
                for part in batchparts.vouchers(tmp, plan, options):
                    record_batch(s, part, kid, plan.batch)
            recorded = True
        batchparts.tidy(tmp)
    except KeyboardInterrupt:
        print(
            f"{PROG}: 已中断，再次运行同一命令即可继续 / interrupted: run the same command "
            f"again to continue (kept in {tmp})",
            file=sys.stderr,
        )
        raise
    except BaseException:
        if not recorded:  # a refusal (not an interruption): nothing was issued, nothing stays
            batchdir.discard_dir(tmp)
            batchparts.forget(tmp)
        raise
    # 6. rename into place
    try:
        batchdir.publish_dir(tmp, out)
    except OSError as exc:
        raise AdminError(
            "publish_failed",
            f"vouchers recorded (batch {plan.batch}) but could not rename {tmp} to {out}: "
            f"{exc.strerror}; rename it by hand",
            EXIT_ENV,
        ) from exc
    batchparts.forget(tmp)
    exp = issuing.expiry_for(plan.now, options.valid_days)
    print(
        f"issued {total} voucher(s), batch {plan.batch}, key {kid}, valid "
        f"{issuing.display_date(plan.now)} to {issuing.valid_until_date(exp)}"
    )
    pages = -(-total // 8)
    pdfs = batchparts.pdf_names(plan)
    print(f"  {out / 'vouchers.csv'}")
    print(f"  {out}/XXXX-XXXX-XXXX-XXXX.png ({total} PNG, one per voucher)")
    if len(pdfs) == 1:
        print(f"  {out / pdfs[0]} ({pages} A4 page(s))")
    else:
        print(
            f"  {out / pdfs[0]} … {pdfs[-1]} ({len(pdfs)} PDF parts of up to "
            f"{plan.part_cards} cards, {pages} A4 page(s))"
        )
    print(f"  took {time.monotonic() - started:.1f} s")
    return EXIT_OK


def batch_recorded(engine: Any, batch: str) -> bool:
    """Whether the central database holds vouchers of ``batch`` (the truth, not the folder)."""
    with session_scope(engine) as s:
        n = s.execute(
            select(func.count()).select_from(Voucher).where(Voucher.batch == batch)
        ).scalar_one()
    return bool(n)


# -- registration -------------------------------------------------------------


def register(sub: Any) -> None:
    """Add ``init``, ``export-key`` and ``issue`` to ``cinepass-admin``'s subparsers."""
    p = sub.add_parser("init", help="create (or --rotate) an issuer's Ed25519 signing key")
    add_common(p)
    p.add_argument("--issuer", required=True, help="issuing union's code, e.g. ACFTU-SH")
    p.add_argument("--name", help="the union's name, printed on cards")
    p.add_argument("--rotate", action="store_true", help="make a new key; the old stays trusted")
    p.add_argument("--key-dir", help="folder for the private key (default: beside the database)")
    add_contact_flags(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("issuer", help="the issuer's hotline and after-sales text (on cards)")
    add_common(p)
    isub = p.add_subparsers(dest="issuer_command", required=True, parser_class=Parser)
    a = isub.add_parser("set", help="change the hotline, after-sales text or name")
    add_common(a)
    a.add_argument("--issuer", help="issuer code (needed when there are several)")
    a.add_argument("--name", help="the union's name, printed on cards")
    add_contact_flags(a)
    a.set_defaults(func=cmd_issuer_set)

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
    p.add_argument(
        "--workers", type=int, help="processes signing and drawing (default: every core)"
    )
    add_contact_flags(p, batch=True)
    p.add_argument(
        "--allow-repeat",
        action="store_true",
        help="issue even to members who already hold vouchers in this campaign",
    )
    p.set_defaults(func=cmd_issue)


def add_contact_flags(p: argparse.ArgumentParser, *, batch: bool = False) -> None:
    """``--hotline`` and ``--after-sales``: stored on the issuer, or for one batch only."""
    scope = "this batch's cards (default: the issuer's)" if batch else "the issuer's cards"
    p.add_argument("--hotline", help=f"loss/freeze hotline printed on {scope}")
    p.add_argument("--after-sales", help=f"after-sales rule (loss, reissue) printed on {scope}")
