"""Shared fixtures. Qt runs offscreen (pytest-qt has no setting for the platform)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from sync.voucher import PrivateKey  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# server/sync fixtures (db_url over SQLite and PostgreSQL, central, ...)
pytest_plugins = ["syncsupport"]


@pytest.fixture(scope="session")
def issuer_key() -> PrivateKey:
    """One Ed25519 issuer key for the whole run (signing is real, keys are fresh)."""
    return PrivateKey.generate()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared/ beside the project (real QR photos etc.)."""
    return SHARED
