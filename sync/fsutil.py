"""The one atomic file write of the project.

Every file that must never be seen half-written (keys, configs, reports, exports,
batch files) goes through :func:`atomic_write`: a sibling temp file created with the
final mode, written, fsync'd, renamed over the target, and the folder fsync'd where
the platform allows. A crash leaves the old file or the new one, never a mix, and a
secret is never world-readable, not even for a moment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

_counter = threading.Lock()
_serial = 0


def _temp_name(path: Path) -> Path:
    global _serial
    with _counter:
        _serial += 1
        n = _serial
    return path.with_name(f".{path.name}.{os.getpid()}.{n}.tmp")


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op on Windows, where NTFS journals it)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` atomically, created with ``mode``."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)  # a pre-existing temp or a umask must not widen it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_replace(tmp: Path, path: Path, mode: int | None = None) -> None:
    """Publish a file that was written to ``tmp`` by a library (a PDF, an XLSX)."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_through(path: Path, write: Callable[[Path], None], mode: int | None = None) -> Path:
    """Let a library write ``path`` atomically: ``write(tmp)``, then :func:`atomic_replace`.

    For files a library writes itself (an SQLite backup, an XLSX): ``write``
    gets a sibling temp path; on any failure the temp file is removed and the
    exception goes up unchanged (callers word it for their user), and the old
    ``path``, if any, is untouched.
    """
    tmp = _temp_name(path)
    tmp.unlink(missing_ok=True)
    try:
        write(tmp)
        atomic_replace(tmp, path, mode=mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
