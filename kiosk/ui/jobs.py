"""The manager view's work that runs on the engine thread: exports and config saves.

Each function builds the job (a callable taking the open
:class:`~kiosk.engine.service.KioskService`) that the window posts to
:class:`~kiosk.ui.bridge.ServiceThread`; nothing here touches a widget, so
the window only says where the answer goes. Writing a file or the config can
block on a slow disk, which must never freeze the scan screen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig, parse_config, save_config
from kiosk.errors import ConfigError, EnvironmentFailure
from sync.businessday import BusinessDay

ExportKind = str  # "csv" | "xlsx" | "pdf" (the manager view's three buttons)


def export_job(
    kind: ExportKind, start: dt.date, end: dt.date, out_dir: Path, cfg: KioskConfig
) -> Callable[[Any], Path]:
    """Write the tally of ``start..end`` (the PDF: of ``start`` only) into ``out_dir``."""
    from kiosk import reports

    def job(svc: Any) -> Path:
        meta = reports.ReportMeta(cinema=cfg.cinema, counter=cfg.counter)
        days = reports.date_range(start, end)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a typo in the folder field, a read-only share: say so
            raise EnvironmentFailure(
                "export_failed", f"cannot create the folder {out_dir}: {exc.strerror or exc}"
            ) from exc
        if kind == "pdf":
            tally = svc.tally(start).to_json()
            bd = svc.business_day()
            dups = [c for c in svc.conflicts() if on_day(c, start, bd)]
            path = out_dir / f"cinepass-{cfg.cinema}-{start.isoformat()}.pdf"
            return reports.daily_pdf(tally, path, cfg.language, meta, dups)
        tallies = [svc.tally(d).to_json() for d in days]
        name = f"cinepass-{cfg.cinema}-{start.isoformat()}"
        if end != start:
            name += f"_{end.isoformat()}"
        if kind == "csv":
            return reports.export_csv(tallies, out_dir / f"{name}.csv", cfg.language, meta)
        return reports.export_xlsx(tallies, out_dir / f"{name}.xlsx", cfg.language, meta)

    return job


def on_day(conflict: dict[str, Any], day: dt.date, bd: BusinessDay) -> bool:
    """Whether a duplicate's local use was on business ``day`` (unknown times are kept)."""
    at = (conflict.get("local") or {}).get("at")
    if not isinstance(at, int):
        return True
    return bd.day_of(at) == day


def save_config_job(path: Path, changes: dict[str, Any]) -> Callable[[Any], KioskConfig]:
    """Validate ``changes`` over the service's config, write it, and let the service see it."""

    def job(svc: Any) -> KioskConfig:
        new = parse_config({**svc.config.to_json(), **changes})
        if not new.cinema:
            raise ConfigError("bad_config", "config.json: 'cinema' is not set")
        save_config(path, new)
        svc.config = new
        return new

    return job
