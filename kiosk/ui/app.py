"""Entry point of the scan window (built in the counter-app issue)."""

from __future__ import annotations

import argparse

from kiosk.errors import EnvironmentFailure


def run_window(args: argparse.Namespace) -> int:
    raise EnvironmentFailure("no_window", "the scan window is not part of this build yet")
