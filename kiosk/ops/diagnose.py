"""``cinepass-kiosk diagnose``: one zip for the support hotline, with no secret in it.

What goes in: the log files, ``status.json`` (version, OS, health, schema
revision, row counts, backups, the data folder's file list with sizes) and
``config.json`` with its secret fields replaced by ``<set>``/``<empty>``.
What never goes in: the store itself (it holds full voucher texts), the
device key, the API token, the PIN hash.

Two layers, because a leak here goes to a third party: every text passes
through :func:`kiosk.ops.logs.redact` (patterns), and then the actual
contents of this kiosk's secret files are searched for and cut out
(exact strings), which also catches a secret in a shape no pattern knows.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.paths import KioskPaths
from sync.fsutil import atomic_replace

from .backup import list_backups
from .health import collect
from .logs import log_dir, log_files, redact

SECRET_CONFIG_FIELDS = ("pin_hash",)
_SECRET_WORDS = ("token", "secret", "password", "pin", "key", "code")


def _known_secrets(paths: KioskPaths) -> list[str]:
    """The exact secret strings of this kiosk, longest first (cut out of every text)."""
    found: set[str] = set()
    for f in (paths.token, paths.device_key):
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found.add(text.strip())
        found.update(line.strip() for line in text.splitlines() if len(line.strip()) >= 8)
    try:
        cfg = json.loads(paths.config.read_text(encoding="utf-8"))
        if isinstance(cfg, dict):
            for k, v in cfg.items():
                if (
                    isinstance(v, str)
                    and len(v) >= 8
                    and any(w in k.lower() for w in _SECRET_WORDS)
                ):
                    found.add(v)
    except (OSError, ValueError):
        pass
    return sorted(
        (s for s in found if len(s) >= 8 and not s.startswith("-----")), key=len, reverse=True
    )


def scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "<redacted>")
    return redact(text)


def scrub_json(value: Any, secrets: list[str]) -> Any:
    """Scrub every string inside a JSON value; the structure stays valid JSON.

    Text patterns cannot be run over serialised JSON (``"device_key_present":
    true`` looks like a key/value secret and would break the syntax), so each
    string is scrubbed on its own, keys included.
    """
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub(str(k), secrets): scrub_json(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_json(v, secrets) for v in value]
    return value


def sanitized_config(paths: KioskPaths) -> dict[str, Any] | str:
    """config.json with secret fields masked; a string if it cannot be read."""
    try:
        data = json.loads(paths.config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "config.json missing (kiosk not set up)"
    except (OSError, ValueError) as exc:
        return f"config.json unreadable: {exc}"
    if not isinstance(data, dict):
        return "config.json is not a JSON object"
    out: dict[str, Any] = {}
    for k, v in data.items():
        secret = k in SECRET_CONFIG_FIELDS or any(
            w in k.lower() for w in ("token", "secret", "password")
        )
        out[k] = ("<set>" if v else "<empty>") if secret else v
    return out


def _count(conn: sqlite3.Connection, table: str) -> int:
    sql = f'SELECT count(*) FROM "{table}"'  # noqa: S608 - a name read from sqlite_master
    return int(conn.execute(sql).fetchone()[0])


def _store_status(store: Path) -> dict[str, Any]:
    if not store.is_file():
        return {"exists": False}
    status: dict[str, Any] = {"exists": True, "size": store.stat().st_size}
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            status["tables"] = {t: _count(conn, t) for t in tables}
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                status["schema"] = row[0] if row else None
            if "records" in tables:
                status["pending"] = int(
                    conn.execute("SELECT count(*) FROM records WHERE synced_at IS NULL").fetchone()[
                        0
                    ]
                )
            status["integrity"] = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        status["error"] = str(exc)
    return status


def _listing(home: Path) -> list[dict[str, Any]]:
    rows = []
    if home.is_dir():
        for p in sorted(home.rglob("*")):
            if p.is_file():
                st = p.stat()
                rows.append(
                    {
                        "file": p.relative_to(home).as_posix(),
                        "size": st.st_size,
                        "mode": oct(st.st_mode & 0o777),
                    }
                )
    return rows[:500]


def status(paths: KioskPaths) -> dict[str, Any]:
    store = _store_status(paths.store)
    return {
        "written": datetime.now().isoformat(timespec="seconds"),
        "home": str(paths.home),
        "log_dir": str(log_dir(paths)),
        "health": collect(paths, pending=store.get("pending")),
        "store": store,
        "backups": [
            {"file": b.path.name, "kind": b.kind, "size": b.size} for b in list_backups(paths)
        ],
        "files": _listing(paths.home),
        "enrolled": paths.token.exists(),
        "device_key_present": paths.device_key.exists(),
    }


def write_diagnostics(paths: KioskPaths, out: Path | None = None) -> Path:
    """Write the zip and return its path (default: the data folder)."""
    out = out or paths.home / f"cinepass-diagnose-{datetime.now():%Y%m%d-%H%M%S}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    secrets = _known_secrets(paths)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in (
            ("status.json", status(paths)),
            ("config.json", sanitized_config(paths)),
        ):
            clean = scrub_json(json.loads(json.dumps(data, default=str)), secrets)
            zf.writestr(name, json.dumps(clean, ensure_ascii=False, indent=2))
        for f in log_files(paths):
            try:
                text = f.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                text = f"(unreadable: {exc.strerror})"
            zf.writestr(f"logs/{f.name}", scrub(text, secrets))
    atomic_replace(tmp, out)
    return out
