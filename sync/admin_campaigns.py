"""``cinepass-admin campaign add|list``: the office's campaigns (issue 12).

Thin shells around :mod:`sync.office.campaigns`. A campaign's code is what
``cinepass-admin issue --campaign CODE`` puts on each voucher, so ``list``
counts every batch issued with that code, registered before or after it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sync.admin_common import command, session
from sync.cliparse import Parser
from sync.errors import EXIT_OK
from sync.office import audit
from sync.office.campaigns import add_campaign, campaign_utilisation


def cmd_add(args: argparse.Namespace) -> int:
    with session(args) as s:
        fields = {k: getattr(args, k) for k in ("code", "name", "start", "end", "planned")}
        row = add_campaign(s, fields, actor=audit.os_user())
        code, first, last = row.code, row.starts_on, row.ends_on
    print(f"campaign / 活动 {code}: {first} to {last}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with session(args) as s:
        rows = campaign_utilisation(s)
    if args.json or not rows:
        print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else "no campaigns yet")
        return EXIT_OK
    print("code\tname\tstart\tend\tplanned\tissued\tredeemed\tutilisation\texpiring_30d")
    for r in rows:
        share = f"{100 * r['utilisation']:.1f}%" if r["utilisation"] is not None else "-"
        cells: tuple[Any, ...] = (r["code"], r["name"], r["starts_on"] or "-")
        cells += (r["ends_on"] or "-", r["planned"] or "-", r["issued"], r["redeemed"])
        cells += (share, r["expiring"])
        print("\t".join(str(c) for c in cells))
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``campaign add|list`` to ``cinepass-admin``'s subparsers."""
    p = command(sub, "campaign", "campaigns: planned, issued, redeemed", None)
    csub = p.add_subparsers(dest="campaign_command", required=True, parser_class=Parser)
    a = command(csub, "add", "register a campaign (its code goes on the vouchers)", cmd_add)
    a.add_argument("code", help="the code vouchers carry (issue --campaign CODE)")
    a.add_argument("--name", default="", help="what the console shows (default: the code)")
    a.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    a.add_argument("--end", required=True, help="last day, YYYY-MM-DD")
    a.add_argument("--planned", type=int, help="how many vouchers are planned")
    a = command(csub, "list", "every campaign with issued vs redeemed", cmd_list)
    a.add_argument("--json", action="store_true")
