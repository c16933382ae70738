"""CinePass kiosk: the box-office counter app (engine, sync client, CLI, window)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cinepass")
except PackageNotFoundError:  # running from a source tree or a frozen bundle without metadata
    __version__ = "0.1.0"
