"""How the window was asked to open: the command line's (or the demo's) overrides of the config.

One value object instead of the same five keyword arguments passed along
three functions; Qt-free, so the CLI and the demo build it without Qt.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class WindowOptions:
    """``None``/``False`` means "as the config says"."""

    camera: str | None = None  # camera index, video or image; "" = no camera
    staff: str | None = None  # the clerk signed in at start
    fullscreen: bool = False  # kiosk mode whatever the config says
    decoder: str | None = None  # "zxing" | "pyzbar"
    loop_video: bool = False  # a video camera starts over at its end (the demo)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> WindowOptions:
        """From ``cinepass-kiosk``'s window options (``--camera``, ``--staff``...)."""
        return cls(
            camera=getattr(args, "camera", None),
            staff=getattr(args, "staff", None),
            fullscreen=bool(getattr(args, "fullscreen", False)),
            decoder=getattr(args, "decoder", None),
        )
