"""Operating the server: ``/api/v1/ready``, ``/metrics``, ``--workers`` refusals, ``--upgrade-only``.

Real databases and the real app on loopback: a database one migration behind
is made with Alembic's own downgrade, a stopped database is a PostgreSQL
cluster of the test's own that is shut down.
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
import requests
import uvicorn
from alembic import command
from rawdevice import RawDevice
from syncsupport import ROOT, Central, ThreadServer, fresh_pg_database, start_cluster
from waitfor import wait_for

from sync.server import metrics
from sync.server.app import create_app
from sync.server.db import POOL_SIZE, alembic_config, head_revision, make_engine, migrate, warm_pool
from sync.server.embedded import free_port
from sync.server.main import build_app, build_parser
from sync.server.main import main as server_main

pytestmark = pytest.mark.timeout(180)
API = "/api/v1"


def test_ready_when_current(central: Central) -> None:
    r = requests.get(central.url + API + "/ready", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ready"] is True and body["revision"] == body["head"] == head_revision()
    assert requests.get(central.url + API + "/health", timeout=10).json()["version"]


def test_ready_one_migration_behind(tmp_path: Path) -> None:
    engine = migrate(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    command.downgrade(alembic_config(engine), "-1")
    srv = ThreadServer(engine).start()
    try:
        r = requests.get(srv.url + API + "/ready", timeout=10)
        assert r.status_code == 503
        body = r.json()
        assert body["ready"] is False and body["reason"] == "schema_not_current"
        assert body["revision"] != body["head"] and "--upgrade-only" in body["message"]
        assert requests.get(srv.url + API + "/health", timeout=10).status_code == 200
    finally:
        srv.stop()
    # --upgrade-only brings it to the head and exits 0
    assert server_main(["--db", str(engine.url), "--upgrade-only"]) == 0
    srv = ThreadServer(engine).start()
    try:
        assert requests.get(srv.url + API + "/ready", timeout=10).status_code == 200
    finally:
        srv.stop()


@pytest.mark.postgres
def test_ready_database_stopped() -> None:
    url, folder = start_cluster()  # the test's own: it is stopped below
    engine = migrate(make_engine(url, pool_pre_ping=True))
    srv = ThreadServer(engine).start()
    try:
        assert requests.get(srv.url + API + "/ready", timeout=10).status_code == 200
        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        stop = [str(bindir / "pg_ctl"), "-D", f"{folder}/data", "-m", "fast", "stop"]
        if os.getuid() == 0:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        subprocess.run(stop, check=True, capture_output=True, timeout=60)
        r = requests.get(srv.url + API + "/ready", timeout=30)
        assert r.status_code == 503
        assert r.json()["ready"] is False and r.json()["reason"] == "database_unavailable"
        assert requests.get(srv.url + API + "/health", timeout=10).status_code == 200
    finally:
        srv.stop()
        engine.dispose()
        subprocess.run(["bash", str(ROOT / "scripts" / "pg.sh"), "stop", folder], check=False)


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_by_route_template(central: Central) -> None:
    tokens = central.issue(3)
    dev = RawDevice(central)
    results = dev.upload([dev.record(t) for t in tokens])
    assert {r["status"] for r in results.values()} == {"valid"}
    for feed in ("revocation", "roster"):  # two paths, one route template
        r = requests.get(
            central.url + API + f"/feeds/{feed}",
            headers={"Authorization": f"Bearer {dev.token}"},
            timeout=10,
        )
        assert r.status_code == 200
    requests.get(central.url + "/no/such/path/123", timeout=10)
    text = requests.get(central.url + "/metrics", timeout=10).text
    assert _sample(text, "cinepass_http_requests_total", route="/api/v1/feeds/{feed}") >= 2
    assert "/api/v1/feeds/roster" not in text and "/no/such/path" not in text
    assert _sample(text, "cinepass_http_requests_total", route="unmatched", status="404") >= 1
    assert "cinepass_http_request_duration_seconds_bucket" in text
    assert _sample(text, "cinepass_ingest_records_total", status="valid") >= 3
    assert _sample(text, "cinepass_records", status="valid") == 3
    assert _sample(text, "cinepass_feed_head", feed="all") >= 3
    assert _sample(text, "cinepass_feed_head", feed="roster") >= 3
    assert _sample(text, "cinepass_database_up") == 1
    for name in ("cinepass_alerts_open", "cinepass_holds_active"):
        assert re.search(rf"^{name} \d", text, re.M), name


def test_metrics_token(central_db: Central, tmp_path: Path) -> None:
    token_file = tmp_path / "metrics.token"
    token_file.write_text("s3cret-token-of-the-office\n")
    token = metrics.read_token(str(token_file))
    app = create_app(central_db.engine, metrics_token=token)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    wait_for(lambda: server.started, timeout=20)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        r = requests.get(url, timeout=10)
        assert r.status_code == 401 and "--metrics-token-file" in r.text
        assert (
            requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10).status_code
            == 401
        )
        ok = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert ok.status_code == 200 and "cinepass_database_up 1.0" in ok.text
    finally:
        server.should_exit = True
        t.join(10)
    short = tmp_path / "short"
    short.write_text("abc")
    db = str(central_db.engine.url)
    assert server_main(["--db", db, "--metrics-token-file", str(short)]) == 2


def test_workers_refused_on_sqlite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    assert server_main(["--db", db, "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cinepass-server: SQLite 只能单进程运行 / --workers 2 needs PostgreSQL")
    assert server_main(["--db", db, "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "x.sqlite3").exists()  # refused before anything was made


def test_more_requests_than_connections_do_not_stall(central: Central) -> None:
    """120 requests at once (the pool has 15 connections, the thread pool 40): all answered.

    Before :class:`sync.server.app.Admission` the threads waited for connections held by
    requests waiting for a thread, until the pool's 30 s timeout (bench/load.py found it).
    """
    dev = RawDevice(central)
    answers: list[int] = []

    def hello() -> None:
        answers.append(dev.hello().status_code)

    threads = [threading.Thread(target=hello) for _ in range(120)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 120  # a stalled request ends in the pool's timeout: 503


def test_the_server_freezes_what_start_up_built(tmp_path: Path) -> None:
    """The app the server serves is out of the collector's full passes (bench/online.py:
    a full collection walked ~160,000 start-up objects for 50-130 ms, under the GIL)."""
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    engine = migrate(url)
    frozen_before = gc.get_freeze_count()
    try:
        app = build_app(build_parser().parse_args(["--db", url]), engine)
        assert gc.get_freeze_count() - frozen_before > 10_000
        assert not any(o is app.fastapi for o in gc.get_objects())
    finally:
        gc.unfreeze()
        engine.dispose()


@pytest.mark.postgres
def test_a_postgresql_pool_is_open_before_the_first_request() -> None:
    """warm_pool leaves the pool's connections open, each having read every table."""
    engine = migrate(fresh_pg_database())
    try:
        engine.dispose()
        assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]
        warm_pool(engine)
        assert engine.pool.checkedin() == POOL_SIZE  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_a_database_down_at_start_does_not_stop_the_warm_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(f"postgresql+psycopg://cinepass@127.0.0.1:{free_port()}/none")
    try:
        with caplog.at_level("WARNING", logger="cinepass.server.db"):
            warm_pool(engine)
        assert "database not reachable at start: OperationalError" in caplog.text
    finally:
        engine.dispose()


def test_a_stopped_embedded_server_leaves_no_alerts_threads(tmp_path: Path) -> None:
    """Its alerts worker stops with it: left running, it read a folder its caller deleted."""
    engine = migrate(f"sqlite:///{tmp_path / 'central.sqlite3'}")

    def alerts_threads() -> int:
        names = ("cinepass-alerts", "cinepass-alert-notices")
        return sum(1 for t in threading.enumerate() if t.name in names and t.is_alive())

    before = alerts_threads()
    srv = ThreadServer(engine).start()
    assert alerts_threads() == before + 2
    srv.stop()
    assert alerts_threads() == before
    engine.dispose()
