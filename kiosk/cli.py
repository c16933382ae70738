"""``cinepass-kiosk``: the counter's command line (a public contract).

Exit codes: 0 accepted/success, 1 rejected, 2 bad input or usage, 3
environment failure. Without a subcommand it opens the scan window.

Subcommands live in :mod:`kiosk.commands` modules, each with a
``register(subparsers)`` function; this file imports them statically and only
dispatches (they import :mod:`kiosk.commands.common`, never this module, so
there is no cycle). Errors are mapped to exit codes in one place,
:func:`sync.cliparse.run`, which also keeps the command's own exit code when
stdout's reader has gone (``cinepass-kiosk redeem @v.txt | head -1``).
Importing this module, or any command module, must not import Qt or OpenCV:
only the window and ``decode`` need them, and the others must answer in well
under a second.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sync.cliparse import Parser, run

from .commands import engine as engine_commands
from .commands import ops as ops_commands
from .commands import peers as peers_commands
from .commands import sync as sync_commands

PROG = "cinepass-kiosk"


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = Parser(prog=PROG, description="CinePass box-office kiosk")
    parser.add_argument(
        "--home", help="data folder (default: CINEPASS_HOME or the user data folder)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    # window options (used when no subcommand is given)
    parser.add_argument("--camera", help="camera index, video file or image (window)")
    parser.add_argument("--staff", help="sign a clerk in (window)")
    parser.add_argument("--fullscreen", action="store_true", help="full screen kiosk mode (window)")
    parser.add_argument("--demo", action="store_true", help="run the whole system on this machine")
    parser.add_argument("--decoder", choices=("zxing", "pyzbar"), help="QR decoder")
    parser.add_argument("--self-test", action="store_true", help="check this installation")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for module in (engine_commands, sync_commands, ops_commands, peers_commands):
        module.register(sub)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    """The window, the self-test or one subcommand (its ``func``)."""
    if args.self_test:
        from .selftest import run_self_test

        return int(run_self_test(args))
    if args.demo and args.command is None:
        from .demo import run_demo  # builds its own throw-away home, then opens the window

        return int(run_demo(args))
    if args.command is None:
        from .ui.startup_window import run_window_with_startup  # imports Qt: only here

        return int(run_window_with_startup(args))
    result: int = args.func(args)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(PROG, lambda: _dispatch(args), json_errors=bool(args.json))


if __name__ == "__main__":
    sys.exit(main())
