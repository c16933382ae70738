"""``cinepass-admin`` subcommands for the central server's data.

``cinema add|set|list``, ``device code|revoke``, ``devices``, ``freeze``, ``unfreeze``,
``reissue`` and ``report``. Each command is a thin shell around a
:mod:`sync.office` function (the same ones the server and the tests call)
and runs in one transaction: a refused command changes nothing, and each
change writes its audit line (:mod:`sync.office.audit`) in that transaction. Every change
kiosks must learn (freeze, unfreeze, the reissued voucher) is appended to
the feeds in that same transaction.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sync.admin_common import (
    AdminError,
    Command,
    add_commands,
    add_group,
    arg,
    print_rows,
    session,
)
from sync.errors import EXIT_OK
from sync.fsutil import atomic_write
from sync.office import audit, reports, tally
from sync.office.cinemas import add_cinema, cinema_json, list_cinemas, set_cinema
from sync.office.devices import device_code, list_devices, revoke_device
from sync.office.vouchers import find_voucher, freeze, reissue, unfreeze
from sync.server.models import FREEZE_REASONS, Cinema, Voucher

#: Office functions are re-exported only because kiosk/demo.py still imports them from
#: here; once it imports :mod:`sync.office` they leave this list.
__all__ = ["add_cinema", "device_code", "find_voucher", "freeze", "print_rows", "register"]


def _audit(s: Any, action: str, subject: str, **changes: Any) -> None:
    """One audit line for the command's change, in its transaction (actor: the OS user)."""
    audit.record(s, actor=audit.os_user(), action=action, subject=subject, **changes)


def _code_and_name(args: argparse.Namespace) -> tuple[str, str]:
    """``cinema add CODE NAME`` or ``cinema add --code CODE --name NAME`` (not both)."""
    code = args.code if args.code is not None else args.code_arg
    name = args.name if args.name is not None else args.name_arg
    if (args.code is not None and args.code_arg) or (args.name is not None and args.name_arg):
        raise AdminError(
            "usage", "给出一次影院代码和名称 / give CODE and NAME once (or --code/--name)"
        )
    if not code or name is None:
        raise AdminError(
            "usage", "需要影院代码和名称 / cinema add needs CODE NAME (or --code/--name)"
        )
    return code, name


def _describe(c: Cinema) -> str:
    contact = " ".join(p for p in (c.address, f"电话 {c.phone}" if c.phone else "") if p)
    return f"{c.code}\t{c.name}\t{contact or '-'}\t{c.timezone}\tday starts {c.day_starts}"


def cmd_cinema_add(args: argparse.Namespace) -> int:
    code, name = _code_and_name(args)
    with session(args) as s:
        c = add_cinema(
            s,
            code,
            name,
            address=args.address or "",
            phone=args.phone or "",
            timezone=args.timezone,
            day_starts=args.day_starts,
        )
        _audit(s, "cinema.add", c.code, after=cinema_json(c))
    print(f"cinema {code.strip()} added")
    return EXIT_OK


def cmd_cinema_set(args: argparse.Namespace) -> int:
    changes = {k: getattr(args, k) for k in ("name", "address", "phone", "timezone", "day_starts")}
    if all(v is None for v in changes.values()):
        raise AdminError(
            "nothing_to_set",
            "给出要修改的内容 / give --name, --address, --phone, --timezone or --day-starts",
        )
    with session(args) as s:
        before = s.get(Cinema, args.code_arg.strip())
        was = cinema_json(before) if before is not None else None
        c = set_cinema(s, args.code_arg, **changes)
        now = cinema_json(c)
        if was is not None and (was["timezone"], was["day_starts"]) != (
            now["timezone"],
            now["day_starts"],
        ):  # its lines fall on other business days now: recount them, so the console's
            s.flush()  # pages keep reading the running counts (docs/console.md)
            tally.rebuild_cinema(s, c.code)
        _audit(s, "cinema.set", c.code, before=was, after=now)
        line = _describe(c)
    print(f"cinema updated: {line}")
    return EXIT_OK


def cmd_cinema_list(args: argparse.Namespace) -> int:
    with session(args) as s:
        rows = list_cinemas(s)
        if args.json:
            out = [cinema_json(c) for c in rows]
            print(json.dumps(out, ensure_ascii=False, indent=2))
            return EXIT_OK
        lines = [_describe(c) for c in rows]
    print("\n".join(lines) if lines else "no cinemas yet")
    return EXIT_OK


def cmd_device_code(args: argparse.Namespace) -> int:
    with session(args) as s:
        code = device_code(s, args.cinema)
        _audit(s, "device.code", args.cinema, after={"cinema": args.cinema})  # never the code
    print(f"one-time enrolment code for cinema {args.cinema} (valid 24 hours, single use):")
    print(code)
    return EXIT_OK


def cmd_device_revoke(args: argparse.Namespace) -> int:
    with session(args) as s:
        d = revoke_device(s, args.id)
        _audit(s, "device.revoke", d.id, before={"status": "active"}, after={"status": d.status})
    print(f"device {args.id} revoked: it can no longer upload or download")
    return EXIT_OK


def cmd_devices(args: argparse.Namespace) -> int:
    with session(args) as s:
        rows = list_devices(s)
    head = (
        "id",
        "cinema",
        "status",
        "last_contact",
        "version",
        "pending",
        "clock_offset_ms",
        "last_error",
        "quarantined",
        "chain_gaps",
        "chain_forks",
        "review",
    )
    print_rows(rows, head, args.json, "no devices enrolled")
    return EXIT_OK


