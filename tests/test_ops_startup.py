"""The window's start-up sequence: log, lock, provisioning, upgrade, daily backup.

Qt-free (:mod:`kiosk.ops.startup`); its Qt half is in ``tests/test_ui_startup.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ops_support import make_kiosk, record_uuids, revision, run_alembic

from kiosk.config import load_config
from kiosk.engine.db import HEAD_REVISION, MIGRATIONS_DIR
from kiosk.ops import crash
from kiosk.ops.backup import list_backups
from kiosk.ops.single_instance import InstanceLock
from kiosk.ops.startup import prepare


@pytest.fixture(autouse=True)
def _restore_hooks():
    yield
    crash.uninstall()


def test_first_start_after_an_upgrade(tmp_path, issuer_key):
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=2)
    run_alembic(paths.store, MIGRATIONS_DIR, "downgrade", "0001")
    queued = record_uuids(paths.store)
    (paths.home / "cinepass-provision.json").write_text(json.dumps({"kiosk_mode": True}))
    started = prepare(paths, dialog=None)
    assert started is not None
    try:
        assert started.lock.held
        with pytest.raises(Exception, match="already running"):
            InstanceLock(paths.lock).acquire()
        assert started.upgrade is not None and started.upgrade.migrated
        assert revision(paths.store) == HEAD_REVISION and record_uuids(paths.store) == queued
        assert started.provision is not None and load_config(paths.config).kiosk_mode is True
        assert started.backup is not None and list_backups(paths, "daily")[0].path == started.backup
        assert len(list_backups(paths, "pre-upgrade")) == 1
        text = started.log_path.read_text(encoding="utf-8")
        assert "starting for" in text and f"migrated 0001 -> {HEAD_REVISION}" in text
    finally:
        started.close()
    assert not started.lock.held
    again = prepare(paths, dialog=None)  # second start the same day: nothing more to do
    assert again is not None and not again.upgrade.migrated and again.backup is None
    again.close()


def test_fresh_folder_is_private_and_needs_nothing(tmp_path):
    from kiosk.paths import KioskPaths

    paths = KioskPaths(tmp_path / "new")
    started = prepare(paths, dialog=None)
    assert started is not None
    try:
        assert (paths.home.stat().st_mode & 0o777) == 0o700
        assert started.upgrade is not None and not started.upgrade.migrated
        assert started.backup is None and started.provision is None
    finally:
        started.close()


def test_ops_and_engine_never_import_qt_or_the_window():
    """The layering rule, read from the source: kiosk/engine and kiosk/ops import no Qt and
    no kiosk.ui, not even inside a function (the CLI and the bench run them without a display).
    """
    import ast

    root = Path(__file__).resolve().parents[1] / "kiosk"
    found = []
    for folder in ("engine", "ops"):
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level >= 2:  # from ..ui import x: kiosk.ui seen from kiosk/ops
                        base = "kiosk." + base
                    names = [base]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in ("PySide6", "shiboken6") or name.startswith(
                        "kiosk.ui"
                    ):
                        found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    assert found == []
