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
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from sync import issuing
from sync.admin import EXIT_ENV, EXIT_OK, AdminError, add_common, db_url
from sync.voucher.codec import decode_and_verify, keyring
from sync.voucher.keys import PrivateKey, PublicKey, load_private_key, save_private_key

ISSUER_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")


# -- helpers ------------------------------------------------------------------


def key_dir_for(url: str) -> Path:
    """Where issuer private keys live: ``keys/`` next to a SQLite file, else the data dir."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises ArgumentError and others
        raise AdminError("bad_db_url", f"--db {url!r} is not a database URL") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(str(parsed.database)).resolve().parent / "keys"
    import platformdirs

    return Path(platformdirs.user_data_dir("cinepass-admin", appauthor=False)) / "keys"


def open_db(url: str) -> Any:
    """Migrate (idempotent) and return an engine; an unreachable database is exit 3."""
    from sqlalchemy.exc import SQLAlchemyError

    from sync.server.db import migrate

    key_dir_for(url)  # refuses what is not a database URL at all (exit 2, not 3)
    if url.startswith("sqlite:///"):
        folder = Path(url[len("sqlite:///") :]).parent
        if not folder.is_dir():
            raise AdminError("bad_db_url", f"database folder {folder} does not exist")
    try:
        return migrate(url)
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        raise AdminError("db_unavailable", f"cannot open database: {first}", EXIT_ENV) from exc


def signing_key(session: Session, issuer: str | None) -> tuple[str, str, PrivateKey]:
    """(issuer code, kid, private key) of the newest active key that has a key file."""
    from sync.server.models import Issuer, IssuerKey

    codes = [c for (c,) in session.execute(select(Issuer.code).order_by(Issuer.code))]
    if not codes:
        raise AdminError(
            "no_issuer", "no issuer key yet: run `cinepass-admin init --issuer CODE` first"
        )
    if issuer is None:
        if len(codes) > 1:
            raise AdminError(
                "issuer_ambiguous", f"several issuers ({', '.join(codes)}): pass --issuer CODE"
            )
        issuer = codes[0]
    elif issuer not in codes:
        raise AdminError(
            "no_issuer", f"issuer {issuer} has no key: run `cinepass-admin init --issuer {issuer}`"
        )
    row = session.execute(
        select(IssuerKey)
        .where(
            IssuerKey.issuer_code == issuer,
            IssuerKey.active.is_(True),
            IssuerKey.private_key_path.is_not(None),
        )
        .order_by(IssuerKey.created_at.desc(), IssuerKey.kid)
        .limit(1)
    ).scalar_one_or_none()
    if row is None or row.private_key_path is None:
        raise AdminError(
            "no_issuer",
            f"issuer {issuer} has no signing key: run `init --issuer {issuer} --rotate`",
        )
    key = load_private_key(Path(row.private_key_path))
    if key.public.raw != row.public_raw:
        raise AdminError(
            "key_mismatch",
            f"key file {row.private_key_path} does not hold the key {row.kid} the database names",
        )
    return issuer, row.kid, key


def check_cinemas(session: Session, cinemas: tuple[str, ...] | None) -> None:
    """Refuse cinema codes the central database does not know (a typo would make
    every voucher of the batch unusable at every counter)."""
    from sync.server.models import Cinema

    if not cinemas:
        return
    known = set(session.execute(select(Cinema.code).where(Cinema.code.in_(cinemas))).scalars())
    unknown = [c for c in cinemas if c not in known]
    if unknown:
        raise AdminError(
            "unknown_cinema",
            f"--cinemas: {', '.join(unknown)} not a partner cinema here "
            "(add it with `cinepass-admin cinema add --code C --name N`)",
        )


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
    from sync.server.db import session_scope
    from sync.server.feeds import publish_key
    from sync.server.models import Issuer, IssuerKey, now_ms

    code = args.issuer.strip()
    if not ISSUER_RE.match(code):
        raise AdminError(
            "bad_issuer",
            f"--issuer {code!r}: use upper-case letters, digits, - and _ (max 32), e.g. ACFTU-SH",
        )
    url = db_url(args)
    key_dir = Path(args.key_dir) if args.key_dir else key_dir_for(url)
    engine = open_db(url)
    with session_scope(engine) as s:
        existing = s.execute(
            select(IssuerKey).where(IssuerKey.issuer_code == code, IssuerKey.active.is_(True))
        ).scalars()
        kids = [k.kid for k in existing]
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
            issuer = s.get(Issuer, code)
            if issuer is None:
                s.add(Issuer(code=code, name=args.name or code))
            elif args.name:
                issuer.name = args.name
            s.flush()
            row = IssuerKey(
                kid=kid,
                issuer_code=code,
                public_raw=key.public.raw,
                private_key_path=str(path),
                active=True,
                created_at=now_ms(),
            )
            s.add(row)
            s.flush()
            publish_key(s, row)
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
    from sync.server.db import session_scope
    from sync.server.models import IssuerKey

    engine = open_db(db_url(args))
    with session_scope(engine) as s:
        q = select(IssuerKey).where(IssuerKey.active.is_(True))
        if args.issuer:
            q = q.where(IssuerKey.issuer_code == args.issuer)
        rows = list(s.execute(q.order_by(IssuerKey.created_at.desc(), IssuerKey.kid)).scalars())
        keys = [(r.issuer_code, r.kid, PublicKey.from_raw(r.public_raw)) for r in rows]
    if not keys:
        who = f"issuer {args.issuer}" if args.issuer else "any issuer"
        raise AdminError("no_issuer", f"no trusted key for {who}: run `cinepass-admin init` first")
    out = Path(args.out)
    if out.is_dir():
        raise AdminError("bad_out", f"--out {out} is a folder: give a file name, e.g. issuer.pem")
    # newest (signing) key first: a reader that takes one PEM block gets that one
    pem = b"".join(k.to_pem() for _, _, k in keys)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(pem)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AdminError("bad_out", f"cannot write {out}: {exc.strerror}") from exc
    for code, kid, _ in keys:
        print(f"{code} {kid}")
    print(f"wrote {len(keys)} public key(s) to {out}")
    return EXIT_OK


# -- issue --------------------------------------------------------------------


def _voucher_row(item: issuing.IssuedVoucher, kid: str, batch: str, at: int) -> dict[str, Any]:
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


def record_batch(
    session: Session, issued: list[issuing.IssuedVoucher], kid: str, batch: str
) -> None:
    """Insert the vouchers and announce them on the roster feed (caller commits)."""
    from sync.server.feeds import publish_roster
    from sync.server.models import Voucher, now_ms

    at = now_ms()
    rows = [_voucher_row(item, kid, batch, at) for item in issued]
    session.execute(insert(Voucher), rows)
    publish_roster(session, [Voucher(cti=r["cti"], token=r["token"]) for r in rows])


def cmd_issue(args: argparse.Namespace) -> int:
    from sync.server.db import session_scope
    from sync.server.models import Issuer

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
    issuing.check_output_dir(out)
    engine = open_db(db_url(args))
    with session_scope(engine) as s:
        code, kid, key = signing_key(s, args.issuer)
        issuer_row = s.get(Issuer, code)
        check_cinemas(s, options.cinemas)
        label = f"{code} {issuer_row.name}" if issuer_row and issuer_row.name != code else code
    options = dataclasses.replace(options, iss=code)
    # 2. sign; check the first voucher round-trips before printing thousands
    total = len(members) if members is not None else int(args.count)
    issued = issuing.create_batch(
        key, options, members=members, count=args.count, progress=Progress("signing", total)
    )
    decode_and_verify(issued[0].token, keyring(key.public))
    # 3. files into the staging folder, 4. database, 5. rename into place
    tmp = issuing.staging_dir(out)
    try:
        issuing.write_batch(tmp, issued, label, progress=Progress("writing", total))
        batch = issuing.batch_id()
        with session_scope(engine) as s:
            record_batch(s, issued, kid, batch)
    except BaseException:
        issuing.discard_dir(tmp)
        raise
    try:
        issuing.publish_dir(tmp, out)
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
