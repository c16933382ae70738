"""Silent set-up: a provisioning file IT drops next to the executable, used once.

IT rolls out dozens of counters with a software-deployment tool; nobody
types at each one. The tool copies ``cinepass-provision.json`` next to
``cinepass-kiosk(.exe)`` (or into the data folder)::

    {
      "server_url": "https://cinepass.example.org",
      "enrolment_code": "K7QM-4XPA-9RTE",
      "counter": "1号窗口",
      "kiosk_mode": true,
      "language": "zh_CN"
    }

(optional: ``"ca_bundle"`` for a self-hosted server's CA, ``"allow_http"``.)

On the next start (or ``cinepass-kiosk provision``) the kiosk enrols with
the server (:func:`kiosk.enrollment.enroll`), writes the counter name and
kiosk mode into ``config.json``, logs the result and deletes the file: the
enrolment code is a one-time secret and must not lie around. Why the
outcomes differ:

* **bad file** (not JSON, unknown or mistyped field) or a **refused
  code**: retrying cannot help, so the file is renamed
  ``cinepass-provision.failed.json`` with a ``.txt`` beside it saying why,
  for IT to see; the kiosk changes nothing.
* **network or server down**: the file stays and is tried again on the
  next start.
* **cannot delete** (the program folder is read-only for the clerk's
  account): the file's SHA-256 is recorded in the data folder and a file
  with that digest is never applied twice.

The enrolment code is never logged (the log filter would redact it anyway).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kiosk.config import json_or_fail, load_config, save_config
from kiosk.errors import EnvironmentFailure, KioskError, NotSetUp, UsageError
from kiosk.paths import KioskPaths
from sync.fsutil import atomic_write

log = logging.getLogger(__name__)

FILE_NAME = "cinepass-provision.json"
FAILED_NAME = "cinepass-provision.failed.json"
APPLIED_NAME = "provisioned.json"  # in the data folder: digests of applied files
MAX_SIZE = 64 * 1024

# enroll(home, server_url, code, *, name=..., ca_bundle=..., allow_http=...)
Enroller = Callable[..., object]

_FIELDS: dict[str, tuple[type, ...]] = {
    "server_url": (str,),
    "enrolment_code": (str,),
    "enrollment_code": (str,),
    "code": (str,),
    "counter": (str,),
    "kiosk_mode": (bool,),
    "language": (str,),
    "ca_bundle": (str,),
    "allow_http": (bool,),
}


class ProvisioningError(UsageError):
    """The provisioning file is wrong or was refused: it was renamed for IT (exit 2)."""


@dataclass(frozen=True)
class Provision:
    server_url: str
    code: str
    counter: str | None
    kiosk_mode: bool | None
    language: str | None
    ca_bundle: str | None = None
    allow_http: bool = False

    def __repr__(self) -> str:  # the code is a secret
        return (
            f"Provision(server_url={self.server_url!r}, code=<{len(self.code)} chars>, "
            f"counter={self.counter!r}, kiosk_mode={self.kiosk_mode!r})"
        )


@dataclass(frozen=True)
class ProvisionResult:
    source: Path
    enrolled: bool
    summary: str


def default_search_dirs(paths: KioskPaths) -> list[Path]:
    """Next to the executable (the bundle's, or the console script's), then the data folder."""
    if getattr(sys, "frozen", False):
        exe_dir = Path(sys.executable).resolve().parent
    elif sys.argv and sys.argv[0]:
        exe_dir = Path(sys.argv[0]).resolve().parent
    else:
        return [paths.home]
    return [exe_dir, paths.home]


def parse_provision(text: str, source: str = FILE_NAME) -> Provision:
    """Validate the file's JSON; :class:`ProvisioningError` names the first problem."""
    data = json_or_fail(text, source, ProvisioningError, "bad_provision")
    if not isinstance(data, dict):
        raise ProvisioningError("bad_provision", f"{source}: must be a JSON object")
    for key, value in data.items():
        if key not in _FIELDS:
            known = ", ".join(k for k in _FIELDS if k not in ("enrollment_code", "code"))
            raise ProvisioningError(
                "bad_provision", f"{source}: unknown field {key!r} (known: {known})"
            )
        if not isinstance(value, _FIELDS[key]):
            raise ProvisioningError("bad_provision", f"{source}: {key!r} has the wrong type")
    codes = [data[k] for k in ("enrolment_code", "enrollment_code", "code") if k in data]
    if len(codes) > 1:
        raise ProvisioningError("bad_provision", f"{source}: give the enrolment code only once")
    server_url = str(data.get("server_url", "")).strip()
    code = str(codes[0]).strip() if codes else ""
    if bool(server_url) != bool(code):
        raise ProvisioningError(
            "bad_provision", f"{source}: 'server_url' and 'enrolment_code' go together"
        )
    if server_url and not server_url.startswith(("https://", "http://")):
        raise ProvisioningError("bad_provision", f"{source}: 'server_url' must start with https://")
    counter = data.get("counter")
    if counter is not None and not counter.strip():
        raise ProvisioningError("bad_provision", f"{source}: 'counter' must not be empty")
    language = data.get("language")
    if language is not None and language not in ("zh_CN", "en"):
        raise ProvisioningError("bad_provision", f"{source}: 'language' must be zh_CN or en")
    if not server_url and counter is None and "kiosk_mode" not in data and language is None:
        raise ProvisioningError("bad_provision", f"{source}: nothing to do (no field set)")
    return Provision(
        server_url=server_url,
        code=code,
        counter=counter.strip() if counter is not None else None,
        kiosk_mode=data.get("kiosk_mode"),
        language=language,
        ca_bundle=data.get("ca_bundle") or None,
        allow_http=bool(data.get("allow_http", False)),
    )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _applied(paths: KioskPaths) -> list[str]:
    try:
        value = json.loads((paths.home / APPLIED_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _remember(paths: KioskPaths, digest: str) -> None:
    seen = _applied(paths)
    if digest not in seen:
        seen.append(digest)
    paths.ensure()
    # digests of applied files, nothing secret: readable like the rest of the folder
    atomic_write(paths.home / APPLIED_NAME, json.dumps(seen[-50:]), mode=0o644)


def find_provision_file(
    paths: KioskPaths, search_dirs: Sequence[Path] | None = None
) -> Path | None:
    """The first not-yet-applied provisioning file in ``search_dirs``, if any."""
    seen = _applied(paths)
    for folder in search_dirs if search_dirs is not None else default_search_dirs(paths):
        candidate = folder / FILE_NAME
        try:
            data = candidate.read_bytes()
        except OSError:
            continue
        if _digest(data) in seen:
            continue
        return candidate
    return None


def _set_aside(source: Path, why: str) -> Path:
    """Rename a failed file for IT and write the reason beside it; returns the new name.

    The file may still hold an unused enrolment code, so it is made 0600
    (owner only) before it is renamed: kept for IT, not for every PC user.
    """
    failed = source.with_name(FAILED_NAME)
    try:
        os.chmod(source, 0o600)
        os.replace(source, failed)
        failed.with_suffix(".txt").write_text(why + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("could not rename %s for IT: %s", source, exc.strerror)
        return source
    return failed


def _default_enroller() -> Enroller:
    from kiosk.enrollment import enroll

    return enroll


def apply_provision_file(
    paths: KioskPaths, source: Path, *, enroll: Enroller | None = None
) -> ProvisionResult:
    """Apply one provisioning file (see the module docstring for every outcome)."""
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ProvisioningError("bad_provision", f"cannot read {source}: {exc.strerror}") from exc
    digest = _digest(raw)
    try:
        if len(raw) > MAX_SIZE:
            raise ProvisioningError(
                "bad_provision", f"{source.name}: too large to be a provisioning file"
            )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ProvisioningError("bad_provision", f"{source.name}: not UTF-8 text") from exc
        prov = parse_provision(text, source.name)
    except ProvisioningError as exc:
        kept = _set_aside(source, exc.message)
        log.error("provisioning file rejected: %s (kept as %s)", exc.message, kept)
        raise ProvisioningError(exc.reason, f"{exc.message} (the file was kept as {kept})") from exc

    enrolled = False
    try:
        if prov.server_url:
            (enroll or _default_enroller())(
                paths.home,
                prov.server_url,
                prov.code,
                name=prov.counter,
                ca_bundle=prov.ca_bundle,
                allow_http=prov.allow_http,
            )
            enrolled = True
        _apply_settings(paths, prov)
    except EnvironmentFailure as exc:
        if isinstance(exc, NotSetUp) or exc.reason in ("bad_config",):
            kept = _set_aside(source, exc.message)
            log.error("provisioning from %s failed: %s (kept as %s)", source, exc.message, kept)
            raise ProvisioningError(
                exc.reason, f"{exc.message} (the file was kept as {kept})"
            ) from exc
        log.error(
            "provisioning from %s failed, will retry at the next start: %s", source, exc.message
        )
        raise
    except KioskError as exc:
        kept = _set_aside(source, exc.message)
        log.error("provisioning from %s refused: %s (kept as %s)", source, exc.message, kept)
        raise ProvisioningError(exc.reason, f"{exc.message} (the file was kept as {kept})") from exc

    parts = []
    if enrolled:
        parts.append(f"enrolled with {prov.server_url}")
    if prov.counter is not None:
        parts.append(f"counter {prov.counter!r}")
    if prov.kiosk_mode is not None:
        parts.append(f"kiosk mode {'on' if prov.kiosk_mode else 'off'}")
    if prov.language is not None:
        parts.append(f"language {prov.language}")
    summary = ", ".join(parts)
    try:
        source.unlink()
        gone = "deleted"
    except OSError as exc:
        _remember(paths, digest)
        gone = f"not deletable ({exc.strerror}); recorded as applied"
    log.info("provisioning file %s applied: %s; file %s", source, summary, gone)
    return ProvisionResult(source=source, enrolled=enrolled, summary=summary)


def _apply_settings(paths: KioskPaths, prov: Provision) -> None:
    if prov.counter is None and prov.kiosk_mode is None and prov.language is None:
        return
    cfg = load_config(paths.config)  # NotSetUp if neither enrolled nor initialised
    if prov.counter is not None:
        cfg.counter = prov.counter
    if prov.kiosk_mode is not None:
        cfg.kiosk_mode = prov.kiosk_mode
    if prov.language is not None:
        cfg.language = prov.language
    save_config(paths.config, cfg)


def run_pending(
    paths: KioskPaths,
    *,
    search_dirs: Sequence[Path] | None = None,
    enroll: Enroller | None = None,
) -> ProvisionResult | None:
    """At start: apply a waiting provisioning file, if there is one.

    Never raises for a bad file (the window must still open to say "not set
    up"); the outcome is in the log and, for a bad file, beside it.
    """
    source = find_provision_file(paths, search_dirs)
    if source is None:
        return None
    try:
        return apply_provision_file(paths, source, enroll=enroll)
    except KioskError:
        return None
