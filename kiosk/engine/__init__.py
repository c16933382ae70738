"""The kiosk engine: plain typed Python (no Qt), called by the window, the CLI and tests.

Where things are, and what the other parts call:

* :mod:`.service` -- :class:`~.service.KioskService` (``open``, ``check``, ``redeem``,
  ``void_last``/``void``, ``tally``, ``status``, ``conflicts``) and
  :func:`~.service.init_standalone`. Start here.
* :mod:`.verify` -- the one verifier (:func:`~.verify.verify` / :func:`~.verify.check`).
* :mod:`.store` -- :class:`~.store.Store`, the façade of the SQLite store (records chain,
  attempts, feeds, keys, cursors, meta) and the verdict's one lookup ``facts(cti)``; the
  sync client uses ``pending_records``, ``mark_synced``, ``apply_feed``/``replace_feed``,
  ``set_trusted_keys``, cursors and ``set_metas``. Its parts, along their seams:
  :mod:`.facts` (the plain data types, :class:`~.facts.VoucherFacts`), :mod:`.db` (engine,
  migrations, the fsync'd commit, meta), :mod:`.feeds` (feed deltas, the staged snapshot
  swap, trusted keys), :mod:`.chain` (the signed record writer, the chain check).
* :mod:`.clock` -- the one clock and its "running behind" guard.
* :mod:`.camera`, :mod:`.decode`, :mod:`.pipeline` -- frames in, QR texts out, off the
  caller's thread (these import OpenCV; nothing else here does).
* :mod:`.verdict` -- reason codes and the words for them.

Importing this package imports nothing heavy: each module is imported where it is used.
"""
