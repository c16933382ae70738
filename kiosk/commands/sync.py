"""``cinepass-kiosk enroll`` and ``cinepass-kiosk sync`` (see kiosk.cli).

``sync`` runs one full cycle and exits 0 when nothing is left pending, 3 when
the server cannot be reached or refuses (pending records stay untouched).
No Qt, no OpenCV here: both commands must answer quickly.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from kiosk.commands.common import add_common
from kiosk.errors import EXIT_ENV, EXIT_OK


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("enroll", help="connect this counter to the union's server")
    add_common(p)
    p.add_argument("--server", required=True, help="server URL, e.g. https://cinepass.example.org")
    p.add_argument("--code", required=True, help="one-time enrolment code from the union office")
    p.add_argument("--ca-bundle", default=None, help="CA certificate file (self-hosted server)")
    p.add_argument("--allow-http", action="store_true", help="allow plain HTTP (not recommended)")
    p.add_argument("--name", default=None, help="counter name (default: the PC's name)")
    p.set_defaults(func=_enroll)

    s = sub.add_parser("sync", help="upload pending redemptions and fetch revocations now")
    add_common(s)
    s.set_defaults(func=_sync)


def _enroll(args: argparse.Namespace) -> int:
    from kiosk.enrollment import enroll
    from kiosk.paths import resolve_home

    info = enroll(
        resolve_home(args.home),
        args.server,
        args.code,
        ca_bundle=args.ca_bundle,
        allow_http=args.allow_http,
        name=args.name,
    )
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        print(
            f"enrolled as {info['device_id']} for cinema {info['cinema']} "
            f"({info['keys']} issuer keys, {info['revocations']} revocations, "
            f"{info['roster']} vouchers in the roster)"
        )
    return EXIT_OK


def _sync(args: argparse.Namespace) -> int:
    import sys

    from kiosk.paths import resolve_home
    from kiosk.syncer import SyncEngine

    engine = SyncEngine(resolve_home(args.home))
    try:
        result = engine.sync_now()
    finally:
        engine.stop()
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    elif result.ok:
        print(
            f"synced: {result.uploaded} uploaded ({result.duplicates} duplicates), "
            f"{result.pending} pending, {result.revocations} revocation updates"
        )
        if result.quarantined:
            print(
                f"  {result.quarantined} record(s) quarantined by the server (kept here, "
                "not paid): see the manager view / 'cinepass-kiosk status'"
            )
    if not result.ok:
        if result.revoked:
            msg = (
                "this counter was disconnected by the union office (device revoked); "
                f"{result.pending} unsynced records are kept here"
            )
        else:
            msg = f"{result.error_message} ({result.pending} records still pending)"
        print(f"cinepass-kiosk: sync failed: {msg}", file=sys.stderr)
        return EXIT_ENV
    return EXIT_OK if result.pending == 0 else EXIT_ENV
