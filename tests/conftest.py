"""Shared fixtures. Qt runs offscreen (pytest-qt has no setting for the platform)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import pytest  # noqa: E402

from sync.voucher import PrivateKey  # noqa: E402

# server/sync fixtures (db_url over SQLite and PostgreSQL, central, ...); the browser tests'
pytest_plugins = ["syncsupport", "browsersupport"]


@pytest.fixture(scope="session")
def issuer_key() -> PrivateKey:
    """One Ed25519 issuer key for the whole run (signing is real, keys are fresh)."""
    return PrivateKey.generate()


@pytest.fixture()
def svc(tmp_path: Path, issuer_key: PrivateKey) -> Iterator[Any]:
    """A kiosk service over a fresh home (``helpers_qr.make_kiosk``) whose clock stands still
    one minute after ``helpers_qr.NOW_S``, when that module's vouchers have just become valid
    (the engine tests' ``NOW_MS``)."""
    from helpers_qr import NOW_S, make_kiosk

    from kiosk.engine.clock import Clock
    from kiosk.engine.service import KioskService

    make_kiosk(tmp_path / "home", issuer_key)
    s = KioskService.open(tmp_path / "home", clock=Clock.fixed(NOW_S * 1000 + 60_000))
    yield s
    s.close()


@pytest.fixture(autouse=True, scope="session")
def _cinemas_open_all_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The servers the tests build evaluate alerts with the cinemas open all day.

    The default hours (09:00 to 02:00 in Asia/Shanghai) made every line a test
    wrote "now" between 02:00 and 09:00 CST an ``off_hours`` finding too, so
    tests that count alerts passed or failed by the hour of the day. A test of
    the hours sets its own (``alerts_support.Monitor.rules``).
    """
    from sync.office.alerts_config import load_rules
    from sync.server.alerts_worker import AlertSettings, configure

    path = tmp_path_factory.mktemp("alert-rules") / "all-day.toml"
    path.write_text('[opening_hours]\nopens = "00:00"\ncloses = "00:00"\n', "utf-8")
    configure(AlertSettings(rules=load_rules(path)))
    yield
    configure(AlertSettings())
