"""Helpers for the tests/test_ops_*.py files: a real standalone kiosk with real redemptions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config

from kiosk.engine.db import make_engine
from kiosk.engine.service import KioskService, init_standalone
from kiosk.paths import KioskPaths
from sync.voucher import PrivateKey, encode_voucher, make_voucher


def make_kiosk(home: Path, issuer: PrivateKey, redemptions: int = 3) -> KioskPaths:
    """A set-up standalone kiosk in ``home`` with ``redemptions`` accepted (queued) records."""
    init_standalone(home, cinema="SH-001", issuer_keys=[issuer.public], counter="1号窗口")
    with KioskService.open(home) as svc:
        for _ in range(redemptions):
            text = encode_voucher(make_voucher("ACFTU-SH", valid_days=30), issuer)
            verdict = svc.redeem(text, fmt="2D", staff="王芳")
            assert verdict.reason == "accepted", verdict
    return KioskPaths(home)


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def record_uuids(db: Path) -> list[str]:
    return [str(r[0]) for r in rows(db, "SELECT uuid FROM records ORDER BY seq")]


def revision(db: Path) -> str:
    return str(rows(db, "SELECT version_num FROM alembic_version")[0][0])


def run_alembic(store: Path, script_dir: Path, action: str, rev: str) -> None:
    """Run an Alembic command on the store the way kiosk.engine.db.migrate does."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_dir))
    engine = make_engine(store)
    try:
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            getattr(command, action)(cfg, rev)
            conn.commit()
    finally:
        engine.dispose()
