"""The window's LAN peers: start the peer service once the engine is open (docs/lan-peers.md).

Qt-free in all but name: it only reads the service the window's bridge
opened and starts :func:`kiosk.peers.serve.start` on it, so a scan in the
window runs the same claim round as ``cinepass-kiosk redeem`` and
``serve``. A standalone (never enrolled) counter has no id its peers could
list, so nothing starts; a port already taken is logged and the window scans
on alone.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("cinepass.peers")


def start_peers(window: Any, keep: list[Any]) -> None:
    """Start listening for the window's counter; ``keep`` stops it when the window closes."""
    bridge = getattr(window, "bridge", None)
    svc = getattr(bridge, "service", None)
    if svc is None or not svc.config.device_id:
        return
    from kiosk.peers.node import settings_listen
    from kiosk.peers.serve import DEFAULT_LISTEN, start

    try:
        running = start(svc, settings_listen(svc.paths.home) or DEFAULT_LISTEN)
    except (OSError, ValueError) as exc:  # the port is taken, or peer_listen is no HOST:PORT
        log.warning("LAN peers not started: %s", exc)
        return
    log.info("LAN peers listening on %s", running.address)
    keep.append(running)
