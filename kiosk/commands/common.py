"""What every ``cinepass-kiosk`` command module shares, so none imports :mod:`kiosk.cli`.

:mod:`kiosk.cli` imports the command modules statically and calls their
``register(subparsers)``; a command module importing the top module back would
be a cycle. The parser class and the error mapping come from
:mod:`sync.cliparse` (shared with ``cinepass-admin``); only the kiosk's own
``--home``/``--json`` options live here.
"""

from __future__ import annotations

import argparse


def add_common(parser: argparse.ArgumentParser) -> None:
    """Let ``--home`` and ``--json`` also follow a subcommand (``verify --json X``)."""
    parser.add_argument("--home", default=argparse.SUPPRESS, help="data folder")
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="JSON output"
    )
