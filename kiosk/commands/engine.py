"""Engine subcommands of ``cinepass-kiosk``: verify, redeem, void, decode, tally, status, init.

A public contract (see :mod:`kiosk.cli`): exit 0 accepted/success, 1 rejected,
2 bad input or usage, 3 environment failure (storage, missing setup). With
``--json`` each command prints exactly one JSON object; verdicts carry at
least ``verdict``, ``reason``, ``message`` and ``voucher`` (``id`` = short code,
``exp``, ``formats``, ``holder``; null when nothing trustworthy is known).

``verify`` without a set-up data folder works when ``--issuer-key`` is
given: it then trusts only those keys, knows no revocations, roster or
earlier uses, and checks the cinema scope only if ``--cinema`` is given. In a
set-up folder the given keys are trusted in addition to the stored ones, for
this call only. Either way it records nothing.

Only ``decode`` imports OpenCV (lazily); nothing here imports Qt, so these
commands answer in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.commands.common import add_common
from kiosk.errors import EXIT_ENV, EXIT_OK, EXIT_REJECTED, UsageError
from kiosk.paths import KioskPaths, resolve_home

if TYPE_CHECKING:
    from kiosk.engine.service import KioskService
    from kiosk.engine.verdict import Verdict
    from sync.voucher.keys import PublicKey

MAX_INPUT = 64 * 1024


def _read_text_arg(arg: str) -> str:
    """TEXT as given, ``@FILE`` read from a file, ``@-`` from standard input."""
    if not arg.startswith("@"):
        return arg
    name = arg[1:]
    if not name:
        raise UsageError("bad_argument", "'@' must be followed by a file name (or '-' for stdin)")
    try:
        data = sys.stdin.read(MAX_INPUT + 1) if name == "-" else _read_file(Path(name))
    except UnicodeDecodeError as exc:
        raise UsageError("unreadable_file", f"{name}: not UTF-8 text") from exc
    if len(data) > MAX_INPUT:
        raise UsageError("unreadable_file", f"{name}: larger than {MAX_INPUT} bytes")
    return data.strip()


def _unreadable(path: Path, exc: OSError) -> UsageError:
    """The one wording of "cannot read this file" (missing, or the OS's own reason)."""
    if isinstance(exc, FileNotFoundError):
        return UsageError("unreadable_file", f"{path}: no such file")
    return UsageError("unreadable_file", f"{path}: cannot read ({exc.strerror})")


def _read_file(path: Path) -> str:
    try:
        with path.open("r", encoding="utf-8") as fh:
            return fh.read(MAX_INPUT + 1)
    except IsADirectoryError as exc:
        raise UsageError("unreadable_file", f"{path}: is a folder, not a file") from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _load_keys(paths: list[str] | None) -> list[PublicKey]:
    from sync.voucher.errors import KeyFileError
    from sync.voucher.keys import load_public_key

    keys = []
    for p in paths or []:
        try:
            keys.append(load_public_key(Path(p)))
        except KeyFileError as exc:
            raise UsageError("bad_key", f"--issuer-key {p}: {exc.message}") from exc
    return keys


def _open(args: argparse.Namespace) -> KioskService:
    from kiosk.engine.service import KioskService

    return KioskService.open(resolve_home(args.home))


def _print_json(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False, sort_keys=False))


def _show_verdict(args: argparse.Namespace, v: Verdict, lang: str) -> int:
    if args.json:
        _print_json(v.to_json(lang))
    else:
        line = f"{v.headline} [{v.reason}] {v.message(lang)}"
        if lang != "en":
            line += f" / {v.message('en')}"
        print(line)
        print(f"  {v.next_step(lang)}")
        if v.voucher is not None:
            holder = f"  holder {v.voucher.holder}" if v.voucher.holder else ""
            print(
                f"  voucher {v.voucher.id}  formats {'/'.join(v.voucher.formats)}"
                f"  exp {_iso(v.voucher.exp * 1000)}{holder}"
            )
        if v.reason == "already_redeemed":
            d = v.detail
            print(
                f"  used {_iso(d.get('at'))} at {d.get('cinema') or '?'}"
                f" counter {d.get('device') or 'this one'} by {d.get('staff') or '?'}"
            )
        elif v.reason == "revoked":
            print(f"  reason: {v.detail.get('why')}")
        if v.record_uuid:
            print(f"  record {v.record_uuid}")
        if v.clock_warning:
            print("  WARNING: this counter's clock runs behind; check the date and time")
    if v.accepted:
        return EXIT_OK
    return EXIT_ENV if v.reason == "not_recorded" else EXIT_REJECTED


