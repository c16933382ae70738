"""``cinepass-admin``: the union office's command line (a public contract).

Exit codes: 0 success, 2 bad input or usage (one clear line on stderr,
nothing changed), 3 environment failure (database unreachable, disk full).

This file only dispatches. Subcommands live in ``sync.admin_*`` modules, each
with a ``register(subparsers)`` function: :mod:`sync.admin_issue` (``init``,
``export-key``, ``issue``), :mod:`sync.admin_server` (cinemas, devices,
freezing, reports) and :mod:`sync.admin_review` (``review``, ``audit``); what they do to the database is :mod:`sync.office`. They
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

from sync import (
    admin_alerts,
    admin_campaigns,
    admin_issue,
    admin_partners,
    admin_review,
    admin_server,
    admin_users,
)
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
    admin_review.register(sub)
    admin_users.register(sub)
    admin_alerts.register(sub)
    admin_partners.register(sub)
    admin_campaigns.register(sub)
    return parser


#: Commands whose module does not write its own audit line: one is written after success
#: (``issue`` writes its own, in the transaction that records the batch).
_AUDIT_AFTER = {"init": "issuer.init"}


def _audit_after(args: argparse.Namespace) -> None:
    """The audit line of a change made by a command of :mod:`sync.admin_issue`.

    A separate transaction right after the change (those commands commit
    files and rows in their own order); it names the flags, never a key.
    """
    from sync.admin_common import session
    from sync.office import audit

    keep: tuple[str, ...] = ("issuer", "name", "rotate", "count", "members", "out")
    keep += ("valid_days", "formats", "cinemas", "campaign")
    after = {k: getattr(args, k) for k in keep if getattr(args, k, None) not in (None, False)}
    field = "issuer" if args.command == "init" else "out"
    subject = str(getattr(args, field, "") or "")
    with session(args) as s:
        audit.record(
            s,
            actor=audit.os_user(),
            action=_AUDIT_AFTER[args.command],
            subject=subject,
            after=after,
        )


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command; the environment's own errors get their one line here.

    A :class:`~sync.errors.CinePassError` is mapped by :func:`sync.cliparse.run`;
    a database or file system failure nobody anticipated is still exit 3 with
    one line, not a traceback, because the clerk can act on it (disk, network).
    """
    try:
        result: int = args.func(args)
        if result == EXIT_OK and args.command in _AUDIT_AFTER:
            _audit_after(args)
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
