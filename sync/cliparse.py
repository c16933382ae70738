"""What both command lines (``cinepass-kiosk``, ``cinepass-admin``) share.

Each CLI's top module imports its command modules statically and calls their
``register(subparsers)``; command modules import only this module (never the
top one), so there is no import cycle to hide behind ``importlib``.

:func:`run` is the one place a CLI maps an error to an exit code:
a :class:`~sync.errors.CinePassError` prints one line (and, with ``--json``,
``{"error", "message"}`` on stdout) and returns its ``exit_code``; a closed
pipe (``| head``) does not change the command's result (see
:class:`_PipeSafeStdout`); anything else is a bug and propagates with its
traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from sync.errors import EXIT_USAGE, CinePassError


class Parser(argparse.ArgumentParser):
    """argparse that says one line and exits 2 (no usage dump for the clerk)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class _PipeSafeStdout:
    """stdout that keeps going when its reader has gone (``cinepass-kiosk redeem X | head -1``).

    The command runs to its end and returns its own exit code (a recorded
    redemption is 0 whether or not anyone read the second line); what could not
    be written is dropped, once stdout is pointed at /dev/null.
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._inner.write(text)
            except BrokenPipeError:
                self._break()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._inner.flush()
            except BrokenPipeError:
                self._break()

    def _break(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._inner.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def run(
    prog: str,
    func: Callable[[], int],
    *,
    json_errors: bool = False,
) -> int:
    """Run one command; return its exit code (see the module docstring)."""
    real = sys.stdout
    safe = _PipeSafeStdout(real)
    sys.stdout = safe
    try:
        try:
            code = int(func())
        except CinePassError as exc:
            if json_errors:
                print(json.dumps(exc.as_dict(), ensure_ascii=False))
            print(f"{prog}: {exc.message}", file=sys.stderr)
            code = exc.exit_code
        except KeyboardInterrupt:
            code = 130
        safe.flush()
        return code
    finally:
        sys.stdout = real
