"""The office's refusal: a :class:`~sync.errors.CinePassError` like every other.

Exit code 2 (bad input, nothing changed) and HTTP 400 unless a raise site says
otherwise; the admin CLI and the server map it where they map every other error.
"""

from __future__ import annotations

from sync.errors import CinePassError


class OfficeError(CinePassError):
    """A refused office operation: ``reason`` code, one-line ``message``."""
