"""Errors the kiosk's CLI and services raise, each with an exit code and a reason.

Exit codes are a public contract of ``cinepass-kiosk``: 0 accepted/success,
1 rejected, 2 bad input or usage, 3 environment failure (disk, network,
missing setup). Code that cannot go on raises :class:`KioskError` and the
CLI prints its message on one line, never a traceback.
"""

from __future__ import annotations

from sync.errors import EXIT_ENV, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, CinePassError

__all__ = [
    "EXIT_ENV",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "ConfigError",
    "EnvironmentFailure",
    "KioskError",
    "NotSetUp",
    "UsageError",
]


class KioskError(CinePassError):
    """A failure a person must act on; ``exit_code`` is 2 (input) or 3 (environment)."""

    exit_code = EXIT_ENV
    http_status = 500

    def __str__(self) -> str:
        return self.message


class UsageError(KioskError):
    """Bad arguments or unreadable input files (exit 2)."""

    exit_code = EXIT_USAGE


class EnvironmentFailure(KioskError):
    """The machine or the network failed us (exit 3)."""

    exit_code = EXIT_ENV


class ConfigError(KioskError):
    """The kiosk's configuration is missing or broken (exit 3: fix the setup)."""

    exit_code = EXIT_ENV


class NotSetUp(ConfigError):
    """No ``init`` or ``enroll`` has been done in this data folder."""
