"""Nothing accepted is ever lost: SIGKILL mid-stream, a full disk, a read-only store."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers_qr import make_kiosk, voucher_token

from kiosk.engine.service import KioskService
from sync.voucher import PrivateKey

ROOT = Path(__file__).resolve().parents[1]

REDEEM_LOOP = r"""
import sys
from pathlib import Path
from kiosk.engine.service import KioskService

svc = KioskService.open(Path(sys.argv[1]))
for line in open(sys.argv[2], encoding="utf-8"):
    v = svc.redeem(line.strip(), fmt="2D", staff="kill-test", source="scanner")
    if v.accepted:
        print("ACCEPTED", v.record_uuid, flush=True)
    else:
        print("REJECTED", v.reason, flush=True)
"""


def _now_token(key: PrivateKey) -> str:
    return voucher_token(key, now=int(time.time()) - 60)


def test_sigkill_mid_stream_loses_no_accepted_redemption(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    home = make_kiosk(tmp_path / "home", issuer_key)
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(_now_token(issuer_key) for _ in range(400)) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", REDEEM_LOOP, str(home), str(tokens)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    printed: list[str] = []
    for line in proc.stdout:
        assert line.startswith("ACCEPTED"), line
        printed.append(line.split()[1])
        if len(printed) == 60:
            proc.send_signal(signal.SIGKILL)  # mid-stream: it is busy redeeming the next ones
            break
    rest = proc.stdout.read()
    printed += [ln.split()[1] for ln in rest.splitlines() if ln.startswith("ACCEPTED")]
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert len(printed) >= 60

    with KioskService.open(home) as svc:
        stored = {r.uuid for r, _, _ in svc.store.all_records()}
        missing = [u for u in printed if u not in stored]
        assert missing == [], f"{len(missing)} accepted redemptions were lost"
        assert svc.store.verify_chain(svc.device_key.public) == []
        assert len(stored) < 400  # it really was killed before the end
        # the kiosk carries on where it stopped
        assert svc.redeem(_now_token(issuer_key), fmt="2D").accepted


def _mount_tmpfs(target: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    target.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
        capture_output=True,
    )
    return r.returncode == 0


def _fill(directory: Path) -> Path:
    filler = directory / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_full_disk_gives_not_recorded_and_nothing_half_written(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    disk = tmp_path / "disk"
    mounted = _mount_tmpfs(disk, "1m")
    try:
        home = make_kiosk(disk / "home", issuer_key)
        svc = KioskService.open(home)
        for _ in range(3):
            assert svc.redeem(_now_token(issuer_key), fmt="2D").accepted
        if mounted:
            filler = _fill(disk)
        else:  # not root: cap the file's size, the same SQLITE_FULL from SQLite's side
            filler = None
            from sqlalchemy import event

            pages = svc.store.read("PRAGMA page_count")[0][0]

            @event.listens_for(svc.store.engine, "connect")
            def _cap(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
                dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

            svc.store.engine.dispose()
        accepted: list[str] = []
        refused: list[str] = []
        for _ in range(300):  # until the disk has truly no room left (WAL pages get reused)
            tok = _now_token(issuer_key)
            v = svc.redeem(tok, fmt="2D", staff="full")
            if v.accepted:
                accepted.append(v.record_uuid or "")
                continue
            assert v.reason == "not_recorded" and v.record_uuid is None
            assert v.message("en").startswith("Not recorded")
            refused.append(tok)
            if len(refused) == 3:
                break
        assert len(refused) == 3, "the full disk never refused a commit"
        svc.close()
        if filler is not None:
            filler.unlink()
        with KioskService.open(home) as svc2:
            c = svc2.store.counts()
            assert c["records"] == 3 + len(accepted)  # exactly the accepted ones, no partial row
            assert svc2.store.verify_chain(svc2.device_key.public) == []
            uuids = {r.uuid for r, _, _ in svc2.store.all_records()}
            assert set(accepted) <= uuids
            # the refused voucher was not used up: it is accepted once there is room
            assert svc2.redeem(refused[0], fmt="2D").accepted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], check=False)


def test_locked_store_gives_not_recorded_then_recovers(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    """Another process holds the write lock past the busy timeout: do not admit, retry works."""
    import sqlite3

    from kiosk.config import load_config
    from kiosk.engine.clock import Clock
    from kiosk.engine.store import Store
    from kiosk.paths import KioskPaths
    from sync.voucher import load_private_key

    home = make_kiosk(tmp_path / "home", issuer_key)
    paths = KioskPaths(home)
    store = Store.open(paths.store, busy_timeout_ms=200)
    svc = KioskService(
        paths, load_config(paths.config), store, load_private_key(paths.device_key), Clock()
    )
    other = sqlite3.connect(paths.store, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. a backup tool or a second kiosk process
    tok = _now_token(issuer_key)
    t0 = time.monotonic()
    v = svc.redeem(tok, fmt="2D")
    assert v.reason == "not_recorded" and time.monotonic() - t0 < 3
    other.execute("ROLLBACK")
    other.close()
    assert store.counts()["records"] == 0
    assert svc.redeem(tok, fmt="2D").accepted
    svc.close()
