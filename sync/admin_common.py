"""What every ``cinepass-admin`` command module shares: ``--db``, opening it, its error.

Command modules (:mod:`sync.admin_issue`, :mod:`sync.admin_server`) import this
module and :mod:`sync.cliparse`, never :mod:`sync.admin`, which imports them:
so the imports run one way and need no ``importlib``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sync.errors import EXIT_ENV, CinePassError
from sync.office.issuers import key_dir_for


class AdminError(CinePassError):
    """A refused admin command (bad flags, a file it cannot write): one line, exit 2 or 3."""

    def __init__(self, reason: str, message: str, exit_code: int | None = None) -> None:
        super().__init__(reason, message, exit_code=exit_code)


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


def open_db(url: str, *, create: bool = False) -> Engine:
    """Migrate (idempotent) and return an engine; an unreachable database is exit 3.

    Only ``init`` passes ``create=True``: every other command refuses a
    database that is not already a CinePass one (a typo in ``--db`` must not
    silently make an empty one), see :func:`sync.server.db.open_existing`.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from sync.server.db import migrate, open_existing

    key_dir_for(url)  # refuses what is not a URL CinePass can use (exit 2, not 3)
    if url.startswith("sqlite:///") and create:
        folder = Path(url[len("sqlite:///") :]).parent
        if not folder.is_dir():
            raise AdminError("bad_db_url", f"database folder {folder} does not exist")
    try:
        return migrate(url) if create else open_existing(url)
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        raise AdminError("db_unavailable", f"cannot open database: {first}", EXIT_ENV) from exc


@contextlib.contextmanager
def session(args: argparse.Namespace) -> Iterator[Session]:
    """One transaction on the chosen database: a refused command changes nothing."""
    from sync.server.db import session_scope

    with session_scope(open_db(db_url(args))) as s:
        yield s
