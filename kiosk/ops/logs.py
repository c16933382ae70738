"""Rotating log files for a counter that runs unattended for months, with secrets redacted.

Why it is built this way:

* **The platform's log folder.** With the default data folder the logs go
  where IT looks for them (``platformdirs.user_log_dir``: ``%LOCALAPPDATA%
  \\cinepass\\Logs`` on Windows, ``~/.local/state/cinepass/log`` on Linux);
  a kiosk run with ``--home``/``CINEPASS_HOME`` keeps its logs in that
  folder's ``logs/`` so two kiosks on one machine (tests, a training
  counter) never write into each other's files.
* **Rotation by size** (1 MB x 10 files) keeps the disk of a counter that
  runs for a year bounded, and the newest history small enough to mail.
* **Redaction on the handler, not on loggers.** A filter on a logger only
  sees records logged to that very logger; a filter on the handler sees
  every record that reaches the file, including those of libraries
  (urllib3 logging a URL with a token, SQLAlchemy echoing a voucher text).
  The same :func:`redact` is used by ``diagnose`` on everything it zips.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

import platformdirs

from kiosk.paths import APP_NAME, KioskPaths

LOG_FILE = "cinepass-kiosk.log"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 10
FORMAT = "%(asctime)s %(levelname)-7s %(process)d %(threadName)s %(name)s: %(message)s"
_HANDLER_NAME = "cinepass-file"

# What counts as a secret. Order matters: whole structures (PEM blocks, QR
# voucher texts) first, then "name = value" pairs, then anything that merely
# looks like key material.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(?:-----END [A-Z0-9 ]+-----|$)", re.S),
        "<redacted key>",
    ),
    # A voucher's QR text is a bearer credential: whoever has it can redeem it.
    # Base45 is upper case, digits and " $%*+-./:"; a scan may also be garbled.
    (
        re.compile(r"CP1:(?:[0-9A-Z$%*+\-./:]| (?=[0-9A-Z$%*+\-./:]))*"),
        "CP1:<redacted voucher>",
    ),
    (re.compile(r"(?i)cp1:(?!<redacted voucher>)\S*"), "CP1:<redacted voucher>"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 <redacted>"),
    (
        re.compile(
            r"(?i)(\"?\b(?:[\w.-]*(?:token|secret|password|passwd|pin|api[_-]?key|private[_-]?key"
            r"|device[_-]?key|authorization|cookie|signature)[\w.-]*|[\w.-]*enrol+(?:ment)?[_-]?code"
            r"|code)\"?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&}\]]+)"
        ),
        r"\1<redacted>",
    ),
    # command lines: --code X, --token=X, --pin 1234
    (
        re.compile(r"(?i)(--(?:[\w-]*-)?(?:code|token|pin|password|secret|key)(?:\s+|=))[^\s-]\S*"),
        r"\1<redacted>",
    ),
    (re.compile(r"\bscrypt\$[^\s\"',;]+"), "<redacted hash>"),
]
_LONG_RUN = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{32,}={0,2}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _long_run(match: re.Match[str]) -> str:
    """A 32+ character run that looks random: hex (a key, a hash) or mixed-case base64url.

    Names (``kiosk-20261201-091008-manual``, ``test_backup_round_trip``)
    are one case and not hex, and record UUIDs are useful to support: those
    are left alone.
    """
    run = match.group(0).rstrip("=")
    if _UUID.fullmatch(run):
        return run
    digits = sum(c.isdigit() for c in run)
    is_hex = all(c in "0123456789abcdefABCDEF" for c in run) and digits >= 3
    mixed = any(c.islower() for c in run) and any(c.isupper() for c in run) and digits >= 2
    return "<redacted>" if is_hex or mixed else match.group(0)


def redact(text: str) -> str:
    """``text`` with every token, key, PIN (hash) and voucher text replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _LONG_RUN.sub(_long_run, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message, traceback and stack text through :func:`redact`.

    The message is formatted first (``msg % args``) so a secret passed as an
    argument is caught too; the record then carries the redacted text and no
    args. It never drops a record: a log line with its secret removed is
    still worth having.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def log_dir(paths: KioskPaths) -> Path:
    """The folder of this kiosk's log files (see the module docstring for why)."""
    default_home = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if paths.home.resolve() == default_home.resolve():
        return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    return paths.logs


def log_file(paths: KioskPaths) -> Path:
    return log_dir(paths) / LOG_FILE


def setup_logging(paths: KioskPaths, *, level: int = logging.INFO, stderr: bool = False) -> Path:
    """Send the root logger to this kiosk's rotating log file; returns the file's path.

    Idempotent: calling it again (a second command in one process, a test)
    replaces the handler instead of writing each line twice. ``stderr``
    adds a console handler with the same redaction (for ``--debug`` runs).
    """
    path = log_file(paths)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() in (_HANDLER_NAME, _HANDLER_NAME + "-stderr"):
            root.removeHandler(h)
            h.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
    )
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    if stderr:
        console = logging.StreamHandler()
        console.set_name(_HANDLER_NAME + "-stderr")
        console.setFormatter(logging.Formatter(FORMAT))
        console.addFilter(RedactingFilter())
        root.addHandler(console)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    return path


def log_files(paths: KioskPaths) -> list[Path]:
    """The current log file and its rotated predecessors, newest first."""
    base = log_file(paths)
    found = [base] if base.exists() else []
    for i in range(1, BACKUP_COUNT + 1):
        p = base.with_name(f"{base.name}.{i}")
        if p.exists():
            found.append(p)
    return found