def _iso(ms: Any) -> str:
    from datetime import UTC, datetime

    if not isinstance(ms, int):
        return "?"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- commands -------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    text = _read_text_arg(args.text)
    keys = _load_keys(args.issuer_key)
    home = resolve_home(args.home)
    if KioskPaths(home).config.exists() or not keys:
        from kiosk.engine.service import KioskService

        with KioskService.open(home) as svc:  # NotSetUp (exit 3) when nothing to trust
            extra = {k.kid: k for k in keys}
            v = svc.check(text, fmt=args.format, extra_keys=extra).as_check()  # records nothing
            return _show_verdict(args, v, svc.config.language)
    from kiosk.engine.clock import Clock
    from kiosk.engine.verify import MemoryState, verify

    state = MemoryState(keys={k.kid: k for k in keys}, cinema=args.cinema)
    v = verify(text, state, fmt=args.format, now_ms=Clock().now_ms()).as_check()
    return _show_verdict(args, v, "zh_CN")


def cmd_redeem(args: argparse.Namespace) -> int:
    text = _read_text_arg(args.text)
    source = args.source
    if source is None:
        from sync.voucher.shortcode import looks_like_short_code

        source = "typed" if looks_like_short_code(text) else "scanner"
    with _open(args) as svc:
        for attach in getattr(args, "attach", ()):  # e.g. the LAN peers (kiosk.commands.peers)
            attach(svc, args)
        v = svc.redeem(text, fmt=args.format, staff=args.staff, source=source)
        return _show_verdict(args, v, svc.config.language)


def cmd_void(args: argparse.Namespace) -> int:
    with _open(args) as svc:
        r = (
            svc.void(args.record, staff=args.staff)
            if args.record
            else svc.void_last(staff=args.staff)
        )
        lang = svc.config.language
        if args.json:
            _print_json(r.to_json(lang))
        else:
            print(f"{r.reason.upper()}: {r.message(lang)} / {r.message('en')}")
            if r.voucher_id:
                print(f"  voucher {r.voucher_id}  record {r.voided_uuid}")
    if r.ok:
        return EXIT_OK
    return EXIT_ENV if r.reason == "not_recorded" else EXIT_REJECTED


def cmd_decode(args: argparse.Namespace) -> int:
    from kiosk.engine.decode import decode_file, make_decoder

    decoder = make_decoder(args.decoder or "zxing")
    results = [(p, decode_file(Path(p), decoder)) for p in args.files]
    if args.json:
        _print_json({"files": [{"path": p, "texts": t} for p, t in results]})
    else:
        for p, texts in results:
            if not texts:
                print(f"{p}: no QR code found")
            for t in texts:
                print(f"{p}: {t}")
    return EXIT_OK if all(t for _, t in results) else EXIT_REJECTED


