"""Subcommands of ``cinepass-kiosk`` owned by this module (see kiosk.cli)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the CLI (none yet)."""
