"""The one place the window turns an exception into words for the clerk.

A :class:`~sync.errors.CinePassError` was raised on purpose and carries a
message meant for people: the window shows it. Anything else is a bug; the
engine thread (:mod:`kiosk.ui.bridge`) has already logged it with its
traceback, and the clerk gets a short generic line naming the error's type
for the support hotline, never a Python repr.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from sync.errors import CinePassError


def is_expected(exc: BaseException) -> bool:
    """A failure a person must act on (shown as is), as opposed to a bug."""
    return isinstance(exc, CinePassError)


def failure_text(exc: BaseException) -> str:
    """What the window shows for ``exc``: its message, or the generic words for a bug."""
    if isinstance(exc, CinePassError):
        return exc.message
    return QCoreApplication.translate(
        "Failure", "Unexpected error ({0}): the details are in the log. Call IT support."
    ).format(type(exc).__name__)


def failure_reason(exc: BaseException) -> str | None:
    """The stable reason code of an expected failure (the wizard words it), None for a bug."""
    return exc.reason if isinstance(exc, CinePassError) else None
