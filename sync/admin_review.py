"""``cinepass-admin review RECORD --accept|--reject --note TEXT`` and ``audit [--json] [--since]``.

``review`` decides one line held for review (see :mod:`sync.office.review`):
exit 0 decided, 2 bad input (unknown record, no note), 1 refused (the line
is not under review, or the voucher is already paid to another line).
``audit`` prints the office's audit log (:mod:`sync.office.audit`), oldest
first, from ``--since`` (a date or time, China Standard Time unless it says
otherwise) on.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from sync import admin_settle
from sync.admin_common import AdminError, add_common, session
from sync.admin_server import print_rows
from sync.errors import EXIT_OK
from sync.issuing import DISPLAY_TZ
from sync.office import audit
from sync.office.review import review

__all__ = ["register"]


def cmd_review(args: argparse.Namespace) -> int:
    if args.accept == args.reject:
        raise AdminError(
            "bad_choice", "请选择 --accept 或 --reject / say --accept or --reject (one)"
        )
    with session(args) as s:
        result = review(s, args.record, accept=args.accept, note=args.note, actor=audit.os_user())
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        flags = ",".join(result["flags"]) or "-"
        word = "已接受" if result["decision"] == "accepted" else "已拒绝"
        print(
            f"{word} / record {result['record']} {result['decision']}: now {result['status']} ({flags})"
        )
    return EXIT_OK


def parse_since(text: str) -> int:
    """``--since`` as epoch ms: ``YYYY-MM-DD`` or an ISO time (CST when no zone is given)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise AdminError(
            "bad_since",
            f"--since 应为日期或时间 / --since must be YYYY-MM-DD or an ISO time, not {text!r}",
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=DISPLAY_TZ)
    return int(when.timestamp() * 1000)


def cmd_audit(args: argparse.Namespace) -> int:
    since = parse_since(args.since) if args.since else None
    with session(args) as s:
        rows = audit.entries(s, since)
    head = ("at", "actor", "address", "action", "subject", "before", "after")
    print_rows(rows, head, args.json, "没有审计记录 / no audit entries")
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``review``, ``audit`` and ``settle`` to ``cinepass-admin``'s subparsers."""
    p = sub.add_parser("review", help="decide a line held for review (accept or reject)")
    add_common(p)
    p.add_argument("record", help="the record uuid (see 'report redemptions')")
    p.add_argument("--accept", action="store_true", help="pay it")
    p.add_argument("--reject", action="store_true", help="never pay it")
    p.add_argument("--note", default="", help="why (required; kept in the audit log)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("audit", help="the office's audit log: who changed what, when")
    add_common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--since", help="YYYY-MM-DD or an ISO time (China Standard Time)")
    p.set_defaults(func=cmd_audit)
    admin_settle.register(sub)  # month sign-off: the other half of the accountant's work
