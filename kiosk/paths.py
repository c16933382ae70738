"""Where the kiosk keeps its files: one data folder, chosen once.

``--home DIR`` beats ``CINEPASS_HOME`` beats the platform's user data folder
(``%LOCALAPPDATA%\\CinePass`` on Windows, ``~/.local/share/cinepass`` on Linux).
Everything a counter owns lives below it, so backup, diagnose and the
single-instance lock all agree on what "this kiosk" is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "cinepass"


def resolve_home(arg: str | os.PathLike[str] | None = None) -> Path:
    if arg:
        return Path(arg).expanduser().resolve()
    env = os.environ.get("CINEPASS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class InHome:
    """A file of the data folder by its name: ``KioskPaths(h).store == h / "kiosk.sqlite3"``.

    One line per file instead of a property each: the folder's layout reads
    as the table it is.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: KioskPaths, owner: type[KioskPaths] | None = None) -> Path:
        return obj.home / self.name


@dataclass(frozen=True)
class KioskPaths:
    """Every file of one kiosk's data folder."""

    home: Path

    config = InHome("config.json")
    store = InHome("kiosk.sqlite3")
    device_key = InHome("device.key")
    token = InHome("device.token")
    backups = InHome("backups")
    logs = InHome("logs")
    lock = InHome("kiosk.lock")

    def ensure(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
