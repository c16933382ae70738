"""``cinepass-admin settle sign-off --month YYYY-MM [--cinema CODE]`` and ``settle list``.

``sign-off`` locks a month's statement (see :mod:`sync.office.signoff` and
docs/settlement.md): for one cinema, or for every cinema not signed yet.
Exit 0 signed, 2 bad input (month, cinema), 1 refused (already signed, a
month that has not begun). ``list`` prints every sign-off (who, when).
Registered by :func:`sync.admin_review.register`, beside ``review``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sync.admin_common import add_common, session
from sync.admin_server import print_rows
from sync.cliparse import Parser
from sync.errors import EXIT_OK
from sync.office import audit, signoff

__all__ = ["register"]


def cmd_sign_off(args: argparse.Namespace) -> int:
    with session(args) as s:
        result = signoff.sign_off(s, args.month, args.cinema, actor=audit.os_user())
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return EXIT_OK
    for c in result["cinemas"]:
        print(
            f"已签核 / signed off {result['month']} {c['cinema']}: "
            f"valid {c['valid_total']}, payable {c['payable_total']}"
        )
    print(f"签核人 / by {result['signed_by']} at {result['signed_at']}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with session(args) as s:
        rows = signoff.signed_months(s, args.cinema)
    head = ("month", "cinema", "signed_by", "signed_at")
    print_rows(rows, head, args.json, "尚无签核 / no month signed off yet")
    return EXIT_OK


#: ``settle`` subcommands: (name, function, help, needs --month, --cinema's help)
COMMANDS = (
    ("sign-off", cmd_sign_off, "lock a month (a cinema, or all not signed yet)", True, "only it"),
    ("list", cmd_list, "every month signed off: who, when", False, "only this cinema"),
)


def register(sub: Any) -> None:
    """Add ``settle`` (``sign-off``, ``list``) to ``cinepass-admin``'s subparsers."""
    p = sub.add_parser("settle", help="month sign-off: lock a month's settlement statement")
    add_common(p)
    ssub = p.add_subparsers(dest="settle_command", required=True, parser_class=Parser)
    for name, func, help_, month, cinema in COMMANDS:
        sp = ssub.add_parser(name, help=help_)
        add_common(sp)
        if month:
            sp.add_argument("--month", required=True, help="YYYY-MM (the business month)")
        sp.add_argument("--cinema", help=cinema)
        sp.add_argument("--json", action="store_true")
        sp.set_defaults(func=func)
