"""docs/deploy.md's backup, tested: ``pg_dump`` a live database, ``pg_restore`` it into a new
one, start ``cinepass-server`` on the copy; the data and the feed cursors are all there.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
import requests
from rawdevice import RawDevice
from serverproc import ServerProcess
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from syncsupport import Central, ThreadServer, fresh_pg_database, setup_central

from sync.office.vouchers import freeze
from sync.server import feeds
from sync.server.db import make_engine, migrate
from sync.server.models import Redemption, Voucher
from sync.voucher import PrivateKey, decode_voucher

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]
API = "/api/v1"


def pg_tool(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else shutil.which(name) or name


def libpq(url: str) -> str:
    """A SQLAlchemy URL as the libpq URI the PostgreSQL tools take."""
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def test_pg_dump_and_restore_keep_data_and_cursors(tmp_path: Path, issuer_key: PrivateKey) -> None:
    url = fresh_pg_database()
    engine = migrate(url)
    setup_central(engine, issuer_key, tmp_path / "keys")
    srv = ThreadServer(engine).start()
    central = Central(engine, srv, issuer_key, srv.url, tmp_path / "keys", url)
    try:
        tokens = central.issue(8)
        dev = RawDevice(central)
        assert {r["status"] for r in dev.upload([dev.record(t) for t in tokens[:5]]).values()} == {
            "valid"
        }
        with central.session() as s:
            cti = decode_voucher(tokens[7]).voucher.cti.hex()
            freeze(s, s.scalars(select(Voucher).where(Voucher.cti == cti)).one(), "lost")
            head = feeds.head(s)
    finally:
        srv.stop()
    dump = tmp_path / "cinepass.dump"
    subprocess.run(
        [pg_tool("pg_dump"), "--format=custom", f"--file={dump}", libpq(url)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    engine.dispose()

    copy = fresh_pg_database()
    subprocess.run(
        [
            pg_tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            f"--dbname={libpq(copy)}",
            str(dump),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = ServerProcess(copy, log=tmp_path / "restored.log").start()
    try:
        r = requests.get(server.url + API + "/ready", timeout=10)
        assert r.status_code == 200 and r.json()["ready"] is True
        # the enrolled counter's token still works, and its cursor is where it was
        auth = {"Authorization": f"Bearer {dev.token}"}
        page = requests.get(
            server.url + API + "/feeds/revocation?since=0", headers=auth, timeout=10
        )
        assert page.status_code == 200 and page.json()["cursor"] == head
        actions = {e["action"] for e in page.json()["entries"]}
        assert actions == {"redeemed", "freeze"}
        # a new upload goes on from the restored head: the cursor stays dense
        central.url = server.url
        more = dev.upload([dev.record(tokens[5])])
        assert {r["status"] for r in more.values()} == {"valid"}
    finally:
        server.stop()
    restored = make_engine(copy)
    try:
        with restored.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Redemption)) == 6
        with psycopg.connect(libpq(copy)) as conn:
            seqs = [r[0] for r in conn.execute("SELECT seq FROM feed_event ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] > head
    finally:
        restored.dispose()
