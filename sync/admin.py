"""``cinepass-admin``: the union office's command line (a public contract).

Exit codes: 0 success, 2 bad input or usage (one clear line on stderr,
nothing changed), 3 environment failure (database unreachable, disk full).

This file only dispatches. Subcommands live in ``sync.admin_*`` modules, each
with a ``register(subparsers)`` function: :mod:`sync.admin_issue` (``init``,
``export-key``, ``issue``) and :mod:`sync.admin_server` (cinemas, devices,
freezing, reports); what they do to the database is :mod:`sync.office`. They
import :mod:`sync.admin_common` and :mod:`sync.cliparse`, never this module,
so the imports below are plain. The global ``--db URL`` (default: a SQLite
file in the user data folder, see :func:`sync.server.db.default_db_url`; a
PostgreSQL URL works the same) may also follow the subcommand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from sync import admin_issue, admin_partners, admin_server
from sync.admin_common import AdminError
from sync.cliparse import Parser, run
from sync.errors import EXIT_ENV, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_ENV", "EXIT_OK", "EXIT_USAGE", "AdminError", "build_parser", "main"]

PROG = "cinepass-admin"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="CinePass union office tool")
    parser.add_argument(
        "--db", help="database URL (default: a SQLite file in the user data folder)"
    )
    sub = parser.add_subparsers(dest="command", parser_class=Parser, required=True)
    admin_issue.register(sub)
    admin_server.register(sub)
    admin_partners.register(sub)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command; the environment's own errors get their one line here.

    A :class:`~sync.errors.CinePassError` is mapped by :func:`sync.cliparse.run`;
    a database or file system failure nobody anticipated is still exit 3 with
    one line, not a traceback, because the clerk can act on it (disk, network).
    """
    try:
        result: int = args.func(args)
        return result
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{PROG}: database error: {first}", file=sys.stderr)
        return EXIT_ENV
    except OSError as exc:
        print(f"{PROG}: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return EXIT_ENV


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(PROG, lambda: _dispatch(args))


if __name__ == "__main__":
    sys.exit(main())
