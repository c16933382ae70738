"""``cinepass-kiosk``: the counter's command line (a public contract).

Exit codes: 0 accepted/success, 1 rejected, 2 bad input or usage, 3
environment failure. Without a subcommand it opens the scan window.

Subcommands live in :mod:`kiosk.commands` modules, each with a
``register(subparsers)`` function; this file only dispatches. Importing this
module, or any command module, must not import Qt or OpenCV: only the window
and ``decode`` need them, and the others must answer in well under a second.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from .errors import EXIT_USAGE, KioskError

COMMAND_MODULES = ("kiosk.commands.engine", "kiosk.commands.sync", "kiosk.commands.ops")


class _Parser(argparse.ArgumentParser):
    """argparse that says one line and exits 2 (no usage dump for the clerk)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_common(parser: argparse.ArgumentParser) -> None:
    """Let ``--home`` and ``--json`` also follow a subcommand (``verify --json X``)."""
    parser.add_argument("--home", default=argparse.SUPPRESS, help="data folder")
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="JSON output"
    )


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="cinepass-kiosk", description="CinePass box-office kiosk")
    parser.add_argument(
        "--home", help="data folder (default: CINEPASS_HOME or the user data folder)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--version", action="version", version=f"cinepass-kiosk {__version__}")
    # window options (used when no subcommand is given)
    parser.add_argument("--camera", help="camera index, video file or image (window)")
    parser.add_argument("--staff", help="sign a clerk in (window)")
    parser.add_argument("--fullscreen", action="store_true", help="full screen kiosk mode (window)")
    parser.add_argument("--demo", action="store_true", help="run the whole system on this machine")
    parser.add_argument("--decoder", choices=("zxing", "pyzbar"), help="QR decoder")
    parser.add_argument("--self-test", action="store_true", help="check this installation")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.self_test:
            from .selftest import run_self_test

            return int(run_self_test(args))
        if args.command is None:
            from .ops.startup import run_window_with_startup
            from .ui.app import run_window

            return int(run_window_with_startup(args, run_window))
        result: int = args.func(args)
        return result
    except KioskError as exc:
        if args.json:
            print(json.dumps({"error": exc.reason, "message": exc.message}, ensure_ascii=False))
        print(f"cinepass-kiosk: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
