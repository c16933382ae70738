"""``cinepass-admin user add|passwd|disable|totp|list``: the console's accounts.

Thin shells over :mod:`sync.office.users`, each in one transaction with its
audit row (actor ``cli:<login name>``, so the office can tell a command typed
on the server from a console action). A password is read with ``getpass``
(asked twice) or, with ``--password-stdin``, as the first line of standard
input, so scripts never put it on a command line where ``ps`` shows it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from sync.admin_common import AdminError, Command, add_group, arg, print_rows, session
from sync.errors import EXIT_OK
from sync.office import users


def actor() -> str:
    """Who typed the command, as the audit log names it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise AdminError("no_password", "--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AdminError("password_mismatch", "the two passwords differ; nothing changed")
    return first


def cmd_add(args: argparse.Namespace) -> int:
    password = read_password(args)
    with session(args) as s:
        users.add_user(s, args.name, args.role, password, cinema=args.cinema, actor=actor())
    where = f" for cinema {args.cinema}" if args.cinema else ""
    print(f"console user {args.name} added ({args.role}{where})")
    return EXIT_OK


def cmd_passwd(args: argparse.Namespace) -> int:
    password = read_password(args)
    with session(args) as s:
        users.set_password(s, args.name, password, actor=actor())
    print(f"password of {args.name} changed; its sessions were closed")
    return EXIT_OK


def cmd_disable(args: argparse.Namespace) -> int:
    with session(args) as s:
        users.disable_user(s, args.name, actor=actor())
    print(f"console user {args.name} disabled; its sessions were closed")
    return EXIT_OK


def cmd_totp(args: argparse.Namespace) -> int:
    with session(args) as s:
        secret = users.set_totp(s, args.name, not args.off, actor=actor())
        uri = users.totp_uri(users.get_user(s, args.name)) if secret else ""
    if secret is None:
        print(f"second factor of {args.name} turned off")
    else:
        print(f"second factor of {args.name} turned on; add it to an authenticator app:")
        print(f"secret: {secret}")
        print(uri)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with session(args) as s:
        rows = users.list_users(s)
    head = ("name", "role", "cinema", "disabled", "totp", "locked_until", "last_login")
    none = "no console users (add one with 'cinepass-admin user add NAME --role admin')"
    print_rows(rows, head, args.json, none)
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``user ...`` to ``cinepass-admin``'s subparsers."""
    name = arg("name")
    from_stdin = arg("--password-stdin", action="store_true", help="read the password from stdin")
    add_group(
        sub,
        "user",
        "console accounts: add, passwd, disable, totp, list",
        "user_command",
        (
            Command(
                "add",
                "create a console account",
                cmd_add,
                (
                    name,
                    arg("--role", required=True, choices=users.ROLES),
                    arg("--cinema", help="the cinema of a cinema account"),
                    from_stdin,
                ),
            ),
            Command(
                "passwd",
                "set a new password (also lifts a lockout)",
                cmd_passwd,
                (name, from_stdin),
            ),
            Command("disable", "block an account and end its sessions", cmd_disable, (name,)),
            Command(
                "totp",
                "turn the TOTP second factor on (prints the secret) or off",
                cmd_totp,
                (name, arg("--off", action="store_true", help="turn it off")),
            ),
            Command(
                "list", "every console account", cmd_list, (arg("--json", action="store_true"),)
            ),
        ),
    )