def _parse_date(text: str | None) -> date | None:
    """The ``--date`` given, or None: the cinema's current business day (sync.businessday)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError("bad_date", f"--date {text!r} is not a date like 2026-12-01") from exc


def cmd_tally(args: argparse.Namespace) -> int:
    day = _parse_date(args.date)
    with _open(args) as svc:
        t = svc.tally(day)
    if args.json:
        _print_json(t.to_json())
    elif args.csv:
        sys.stdout.write(t.to_csv())
    else:
        print(f"{t.day.isoformat()}: {t.accepted} accepted, {t.voided} voided")
        print("  by format: " + ", ".join(f"{k} {n}" for k, n in t.by_format.items()))
        print("  by hour:   " + (", ".join(f"{k}h {n}" for k, n in t.by_hour.items()) or "-"))
        print(
            "  by staff:  " + (", ".join(f"{k or '-'} {n}" for k, n in t.by_staff.items()) or "-")
        )
        print("  rejected:  " + (", ".join(f"{k} {n}" for k, n in t.rejected.items()) or "-"))
        print(f"  records: {t.pending} pending, {t.synced} synced")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    with _open(args) as svc:
        st = svc.status()
    if args.json:
        _print_json(st)
    else:
        for k, v in st.items():
            print(f"{k}: {v}")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from kiosk.engine.service import init_standalone

    keys = _load_keys(args.issuer_key)
    home = resolve_home(args.home)
    init_standalone(home, cinema=args.cinema, issuer_keys=keys, counter=args.counter)
    out = {
        "home": str(home),
        "cinema": args.cinema.strip(),
        "counter": args.counter,
        "trusted_keys": [k.kid.hex() for k in keys],
    }
    if args.json:
        _print_json(out)
    else:
        print(f"set up a standalone kiosk for cinema {out['cinema']} in {home}")
        print(f"  trusted issuer keys: {', '.join(out['trusted_keys'])}")
    return EXIT_OK


MAX_ROSTER_ROWS = 200_000


def cmd_roster_import(args: argparse.Namespace) -> int:
    """Load a batch's vouchers.csv into a standalone kiosk's roster (for typed short codes).

    An enrolled kiosk gets its roster from the server's feed, so this is for
    standalone counters only. Every row is decoded and its signature checked
    against this kiosk's trusted keys before anything is written: one bad row
    refuses the whole file and changes nothing.
    """
    import csv

    from kiosk.engine.store import RosterEntry
    from sync.voucher import VoucherError, decode_voucher, verify_signature

    path = Path(args.file)
    try:
        if path.stat().st_size > MAX_ROSTER_ROWS * 1024:
            raise UsageError("bad_roster", f"{path}: far too large for a vouchers.csv")
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError("bad_roster", f"{path}: not UTF-8 text (is it a vouchers.csv?)") from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        rows = list(csv.DictReader(text.splitlines()))
    except csv.Error as exc:
        raise UsageError("bad_roster", f"{path}: not a CSV file ({exc})") from exc
    if not rows or "qr_text" not in rows[0]:
        raise UsageError(
            "bad_roster", f"{path}: no 'qr_text' column (is it a batch's vouchers.csv?)"
        )
    if len(rows) > MAX_ROSTER_ROWS:
        raise UsageError("bad_roster", f"{path}: more than {MAX_ROSTER_ROWS} rows")
    with _open(args) as svc:
        if not svc.config.standalone:
            raise UsageError(
                "enrolled",
                "this counter is enrolled: its roster comes from the server on each sync",
            )
        keys = svc.store.keyring()
        entries = []
        for line, row in enumerate(rows, 2):
            token = (row.get("qr_text") or "").strip()
            try:
                decoded = decode_voucher(token)
                verify_signature(decoded, keys)
            except VoucherError as exc:
                raise UsageError(
                    "bad_roster", f"{path}, line {line}: {exc.message} (nothing imported)"
                ) from exc
            entries.append(RosterEntry(cti=decoded.voucher.cti, token=token))
        cursor = svc.store.get_cursor("roster") or "local"
        svc.store.apply_roster(entries, cursor)
        total = svc.store.counts()["roster"]
    out = {"imported": len(entries), "roster": total}
    if args.json:
        _print_json(out)
    else:
        print(f"imported {len(entries)} voucher(s) for typed short codes; roster now {total}")
    return EXIT_OK


def _text_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", metavar="TEXT|@FILE", help="QR text or short code, or @file / @-")


def _format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=("2D", "3D"), default="2D", help="format chosen at the counter"
    )


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the engine subcommands to the CLI."""
    p = sub.add_parser("verify", help="check a voucher (records nothing)")
    _format_arg(p)
    p.add_argument(
        "--issuer-key", action="append", metavar="PEM", help="also trust this public key"
    )
    p.add_argument("--cinema", help="cinema scope to check when no data folder is set up")
    _text_arg(p)
    add_common(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("redeem", help="verify and record a redemption")
    _format_arg(p)
    p.add_argument("--staff", default="", help="clerk's sign-in name")
    p.add_argument("--source", choices=("camera", "scanner", "typed"), default=None)
    _text_arg(p)
    add_common(p)
    p.set_defaults(func=cmd_redeem)

    for name in ("void", "undo"):
        p = sub.add_parser(name, help="void the last redemption (within 10 minutes)")
        p.add_argument("--staff", default="", help="clerk's sign-in name")
        p.add_argument("--record", help="uuid of the redemption to void (default: the last)")
        add_common(p)
        p.set_defaults(func=cmd_void)

    p = sub.add_parser("decode", help="print every QR text in images or videos")
    p.add_argument("files", nargs="+", metavar="IMAGE|VIDEO")
    p.add_argument(
        "--decoder", choices=("zxing", "pyzbar"), default=argparse.SUPPRESS, help="QR decoder"
    )
    add_common(p)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("tally", help="the day's counts")
    p.add_argument(
        "--date", help="YYYY-MM-DD business day (default: the current one at the cinema)"
    )
    p.add_argument("--csv", action="store_true", help="CSV output")
    add_common(p)
    p.set_defaults(func=cmd_tally)

    p = sub.add_parser("status", help="what this counter holds and whether it is in sync")
    add_common(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("init", help="set up a standalone kiosk (no central server)")
    p.add_argument("--cinema", required=True, help="cinema code")
    p.add_argument(
        "--issuer-key", action="append", required=True, metavar="PEM", help="trusted public key"
    )
    p.add_argument("--counter", default="", help="name of this counter")
    add_common(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "roster-import", help="standalone kiosk: accept typed short codes of a batch's vouchers.csv"
    )
    p.add_argument("file", metavar="VOUCHERS.csv")
    add_common(p)
    p.set_defaults(func=cmd_roster_import)
