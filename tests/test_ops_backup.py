"""Backups: SQLite backup API round trip, daily rotation keeping 7, restore refusing bad files."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from ops_support import make_kiosk, record_uuids, rows

from kiosk.cli import main
from kiosk.engine.service import KioskService
from kiosk.ops.backup import (
    BackupError,
    BadBackupFile,
    backup_now,
    daily_backup,
    list_backups,
    restore,
)
from sync.voucher import encode_voucher, make_voucher


def test_backup_restore_round_trip(tmp_path, issuer_key, capsys):
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=2)
    before = record_uuids(paths.store)
    # backup through the CLI, while a connection holds the WAL open
    with KioskService.open(paths.home) as svc:
        assert main(["--home", str(paths.home), "backup", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        backup = Path(out["backup"])
        assert backup.parent == paths.backups and backup.stat().st_mode & 0o777 == 0o600
        # the backup is standalone: readable without its -wal, and holds every record
        assert not backup.with_name(backup.name + "-wal").exists()
        assert record_uuids(backup) == before
        # life goes on: one more redemption after the backup
        text = encode_voucher(make_voucher("ACFTU-SH", valid_days=30), issuer_key)
        assert svc.redeem(text, fmt="3D").reason == "accepted"
    assert len(record_uuids(paths.store)) == 3

    assert main(["--home", str(paths.home), "restore", str(backup)]) == 0
    assert "restored" in capsys.readouterr().out
    assert record_uuids(paths.store) == before
    # the store still works after the restore (WAL, schema, chain)
    with KioskService.open(paths.home) as svc:
        assert svc.store.counts()["pending"] == 2
    # and the pre-restore state was saved, so the restore can be undone
    pre = list_backups(paths, "pre-restore")
    assert len(pre) == 1 and len(record_uuids(pre[0].path)) == 3


def test_restore_refuses_a_bad_file_and_changes_nothing(tmp_path, issuer_key, capsys):
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=1)
    before = paths.store.read_bytes()
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BadBackupFile, match="not a SQLite database"):
        restore(paths, junk)
    damaged = tmp_path / "damaged.sqlite3"
    good = backup_now(paths)
    data = bytearray(good.read_bytes())
    for page in range(1, len(data) // 4096):  # keep the header page, smash every b-tree page
        data[page * 4096 + 8 : page * 4096 + 200] = b"\xa5" * 192
    damaged.write_bytes(bytes(data))
    with pytest.raises(BadBackupFile):
        restore(paths, damaged)
    assert main(["--home", str(paths.home), "restore", str(tmp_path / "missing.sqlite3")]) == 2
    assert "no such backup file" in capsys.readouterr().err
    assert paths.store.read_bytes() == before
    assert list_backups(paths, "pre-restore") == []


def test_daily_backup_once_a_day_keeps_last_seven(tmp_path, issuer_key):
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=1)
    day0 = datetime(2026, 11, 1, 9, 30)
    made = []
    for d in range(10):
        now = day0 + timedelta(days=d)
        first = daily_backup(paths, now=now)
        assert first is not None
        made.append(first)
        assert daily_backup(paths, now=now + timedelta(hours=5)) is None  # same day: nothing
    kept = list_backups(paths, "daily")
    assert [b.path for b in kept] == list(reversed(made))[:7]
    assert not any(p.exists() for p in made[:3])
    # manual backups rotate on their own and never push out daily ones
    for _ in range(9):
        backup_now(paths, "manual")
    assert len(list_backups(paths, "manual")) == 7
    assert len(list_backups(paths, "daily")) == 7


def test_backup_without_store_is_a_clear_error(tmp_path, capsys):
    home = tmp_path / "empty"
    assert main(["--home", str(home), "backup"]) == 3
    assert "no store to back up" in capsys.readouterr().err
    from kiosk.paths import KioskPaths

    assert daily_backup(KioskPaths(home)) is None  # a fresh install: nothing to do, no error
    with pytest.raises(BackupError):
        backup_now(KioskPaths(home))


def test_backup_list(tmp_path, issuer_key, capsys):
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=1)
    b = backup_now(paths)
    assert main(["--home", str(paths.home), "backup", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["backups"]
    assert [x["file"] for x in listed] == [str(b)] and listed[0]["kind"] == "manual"
    assert rows(b, "PRAGMA integrity_check") == [("ok",)]
    assert sqlite3.connect(b).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
