"""``cinepass-partner``: the reference client (:mod:`sync.partner_client`) on the command line.

``check``, ``hold``, ``confirm``, ``release``, ``cancel``; each prints the
server's JSON answer. The id and secret come from ``--credentials FILE`` (the
JSON that ``cinepass-admin partner add --json`` printed) or from the
environment (``CINEPASS_PARTNER_ID``, ``CINEPASS_PARTNER_SECRET``); the server
from ``--server`` or ``CINEPASS_SERVER``. Exit 0, 1 refused, 2 bad usage, 3
server unreachable. Plain argparse, like the client: integrators copy both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from sync.partner_client import PartnerApiError, PartnerClient


def client_from(args: argparse.Namespace) -> PartnerClient:
    """The client the command line and environment describe (exit 2 if something is missing)."""
    pid = os.environ.get("CINEPASS_PARTNER_ID", "")
    secret = os.environ.get("CINEPASS_PARTNER_SECRET", "")
    if args.credentials:
        with open(args.credentials, encoding="utf-8") as f:
            creds = json.load(f)
        pid, secret = str(creds.get("id", "")), str(creds.get("secret", ""))
    server = args.server or os.environ.get("CINEPASS_SERVER", "")
    if not (pid and secret and server):
        print(
            "cinepass-partner: 需要 --server 和凭据 / give --server (or CINEPASS_SERVER) and "
            "--credentials FILE (or CINEPASS_PARTNER_ID and CINEPASS_PARTNER_SECRET)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return PartnerClient(server, pid, secret)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cinepass-partner", description="CinePass online API client")
    p.add_argument("--server", help="base URL, e.g. https://cinepass.example.org")
    p.add_argument("--credentials", help="JSON file with id and secret (partner add --json)")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("check", "hold"):
        s = sub.add_parser(name)
        s.add_argument("code")
        s.add_argument("--cinema", required=True)
        s.add_argument("--format", default="2D")
        if name == "hold":
            s.add_argument("--order-ref", required=True)
            s.add_argument("--key", help="Idempotency-Key (default: a new uuid)")
            s.add_argument("--seconds", type=int, help="hold length (default 900, at most 1800)")
    for name in ("confirm", "release"):
        sub.add_parser(name).add_argument("hold_id")
    c = sub.add_parser("cancel")
    c.add_argument("record_id")
    c.add_argument("--reason", required=True)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Print the JSON answer; exit 0, 1 when the server refused, 2 for bad usage."""
    args = build_parser().parse_args(argv)
    client = client_from(args)
    try:
        if args.command == "check":
            out = client.check(args.code, args.cinema, args.format)
        elif args.command == "hold":
            out = client.hold(
                args.code,
                args.cinema,
                args.format,
                args.order_ref,
                key=args.key,
                hold_seconds=args.seconds,
            )
        elif args.command == "confirm":
            out = client.confirm(args.hold_id)
        elif args.command == "release":
            out = client.release(args.hold_id)
        else:
            out = client.cancel(args.record_id, args.reason)
    except PartnerApiError as exc:
        print(json.dumps({"error": exc.error, "message": exc.message}, ensure_ascii=False))
        return 1
    except OSError as exc:
        print(json.dumps({"error": "unreachable", "message": str(exc)}, ensure_ascii=False))
        return 3
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
