"""Shared fixtures. Qt runs offscreen (pytest-qt has no setting for the platform)."""

from __future__ import annotations

import os

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
