"""``cinepass-admin`` subcommands for the central server's data.

``cinema add``, ``device code|revoke``, ``devices``, ``freeze``, ``unfreeze``,
``reissue`` and ``report``. Each command is a thin shell around a function
that takes a SQLAlchemy session (used by the tests and the server alike),
and runs in one transaction: a refused command changes nothing. Every change
kiosks must learn (freeze, unfreeze, the reissued voucher) is appended to
the feeds in that same transaction.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.admin import EXIT_OK, AdminError, add_common, db_url
from sync.server import enrolment, feeds, reports
from sync.server.errors import ServerError
from sync.server.models import FREEZE_REASONS, Cinema, Device, Voucher, now_ms
from sync.voucher.codec import PREFIX, decode_voucher
from sync.voucher.errors import VoucherError
from sync.voucher.shortcode import encode_short_code, parse_short_code

CINEMA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


# -- operations (session in, result out) ----------------------------------------


def add_cinema(session: Session, code: str, name: str) -> Cinema:
    code = code.strip()
    if not CINEMA_RE.match(code):
        raise AdminError(
            "bad_cinema", f"--code {code!r}: letters, digits, - _ . (max 32), e.g. SH-WANDA-01"
        )
    if not name.strip() or len(name) > 200:
        raise AdminError("bad_name", "--name must be 1 to 200 characters")
    if session.get(Cinema, code) is not None:
        raise AdminError("cinema_exists", f"cinema {code} already exists")
    cinema = Cinema(code=code, name=name.strip(), created_at=now_ms())
    session.add(cinema)
    return cinema


def device_code(session: Session, cinema: str) -> str:
    try:
        return enrolment.create_code(session, cinema)
    except ServerError as exc:
        raise AdminError(exc.reason, exc.message) from exc


def revoke_device(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise AdminError(
            "unknown_device", f"no device {device_id!r} (see 'cinepass-admin devices')"
        )
    if device.status == "revoked":
        raise AdminError("already_revoked", f"device {device_id} is already revoked")
    feeds.lock_head(session)
    device.status = "revoked"
    device.revoked_at = now_ms()
    return device


def list_devices(session: Session) -> list[dict[str, Any]]:
    out = []
    for d in session.scalars(select(Device).order_by(Device.cinema, Device.id)):
        h = d.health or {}
        out.append(
            {
                "id": d.id,
                "cinema": d.cinema,
                "name": d.name,
                "status": d.status,
                "enrolled_at": reports.iso_utc(d.enrolled_at),
                "last_contact": reports.iso_utc(d.last_contact) if d.last_contact else None,
                "version": h.get("version", ""),
                "pending": h.get("pending"),
                "clock_offset_ms": h.get("clock_offset_ms"),
                "last_error": h.get("last_error", ""),
                "chain_seq": d.chain_seq,
                "health": h,
            }
        )
    return out


def find_voucher(session: Session, text: str) -> Voucher:
    """A voucher by short code (as typed) or by its full QR text."""
    text = text.strip()
    try:
        cti = (
            decode_voucher(text).voucher.cti if text.startswith(PREFIX) else parse_short_code(text)
        )
    except VoucherError as exc:
        raise AdminError(
            "bad_voucher", f"not a short code or voucher QR text: {exc.message}"
        ) from exc
    v = session.get(Voucher, cti.hex())
    if v is None:
        raise AdminError("unknown_voucher", f"voucher {encode_short_code(cti)} was not issued here")
    return v


def freeze(session: Session, voucher: Voucher, reason: str) -> None:
    if reason not in FREEZE_REASONS:
        raise AdminError("bad_reason", f"--reason must be one of {', '.join(FREEZE_REASONS)}")
    if voucher.status == "frozen":
        raise AdminError(
            "already_frozen",
            f"voucher {voucher.short_code} is already frozen ({voucher.freeze_reason})",
        )
    voucher.status, voucher.freeze_reason = "frozen", reason
    feeds.publish_revocations(
        session, [feeds.revocation_entry(voucher.cti, "freeze", reason=reason)]
    )


def unfreeze(session: Session, voucher: Voucher) -> None:
    if voucher.status != "frozen":
        raise AdminError("not_frozen", f"voucher {voucher.short_code} is not frozen")
    if voucher.replaced_by:
        raise AdminError(
            "replaced",
            f"voucher {voucher.short_code} was replaced by "
            f"{encode_short_code(bytes.fromhex(voucher.replaced_by))}: freeze that one instead",
        )
    voucher.status, voucher.freeze_reason = "active", None
    feeds.publish_revocations(session, [feeds.revocation_entry(voucher.cti, "unfreeze")])


def reissue(session: Session, old: Voucher) -> Voucher:
    """Freeze ``old`` (reason replaced) and issue a new voucher to the same member.

    The replacement keeps the old one's holder, member reference, formats,
    cinemas, campaign, admissions and expiry date: it replaces a lost card,
    it does not extend the benefit. Signed with the issuer's current key.
    """
    from sync.admin_issue import record_batch, signing_key
    from sync.issuing import IssuedVoucher
    from sync.voucher.codec import Voucher as Claims
    from sync.voucher.codec import encode_voucher, new_cti

    if old.replaced_by:
        raise AdminError("already_replaced", f"voucher {old.short_code} was already reissued")
    _iss, kid, key = signing_key(session, old.issuer_code)
    t = now_ms() // 1000
    claims = Claims(
        iss=old.issuer_code,
        cti=new_cti(),
        iat=t,
        nbf=t,
        exp=max(old.exp, t + 86400),
        formats=tuple(old.formats),
        cinemas=tuple(old.cinemas) if old.cinemas is not None else None,
        holder=old.holder,
        admissions=old.admissions,
        campaign=old.campaign,
        sub=old.member_ref,
    )
    token = encode_voucher(claims, key)
    record_batch(
        session, [IssuedVoucher(claims, token, old.member_ref)], kid, f"reissue-{old.short_code}"
    )
    if old.status != "frozen":
        freeze(session, old, "replaced")
    else:
        old.freeze_reason = "replaced"
    old.replaced_by = claims.cti.hex()
    new = session.get(Voucher, claims.cti.hex())
    assert new is not None  # just inserted in this session
    return new


# -- command line ---------------------------------------------------------------


def _engine(args: argparse.Namespace) -> Any:
    from sync.admin_issue import open_db

    return open_db(db_url(args))


def _run(args: argparse.Namespace, fn: Any) -> Any:
    from sync.server.db import session_scope

    try:
        with session_scope(_engine(args)) as s:
            return fn(s)
    except ServerError as exc:
        raise AdminError(exc.reason, exc.message, exc.exit_code) from exc


def cmd_cinema_add(args: argparse.Namespace) -> int:
    _run(args, lambda s: add_cinema(s, args.code, args.name))
    print(f"cinema {args.code.strip()} added")
    return EXIT_OK


def cmd_device_code(args: argparse.Namespace) -> int:
    code = _run(args, lambda s: device_code(s, args.cinema))
    print(f"one-time enrolment code for cinema {args.cinema} (valid 24 hours, single use):")
    print(code)
    return EXIT_OK


def cmd_device_revoke(args: argparse.Namespace) -> int:
    _run(args, lambda s: revoke_device(s, args.id))
    print(f"device {args.id} revoked: it can no longer upload or download")
    return EXIT_OK


def cmd_devices(args: argparse.Namespace) -> int:
    rows = _run(args, list_devices)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("no devices enrolled")
        return EXIT_OK
    head = (
        "id",
        "cinema",
        "status",
        "last_contact",
        "version",
        "pending",
        "clock_offset_ms",
        "last_error",
    )
    print("\t".join(head))
    for r in rows:
        print("\t".join("" if r[h] is None else str(r[h]) for h in head))
    return EXIT_OK


def cmd_freeze(args: argparse.Namespace) -> int:
    def go(s: Session) -> str:
        v = find_voucher(s, args.voucher)
        freeze(s, v, args.reason)
        return v.short_code

    print(f"voucher {_run(args, go)} frozen ({args.reason}); kiosks learn it on their next sync")
    return EXIT_OK


def cmd_unfreeze(args: argparse.Namespace) -> int:
    def go(s: Session) -> str:
        v = find_voucher(s, args.voucher)
        unfreeze(s, v)
        return v.short_code

    print(f"voucher {_run(args, go)} unfrozen")
    return EXIT_OK


def cmd_reissue(args: argparse.Namespace) -> int:
    def go(s: Session) -> tuple[str, str, str]:
        old = find_voucher(s, args.voucher)
        new = reissue(s, old)
        return old.short_code, new.short_code, new.token

    old, new, token = _run(args, go)
    print(f"voucher {old} frozen (replaced); new voucher {new} for the same member")
    print(token)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    fmt = args.format
    if args.what == "redemptions":
        if fmt != "json":
            raise AdminError("bad_format", "report redemptions supports --format json only")
        print(json.dumps(_run(args, reports.redemption_list), ensure_ascii=False, indent=2))
        return EXIT_OK
    if not args.month:
        raise AdminError("no_month", "give --month YYYY-MM (or 'report redemptions')")
    if fmt == "xlsx" and not args.out:
        raise AdminError("no_out", "--format xlsx needs --out FILE.xlsx")
    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise AdminError("bad_out", f"folder of --out {args.out} does not exist")
    data = _run(args, lambda s: reports.monthly(s, args.month, args.cinema))
    if fmt == "xlsx":
        reports.to_xlsx(data, Path(args.out))
        print(f"report written to {args.out}")
        return EXIT_OK
    text = (
        json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if fmt == "json"
        else reports.to_csv(data)
    )
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"report written to {args.out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def register(sub: Any) -> None:
    from sync.admin import _Parser

    p = sub.add_parser("cinema", help="partner cinemas")
    add_common(p)
    csub = p.add_subparsers(dest="cinema_command", required=True, parser_class=_Parser)
    a = csub.add_parser("add", help="add a partner cinema")
    add_common(a)
    a.add_argument("--code", required=True)
    a.add_argument("--name", required=True)
    a.set_defaults(func=cmd_cinema_add)

    p = sub.add_parser("device", help="counters: enrolment codes, revocation")
    add_common(p)
    dsub = p.add_subparsers(dest="device_command", required=True, parser_class=_Parser)
    c = dsub.add_parser("code", help="make a one-time enrolment code (24 h)")
    add_common(c)
    c.add_argument("--cinema", required=True)
    c.set_defaults(func=cmd_device_code)
    r = dsub.add_parser("revoke", help="cut a counter off")
    add_common(r)
    r.add_argument("id")
    r.set_defaults(func=cmd_device_revoke)

    p = sub.add_parser("devices", help="every counter with last contact and health")
    add_common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("freeze", help="block a voucher at every counter")
    add_common(p)
    p.add_argument("voucher", help="short code or QR text")
    p.add_argument("--reason", required=True, choices=FREEZE_REASONS)
    p.set_defaults(func=cmd_freeze)

    p = sub.add_parser("unfreeze", help="lift a freeze")
    add_common(p)
    p.add_argument("voucher", help="short code or QR text")
    p.set_defaults(func=cmd_unfreeze)

    p = sub.add_parser("reissue", help="replace a voucher (the old one is frozen)")
    add_common(p)
    p.add_argument("voucher", help="short code or QR text")
    p.set_defaults(func=cmd_reissue)

    p = sub.add_parser("report", help="settlement report, or every redemption")
    add_common(p)
    p.add_argument(
        "what", nargs="?", choices=("redemptions",), help="redemptions: list every record"
    )
    p.add_argument("--month", help="YYYY-MM (China Standard Time)")
    p.add_argument("--cinema", help="only this cinema")
    p.add_argument("--format", choices=("csv", "json", "xlsx"), default="csv")
    p.add_argument("--out", help="write to this file (needed for xlsx)")
    p.set_defaults(func=cmd_report)
