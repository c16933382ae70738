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


@dataclass(frozen=True)
class KioskPaths:
    """Every file of one kiosk's data folder."""

    home: Path

    @property
    def config(self) -> Path:
        return self.home / "config.json"

    @property
    def store(self) -> Path:
        return self.home / "kiosk.sqlite3"

    @property
    def device_key(self) -> Path:
        return self.home / "device.key"

    @property
    def token(self) -> Path:
        return self.home / "device.token"

    @property
    def backups(self) -> Path:
        return self.home / "backups"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def lock(self) -> Path:
        return self.home / "kiosk.lock"

    def ensure(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
