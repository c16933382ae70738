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


def register(sub: Any) -> None:
    """Add ``settle`` (``sign-off``, ``list``) to ``cinepass-admin``'s subparsers."""
    p = sub.add_parser("settle", help="month sign-off: lock a month's settlement statement")
    add_common(p)
    ssub = p.add_subparsers(dest="settle_command", required=True, parser_class=Parser)
    so = ssub.add_parser("sign-off", help="lock a month (one cinema, or all not signed yet)")
    add_common(so)
    so.add_argument("--month", required=True, help="YYYY-MM (each cinema's business month)")
    so.add_argument("--cinema", help="only this cinema (default: every cinema)")
    so.add_argument("--json", action="store_true")
    so.set_defaults(func=cmd_sign_off)
    ls = ssub.add_parser("list", help="every month signed off: who, when")
    add_common(ls)
    ls.add_argument("--cinema", help="only this cinema")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
