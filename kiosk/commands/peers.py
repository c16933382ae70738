"""``cinepass-kiosk serve`` and ``redeem --peer``: the counters of one cinema on the LAN.

``serve --home DIR [--listen HOST:PORT] [--peer HOST:PORT ...]`` runs a
counter's engine without a window (a back-office PC, the tests): the peer
listener, the exchange with its peers and, when enrolled, the sync. It
prints ``listening on HOST:PORT`` (``{"listen": ...}`` with ``--json``) once
ready and runs until SIGTERM or Ctrl-C (exit 0). ``redeem --peer HOST:PORT``
asks those peers, the ones in config.json's ``peers`` and the ones the
server listed, before accepting (docs/lan-peers.md).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import TYPE_CHECKING, Any

from kiosk.commands.common import add_common
from kiosk.errors import EXIT_OK, UsageError
from kiosk.paths import resolve_home

if TYPE_CHECKING:
    from kiosk.engine.service import KioskService


def _check_addresses(values: list[str], *, listen: str | None = None) -> list[str]:
    """``values`` (peers) if each is HOST:PORT, and ``listen`` too (where port 0 is fine)."""
    from kiosk.peers.client import split_address

    checks = [(a, False) for a in values] + ([(listen, True)] if listen is not None else [])
    for a, is_listen in checks:
        try:
            split_address(a, listen=is_listen)
        except ValueError as exc:
            raise UsageError(
                "bad_address", f"--peer/--listen must be HOST:PORT, not {a!r}"
            ) from exc
    return values


def attach_peers(svc: KioskService, args: argparse.Namespace) -> None:
    """Give ``redeem`` its claim round (when this counter is enrolled and has peers)."""
    from kiosk.peers.hook import PeerHook
    from kiosk.peers.node import Peers

    peers = Peers(svc, _check_addresses(list(args.peer or [])), push_wait_s=0.15)
    if peers.enabled:
        svc.peers = PeerHook(peers)


def cmd_serve(args: argparse.Namespace) -> int:
    from kiosk.engine.service import KioskService
    from kiosk.peers.serve import DEFAULT_LISTEN, start

    listen = args.listen or DEFAULT_LISTEN
    _check_addresses(list(args.peer or []), listen=listen)
    if args.interval <= 0:
        raise UsageError("bad_argument", "--interval must be a positive number of seconds")
    from kiosk.ops.logs import setup_logging
    from kiosk.paths import KioskPaths

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    home = resolve_home(args.home)
    setup_logging(KioskPaths(home))  # a headless counter: its log file is the only witness
    with KioskService.open(home) as svc:
        running = start(
            svc,
            listen,
            list(args.peer or []),
            interval=args.interval,
            discovery=False if args.no_discovery else None,
        )
        sync = None
        if not svc.config.standalone:
            from kiosk.syncer import SyncEngine

            sync = SyncEngine(svc)
            sync.start()
        if args.json:
            print(json.dumps({"listen": running.address}), flush=True)
        else:
            print(f"listening on {running.address}", flush=True)
        try:
            stop.wait()
        finally:
            running.stop()
            if sync is not None:
                sync.stop()
    return EXIT_OK


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """``serve``, and ``--peer`` on the engine's ``redeem`` (registered before this)."""
    p = sub.add_parser("serve", help="run this counter without a window: LAN peers and sync")
    p.add_argument("--listen", default=None, metavar="HOST:PORT", help="LAN address (0.0.0.0:8711)")
    p.add_argument("--peer", action="append", metavar="HOST:PORT", help="a peer to ask")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between exchanges (1)")
    p.add_argument(
        "--no-discovery", action="store_true", help="no mDNS: only --peer, settings, server's list"
    )
    add_common(p)
    p.set_defaults(func=cmd_serve)

    redeem = sub.choices["redeem"]
    redeem.add_argument("--peer", action="append", metavar="HOST:PORT", help="a peer to ask")
    redeem.set_defaults(attach=[attach_peers])
