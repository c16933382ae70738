"""``cinepass-admin partner add|list|revoke``: the online API's partners (issue 14).

Thin shells around :mod:`sync.office.partners`, each in one transaction.
``partner add`` prints the secret once: it is the HMAC key the partner signs
with, and no later command shows it again (docs/online-api.md).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sync.admin_common import Command, add_group, arg, session
from sync.errors import EXIT_OK
from sync.office.partners import add_partner, list_partners, partner_json, revoke_partner


def cmd_partner_add(args: argparse.Namespace) -> int:
    with session(args) as s:
        partner, secret = add_partner(s, args.name, tuple(args.cinema or ()))
        pid, cinemas = partner.id, partner.cinemas
    if args.json:
        print(json.dumps({"id": pid, "secret": secret}))
        return EXIT_OK
    where = ", ".join(cinemas) if cinemas else "every cinema / 所有影院"
    print(f"partner / 合作方 {pid} for {where}")
    print(f"id:     {pid}")
    print(f"secret: {secret}")
    print("密钥只显示这一次，请安全交给合作方 / the secret is shown only now: hand it over safely")
    return EXIT_OK


def cmd_partner_list(args: argparse.Namespace) -> int:
    with session(args) as s:
        rows = [partner_json(p) for p in list_partners(s)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("no partners yet / 尚无合作方")
        return EXIT_OK
    for r in rows:
        cinemas = ",".join(r["cinemas"]) if isinstance(r["cinemas"], list) else "*"
        print(f"{r['id']}  {r['status']:<8} {cinemas:<24} {r['name']}")
    return EXIT_OK


def cmd_partner_revoke(args: argparse.Namespace) -> int:
    with session(args) as s:
        revoke_partner(s, args.id)
    print(f"partner / 合作方 {args.id} revoked: its requests are refused from now on")
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``partner`` to ``cinepass-admin``'s subparsers."""
    as_json = arg("--json", action="store_true")
    add_group(
        sub,
        "partner",
        "online API partners (ticketing)",
        "partner_command",
        (
            Command(
                "add",
                "add a partner: prints its id and secret once",
                cmd_partner_add,
                (
                    arg("--name", required=True),
                    arg(
                        "--cinema",
                        action="append",
                        metavar="CODE",
                        help="repeat; none: every cinema",
                    ),
                    as_json,
                ),
            ),
            Command("list", "every partner (never the secrets)", cmd_partner_list, (as_json,)),
            Command(
                "revoke",
                "refuse every later request of a partner",
                cmd_partner_revoke,
                (arg("id"),),
            ),
        ),
    )
