"""The alert rules' thresholds: built-in defaults, overridden by a TOML file.

``cinepass-server --alert-rules FILE`` and ``cinepass-admin --alert-rules
FILE alert-rules`` read the same file; every key is optional and a key or a
rule this module does not know is refused (exit 2), so a typo never silently
keeps a default. Example::

    [burst]
    floor = 30            # never fewer than 30 redemptions in 10 minutes
    factor = 1.5

    [opening_hours]
    opens = "09:00"
    closes = "01:30"      # after midnight: the next morning
    [opening_hours.cinemas.SH01]
    opens = "10:00"
    closes = "23:30"

    [typed_codes]
    enabled = false

See docs/monitoring.md for every rule's rationale and how to tune it.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.businessday import parse_day_starts
from sync.errors import EXIT_USAGE, CinePassError

FORGERY_REASONS = ("bad_signature", "unknown_key", "not_a_voucher")

#: Every rule's settings (``enabled`` and ``severity`` on each) and their defaults.
DEFAULTS: dict[str, dict[str, Any]] = {
    "duplicate_use": {"enabled": True, "severity": "high"},
    "after_freeze": {"enabled": True, "severity": "high"},
    "burst": {
        "enabled": True,
        "severity": "high",
        "window_minutes": 10,
        "floor": 20,
        "factor": 1.5,
        "baseline_days": 14,
        "min_windows": 20,
        "per_staff": True,
    },
    "typed_codes": {"enabled": True, "severity": "medium", "min_typed": 10, "share": 0.4},
    "member_spread": {"enabled": True, "severity": "high", "cinemas": 3, "uses": 6},
    "used_rescans": {"enabled": True, "severity": "medium", "rescans": 3, "hours": 24},
    "forgery_attempts": {
        "enabled": True,
        "severity": "high",
        "count": 5,
        "window_minutes": 60,
        "reasons": list(FORGERY_REASONS),
    },
    "off_hours": {"enabled": True, "severity": "medium"},
    "silent_counter": {"enabled": True, "severity": "medium", "silent_minutes": 60},
    "clock_skew": {"enabled": True, "severity": "medium", "max_skew_seconds": 300},
    "chain_anomaly": {"enabled": True, "severity": "high"},
}
#: Not a rule: the cinemas' opening hours (off_hours, silent_counter), local wall time.
HOURS_DEFAULT: dict[str, Any] = {"opens": "09:00", "closes": "02:00", "cinemas": {}}


class AlertRulesError(CinePassError):
    """The rules file is unreadable, not TOML, or names a rule or key that does not exist."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message, exit_code=EXIT_USAGE)


@dataclass(frozen=True)
class Hours:
    """Opening hours as minutes after local midnight; ``closes < opens`` runs past midnight."""

    opens: int
    closes: int

    def inside(self, minute: int) -> bool:
        if self.opens == self.closes:
            return True  # open around the clock
        if self.opens < self.closes:
            return self.opens <= minute < self.closes
        return minute >= self.opens or minute < self.closes


@dataclass(frozen=True)
class RuleSettings:
    """The effective settings: ``rules[code][key]`` and the opening hours."""

    rules: dict[str, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    hours: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(HOURS_DEFAULT))
    source: str = "built-in defaults"

    def on(self, rule: str) -> bool:
        return bool(self.rules[rule]["enabled"])

    def severity(self, rule: str) -> str:
        return str(self.rules[rule]["severity"])

    def num(self, rule: str, key: str) -> float:
        return float(self.rules[rule][key])

    def int(self, rule: str, key: str) -> int:
        return int(self.rules[rule][key])

    def hours_of(self, cinema: str) -> Hours:
        own = self.hours.get("cinemas", {}).get(cinema, {})
        opens = own.get("opens", self.hours["opens"])
        closes = own.get("closes", self.hours["closes"])
        return Hours(parse_day_starts(opens), parse_day_starts(closes))

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "rules": self.rules, "opening_hours": self.hours}


def _check_value(where: str, default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(x, str) for x in value)
    else:
        ok = isinstance(value, str)
    if where.endswith(".severity") and value not in ("low", "medium", "high"):
        ok = False
    if not ok:
        raise AlertRulesError(
            "bad_alert_rules", f"告警规则取值无效 / alert rules: {where} = {value!r} is not valid"
        )
    return value


def _check_hours(where: str, spec: Any) -> dict[str, str]:
    if not isinstance(spec, dict) or set(spec) - {"opens", "closes"}:
        raise AlertRulesError(
            "bad_alert_rules", f"告警规则 / alert rules: {where} takes opens and closes (HH:MM)"
        )
    for k, v in spec.items():
        parse_day_starts(str(v))  # HH:MM or a refusal naming the value
        spec[k] = str(v)
    return spec


def load_rules(path: str | Path | None) -> RuleSettings:
    """The defaults, with what ``path`` (TOML) overrides; ``None``: the defaults."""
    settings = RuleSettings()
    if path is None:
        return settings
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AlertRulesError(
            "bad_alert_rules", f"无法读取告警规则文件 / cannot read alert rules {path}: {exc}"
        ) from None
    for rule, values in data.items():
        if rule == "opening_hours":
            if not isinstance(values, dict):
                raise AlertRulesError(
                    "bad_alert_rules", "告警规则格式错误 / alert rules: [opening_hours] is a table"
                )
            cinemas = values.pop("cinemas", {})
            settings.hours.update(_check_hours("opening_hours", values))
            if not isinstance(cinemas, dict):
                raise AlertRulesError(
                    "bad_alert_rules",
                    "告警规则格式错误 / alert rules: [opening_hours.cinemas.CODE] are tables",
                )
            for code, spec in cinemas.items():
                settings.hours["cinemas"][code] = _check_hours(
                    f"opening_hours.cinemas.{code}", spec
                )
            continue
        if rule not in DEFAULTS or not isinstance(values, dict):
            raise AlertRulesError(
                "bad_alert_rules",
                f"未知告警规则 / alert rules: unknown rule [{rule}] (known: {', '.join(DEFAULTS)})",
            )
        for key, value in values.items():
            if key not in DEFAULTS[rule]:
                raise AlertRulesError(
                    "bad_alert_rules",
                    f"未知设置 / alert rules: [{rule}] has no setting {key!r} "
                    f"(known: {', '.join(DEFAULTS[rule])})",
                )
            settings.rules[rule][key] = _check_value(f"{rule}.{key}", DEFAULTS[rule][key], value)
    return RuleSettings(settings.rules, settings.hours, str(path))
