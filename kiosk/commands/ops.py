"""Operations subcommands of ``cinepass-kiosk``: backup, restore, diagnose, provision.

For IT and the support hotline; none of them imports Qt or OpenCV. Each
writes what it did to the kiosk's log (:mod:`kiosk.ops.logs`), and with
``--json`` prints one JSON object. ``restore`` refuses to run while the
window holds the data folder (it would swap the database under it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kiosk.commands.common import add_common
from kiosk.errors import EXIT_OK, UsageError
from kiosk.paths import KioskPaths, resolve_home


def _paths(args: argparse.Namespace) -> KioskPaths:
    from kiosk.ops.logs import setup_logging

    paths = KioskPaths(resolve_home(getattr(args, "home", None)))
    setup_logging(paths)
    return paths


def _say(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(text)


def cmd_backup(args: argparse.Namespace) -> int:
    from kiosk.ops.backup import backup_now, list_backups

    paths = _paths(args)
    if args.list:
        rows = list_backups(paths)
        _say(
            args,
            {"backups": [{"file": str(b.path), "kind": b.kind, "size": b.size} for b in rows]},
            "\n".join(f"{b.created:%Y-%m-%d %H:%M:%S}  {b.kind:<11} {b.path}" for b in rows)
            or "no backups yet",
        )
        return EXIT_OK
    dest = backup_now(paths, "manual")
    _say(args, {"backup": str(dest), "size": dest.stat().st_size}, f"backup written: {dest}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from kiosk.ops.backup import restore
    from kiosk.ops.single_instance import InstanceLock

    paths = _paths(args)
    source = Path(args.file)
    with InstanceLock(paths.lock):
        safety = restore(paths, source)
    _say(
        args,
        {"restored": str(source), "previous": str(safety)},
        f"store restored from {source}; the previous store was saved as {safety}",
    )
    return EXIT_OK


def cmd_diagnose(args: argparse.Namespace) -> int:
    from kiosk.ops.diagnose import write_diagnostics

    paths = _paths(args)
    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise UsageError("bad_argument", f"--out {out}: is a folder; give a file name")
    zpath = write_diagnostics(paths, out)
    _say(args, {"diagnose": str(zpath)}, f"diagnostics written: {zpath} (no secrets inside)")
    return EXIT_OK


def cmd_provision(args: argparse.Namespace) -> int:
    from kiosk.ops.provisioning import FILE_NAME, apply_provision_file, find_provision_file

    paths = _paths(args)
    source = Path(args.file) if args.file else find_provision_file(paths)
    if source is None:
        raise UsageError("no_provision", f"no {FILE_NAME} next to the program or in {paths.home}")
    if not source.is_file():
        raise UsageError("bad_argument", f"{source}: no such provisioning file")
    result = apply_provision_file(paths, source)
    _say(
        args,
        {"provisioned": str(result.source), "enrolled": result.enrolled, "summary": result.summary},
        f"provisioned from {result.source}: {result.summary}",
    )
    return EXIT_OK


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add backup, restore, diagnose and provision to the CLI."""
    p = sub.add_parser("backup", help="back up the store now (or --list the backups)")
    add_common(p)
    p.add_argument("--list", action="store_true", help="list the backups instead")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="replace the store with a backup (window must be closed)")
    add_common(p)
    p.add_argument("file", help="a backup file (see 'backup --list')")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("diagnose", help="write a zip of logs, status and config for support")
    add_common(p)
    p.add_argument("--out", help="zip file to write (default: in the data folder)")
    p.set_defaults(func=cmd_diagnose)

    p = sub.add_parser("provision", help="apply a provisioning file (cinepass-provision.json)")
    add_common(p)
    p.add_argument("--file", help="the file (default: next to the program, then the data folder)")
    p.set_defaults(func=cmd_provision)
