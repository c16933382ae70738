"""The server's error type: a reason code, words for people, an HTTP status."""

from __future__ import annotations

from sync.errors import CinePassError


class ServerError(CinePassError):
    """A refused request or a failed admin action; rendered as {"error": {code, message}}.

    ``exit_code`` is what the admin CLI returns for it: 2 for bad input, 3
    when the environment (database, files) failed.
    """

    def __init__(self, reason: str, message: str, http_status: int = 400, exit_code: int = 2):
        super().__init__(reason, message, http_status=http_status, exit_code=exit_code)
