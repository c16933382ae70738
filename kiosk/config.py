"""The kiosk's one configuration file (``config.json`` in the data folder).

Loaded and validated in one place, so a broken file gives one specific
message ("config.json: 'verdict_timeout' must be a number of seconds") and
never a traceback. Writes are atomic (temp file + rename): a power cut leaves
the old config or the new one. Secrets are not in here: the device key and
API token are separate 0600 files (see :mod:`kiosk.paths`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sync.fsutil import atomic_write

from .errors import ConfigError, KioskError, NotSetUp


@dataclass
class KioskConfig:
    cinema: str = ""
    counter: str = ""  # human name of this counter, e.g. "1号窗口"
    device_id: str = ""  # given by the server at enrolment; "" when standalone
    server_url: str = ""  # "" = standalone
    ca_bundle: str = ""  # custom CA for self-hosted servers
    allow_http: bool = False  # plain HTTP to non-loopback hosts
    language: str = "zh_CN"
    sound: bool = True
    verdict_timeout: float = 8.0  # seconds a verdict stays on screen (0 = until next scan)
    camera: str = "0"  # index, video file or image path
    decoder: str = "zxing"
    hold_off: float = 3.0  # seconds the same QR text is ignored after a scan
    staff_names: list[str] = field(default_factory=list)
    pin_hash: str = ""  # salted scrypt hash of the manager PIN
    kiosk_mode: bool = False
    revocation_max_age_hours: float = 24.0
    sync_interval: float = 2.0

    @property
    def standalone(self) -> bool:
        return not self.server_url

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_TYPES: dict[str, tuple[type, ...]] = {
    f.name: (
        (float, int)
        if f.type in ("float", float)
        else (bool,)
        if f.type in ("bool", bool)
        else (list,)
        if str(f.type).startswith("list")
        else (str,)
    )
    for f in fields(KioskConfig)
}


def parse_config(data: Any, source: str = "config.json") -> KioskConfig:
    if not isinstance(data, dict):
        raise ConfigError("bad_config", f"{source}: must be a JSON object")
    cfg = KioskConfig()
    for key, value in data.items():
        if key not in _TYPES:
            continue  # forward compatible: a newer version's keys are kept out, not fatal
        want = _TYPES[key]
        ok = isinstance(value, want) and not (bool not in want and isinstance(value, bool))
        if key == "staff_names" and ok:
            ok = all(isinstance(s, str) for s in value)
        if not ok:
            raise ConfigError("bad_config", f"{source}: {key!r} has the wrong type ({value!r})")
        setattr(cfg, key, value)
    if cfg.language not in ("zh_CN", "en"):
        raise ConfigError("bad_config", f"{source}: language must be zh_CN or en")
    if cfg.decoder not in ("zxing", "pyzbar"):
        raise ConfigError("bad_config", f"{source}: decoder must be zxing or pyzbar")
    if cfg.verdict_timeout < 0 or cfg.hold_off < 0 or cfg.sync_interval <= 0:
        raise ConfigError("bad_config", f"{source}: timeouts must be positive numbers")
    return cfg


def json_or_fail(text: str, source: str, error: type[KioskError], reason: str) -> Any:
    """Parse JSON a person wrote (config, provisioning file); ``error`` names the bad line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(reason, f"{source}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc


def load_config(path: Path) -> KioskConfig:
    """Load and validate; :class:`NotSetUp` if the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotSetUp(
            "not_set_up",
            f"this kiosk is not set up yet ({path} missing): run 'cinepass-kiosk init' or 'enroll'",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("bad_config", f"cannot read {path}: {exc}") from exc
    cfg = parse_config(json_or_fail(text, path.name, ConfigError, "bad_config"), path.name)
    if not cfg.cinema:
        raise ConfigError("bad_config", f"{path.name}: 'cinema' is not set")
    return cfg


def save_config(path: Path, cfg: KioskConfig) -> None:
    """Write the config atomically, 0600 (it names the server and this counter's identity)."""
    atomic_write(path, json.dumps(cfg.to_json(), ensure_ascii=False, indent=2), mode=0o600)
