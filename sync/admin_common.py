"""What every ``cinepass-admin`` command module shares: ``--db``, opening it, its error,
registering its commands and printing a listing.

Command modules (:mod:`sync.admin_issue`, :mod:`sync.admin_server`) import this
module and :mod:`sync.cliparse`, never :mod:`sync.admin`, which imports them:
so the imports run one way and need no ``importlib``.

A command is registered as data (:class:`Command`: name, help, function, its
:func:`arg` list) and :func:`add_commands` / :func:`add_group` make the
parsers, each with ``--db`` (:func:`add_common`) ahead of its own arguments:
so every command gets the same treatment and no module writes the argparse
calls out again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sync.cliparse import Parser
from sync.errors import EXIT_ENV, CinePassError
from sync.office.issuers import key_dir_for


class AdminError(CinePassError):
    """A refused admin command (bad flags, a file it cannot write): one line, exit 2 or 3."""

    def __init__(self, reason: str, message: str, exit_code: int | None = None) -> None:
        super().__init__(reason, message, exit_code=exit_code)


def add_common(parser: argparse.ArgumentParser) -> None:
    """Let ``--db`` also follow a subcommand (``cinepass-admin issue --db URL ...``)."""
    parser.add_argument("--db", default=argparse.SUPPRESS, help="database URL")


@dataclass(frozen=True)
class Arg:
    """One ``add_argument`` call as data: its flags (or positional name) and its options."""

    flags: tuple[str, ...]
    options: Mapping[str, Any]


def arg(*flags: str, **options: Any) -> Arg:
    """``arg("--json", action="store_true")``: what ``parser.add_argument`` would be given."""
    return Arg(flags, options)


@dataclass(frozen=True)
class Command:
    """One (sub)command: its name, its help line, the function it runs, its arguments in order."""

    name: str
    help: str
    func: Callable[[argparse.Namespace], int]
    args: tuple[Arg, ...] = field(default=())


def command(sub: Any, name: str, text: str, func: Any) -> argparse.ArgumentParser:
    """One ``cinepass-admin`` (sub)command: its parser, with ``--db`` and its function."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=text)
    add_common(p)
    if func is not None:  # a group (``issuer``) has only its subcommands' functions
        p.set_defaults(func=func)
    return p


def add_commands(sub: Any, commands: Iterable[Command]) -> None:
    """Register each of ``commands`` on the subparsers ``sub``, in order."""
    for c in commands:
        p = command(sub, c.name, c.help, c.func)
        for a in c.args:
            p.add_argument(*a.flags, **a.options)


def add_group(sub: Any, name: str, text: str, dest: str, commands: Iterable[Command]) -> None:
    """A command that is only a group (``user add|list…``): one of ``commands`` is required,
    its name stored in ``args.<dest>``."""
    group = command(sub, name, text, None)
    inner = group.add_subparsers(dest=dest, required=True, parser_class=Parser)
    add_commands(inner, commands)


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


def print_rows(rows: list[dict[str, Any]], head: tuple[str, ...], as_json: bool, none: str) -> None:
    """A listing command's output: JSON, ``none`` when empty, else tab-separated columns."""
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        print(none)
    else:
        print("\t".join(head))
        for r in rows:
            cells = (r[h] for h in head)
            print("\t".join(_text(c) for c in cells))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)