def _voucher_change(
    args: argparse.Namespace, action: str, change: Callable[[Session, Voucher], object]
) -> str:
    """Freeze or unfreeze the voucher the command names, with its audit line; its short code."""
    with session(args) as s:
        v = find_voucher(s, args.voucher)
        before = {"status": v.status, "reason": v.freeze_reason}
        change(s, v)
        after: dict[str, Any] = {"status": v.status}
        if v.status == "frozen":  # the reason is part of a freeze, not of its lifting
            after["reason"] = v.freeze_reason
        _audit(s, action, v.short_code, before=before, after=after)
        return v.short_code


def cmd_freeze(args: argparse.Namespace) -> int:
    short = _voucher_change(args, "voucher.freeze", lambda s, v: freeze(s, v, args.reason))
    print(f"voucher {short} frozen ({args.reason}); kiosks learn it on their next sync")
    return EXIT_OK


def cmd_unfreeze(args: argparse.Namespace) -> int:
    short = _voucher_change(args, "voucher.unfreeze", unfreeze)
    print(f"voucher {short} unfrozen")
    return EXIT_OK


def cmd_reissue(args: argparse.Namespace) -> int:
    with session(args) as s:
        found = find_voucher(s, args.voucher)
        before = {"status": found.status, "replaced_by": found.replaced_by}
        replacement = reissue(s, found)
        old, new, token = found.short_code, replacement.short_code, replacement.token
        after = {"status": found.status, "replaced_by": new}
        _audit(s, "voucher.reissue", old, before=before, after=after)
    print(f"voucher {old} frozen (replaced); new voucher {new} for the same member")
    print(token)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    fmt = args.format
    if args.what == "redemptions":
        if fmt != "json":
            raise AdminError("bad_format", "report redemptions supports --format json only")
        with session(args) as s:
            rows = reports.redemption_list(s)
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not args.month:
        raise AdminError("no_month", "give --month YYYY-MM (or 'report redemptions')")
    if fmt == "xlsx" and not args.out:
        raise AdminError("no_out", "--format xlsx needs --out FILE.xlsx")
    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise AdminError("bad_out", f"folder of --out {args.out} does not exist")
    with session(args) as s:
        data = reports.monthly(s, args.month, args.cinema)
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
        atomic_write(Path(args.out), text, mode=0o644)  # a report is not a secret
        print(f"report written to {args.out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


#: ``cinema add`` and ``cinema set``: the details printed on cards and the business day.
CINEMA_FLAGS = (
    arg("--address", help="street address, printed on cards"),
    arg("--phone", help="box-office phone, printed on cards"),
    arg("--timezone", help="IANA time zone of the cinema (default Asia/Shanghai)"),
    arg(
        "--day-starts",
        metavar="HH:MM",
        help="when its business day starts (default 06:00: a 00:30 show counts to the day before)",
    ),
)
AS_JSON = arg("--json", action="store_true")
VOUCHER = arg("voucher", help="short code or QR text")

CINEMA = (
    Command(
        "add",
        "add a partner cinema",
        cmd_cinema_add,
        (
            arg("code_arg", nargs="?", metavar="CODE", help="cinema code, e.g. SH01"),
            arg("name_arg", nargs="?", metavar="NAME", help="its name, printed on cards"),
            arg("--code", help="the same as CODE"),
            arg("--name", help="the same as NAME"),
            *CINEMA_FLAGS,
        ),
    ),
    Command(
        "set",
        "change a cinema's name, contact or business day",
        cmd_cinema_set,
        (arg("code_arg", metavar="CODE"), arg("--name"), *CINEMA_FLAGS),
    ),
    Command("list", "every partner cinema", cmd_cinema_list, (AS_JSON,)),
)
DEVICE = (
    Command(
        "code",
        "make a one-time enrolment code (24 h)",
        cmd_device_code,
        (arg("--cinema", required=True),),
    ),
    Command("revoke", "cut a counter off", cmd_device_revoke, (arg("id"),)),
)
TOP = (
    Command("devices", "every counter with last contact and health", cmd_devices, (AS_JSON,)),
    Command(
        "freeze",
        "block a voucher at every counter",
        cmd_freeze,
        (VOUCHER, arg("--reason", required=True, choices=FREEZE_REASONS)),
    ),
    Command("unfreeze", "lift a freeze", cmd_unfreeze, (VOUCHER,)),
    Command("reissue", "replace a voucher (the old one is frozen)", cmd_reissue, (VOUCHER,)),
    Command(
        "report",
        "settlement report, or every redemption",
        cmd_report,
        (
            arg("what", nargs="?", choices=("redemptions",), help="redemptions: list every record"),
            arg("--month", help="YYYY-MM (each cinema's business days)"),
            arg("--cinema", help="only this cinema"),
            arg("--format", choices=("csv", "json", "xlsx"), default="csv"),
            arg("--out", help="write to this file (needed for xlsx)"),
        ),
    ),
)


def register(sub: Any) -> None:
    """Add the central-data subcommands to ``cinepass-admin``'s subparsers."""
    add_group(sub, "cinema", "partner cinemas", "cinema_command", CINEMA)
    add_group(sub, "device", "counters: enrolment codes, revocation", "device_command", DEVICE)
    add_commands(sub, TOP)
