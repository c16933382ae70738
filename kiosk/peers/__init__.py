"""The counters of one cinema guard each other over the LAN (issue 15, docs/lan-peers.md).

Qt-free, above :mod:`kiosk.engine` (which only knows the small hook
protocol in :mod:`kiosk.engine.service`): :mod:`.wire` signs and checks the
messages, :mod:`.claims` holds the claim rule, :mod:`.client` asks peers in
parallel within the time budget, :mod:`.server` answers them, :mod:`.hook`
plugs the round into a :class:`kiosk.engine.service.KioskService`, and
:mod:`.node` runs it all for ``cinepass-kiosk serve``.
"""
