"""The one error root of CinePass.

Every failure a person or another program must act on is a :class:`CinePassError`:
a stable snake_case ``reason`` (part of the public contract: CLI JSON, HTTP bodies,
kiosk verdicts, tests) and a ``message`` in words. Each part maps it in exactly one
place: the CLIs to ``exit_code`` (0 ok, 1 refused, 2 bad input, 3 environment),
the server to ``http_status`` and ``{"error": {code, message}}``, the window to a
message box. Anything that is not a ``CinePassError`` is a bug and is logged with
its traceback.

Subclasses set ``exit_code`` and ``http_status`` at class level; a raise site may
override either for one instance when the same reason means different things in
different places (a missing row is 404 to HTTP and exit 2 to the admin CLI).
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_ENV = 3


class CinePassError(Exception):
    """A failure with a reason code and a message for people."""

    exit_code: ClassVar[int] = EXIT_USAGE
    http_status: ClassVar[int] = 400

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        exit_code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code  # type: ignore[misc]
        if http_status is not None:
            self.http_status = http_status  # type: ignore[misc]

    def as_dict(self) -> dict[str, str]:
        """The JSON shape every CLI's ``--json`` and the server use for an error."""
        return {"error": self.reason, "message": self.message}
