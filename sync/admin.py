"""``cinepass-admin``: the union office's command line (a public contract).

Exit codes: 0 success, 2 bad input or usage (one clear line on stderr,
nothing changed), 3 environment failure (database unreachable, disk full).

This file only dispatches. Subcommands live in ``sync.admin_*`` modules, each
with a ``register(subparsers)`` function: :mod:`sync.admin_issue` (``init``,
``export-key``, ``issue``) and :mod:`sync.admin_server` (cinemas, devices,
freezing, reports). The global ``--db URL`` (default: a SQLite file in the
user data folder, see :func:`sync.server.db.default_db_url`; a PostgreSQL
URL works the same) may also follow the subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sync.errors import CinePassError
from sync.voucher.errors import VoucherError

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_ENV = 3

COMMAND_MODULES = ("sync.admin_issue", "sync.admin_server")


class AdminError(CinePassError):
    """A refused admin command: ``reason`` code, one-line ``message``, exit code."""

    def __init__(self, reason: str, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(reason, message, exit_code=exit_code)


class _Parser(argparse.ArgumentParser):
    """argparse that says one line and exits 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_common(parser: argparse.ArgumentParser) -> None:
    """Let ``--db`` also follow a subcommand (``cinepass-admin issue --db URL ...``)."""
    parser.add_argument("--db", default=argparse.SUPPRESS, help="database URL")


def db_url(args: argparse.Namespace) -> str:
    """The database URL the user chose, else the default SQLite file."""
    url: str | None = getattr(args, "db", None)
    if url:
        return url
    from sync.server.db import default_db_url

    return default_db_url()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cinepass-admin", description="CinePass union office tool")
    parser.add_argument(
        "--db", help="database URL (default: a SQLite file in the user data folder)"
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from sqlalchemy.exc import SQLAlchemyError

    try:
        result: int = args.func(args)
        return result
    except AdminError as exc:
        print(f"cinepass-admin: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except VoucherError as exc:
        print(f"cinepass-admin: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"cinepass-admin: database error: {first}", file=sys.stderr)
        return EXIT_ENV
    except OSError as exc:
        print(f"cinepass-admin: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return EXIT_ENV
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # ``python -m sync.admin``: run the imported module's main, so AdminError raised by
    # sync.admin_* (which import ``sync.admin``) is the class main() catches.
    from sync.admin import main as _main

    sys.exit(_main())
