"""The kiosk engine: plain typed Python (no Qt), called by the window, the CLI and tests.

Where things are, and what the other parts call:

* :mod:`.service` -- :class:`~.service.KioskService` (``open``, ``check``, ``redeem``,
  ``void_last``/``void``, ``tally``, ``status``, ``conflicts``) and
  :func:`~.service.init_standalone`. Start here.
* :mod:`.verify` -- the one verifier (:func:`~.verify.verify` / :func:`~.verify.check`).
* :mod:`.store` -- the SQLite store (records chain, attempts, feeds, keys, cursors, meta);
  the sync client uses ``pending_records``, ``mark_synced``, ``apply_/replace_revocations``,
  ``apply_/replace_roster``, ``set_trusted_keys``, cursors and meta.
* :mod:`.clock` -- the one clock and its "running behind" guard.
* :mod:`.camera`, :mod:`.decode`, :mod:`.pipeline` -- frames in, QR texts out, off the
  caller's thread (these import OpenCV; nothing else here does).
* :mod:`.verdict` -- reason codes and the words for them.

Importing this package imports nothing heavy: each module is imported where it is used.
"""
