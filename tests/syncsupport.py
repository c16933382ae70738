"""Fixtures and helpers for the server and sync tests (real server, real stores).

* ``db_url`` is parametrized over SQLite (a file in tmp_path) and PostgreSQL
  (a fresh database per test on the cluster named by CINEPASS_TEST_PG_URL, or
  one this module starts with scripts/pg.sh for the session).
* ``server`` runs the real FastAPI app under uvicorn in a thread on a free
  loopback port, on that database, with one issuer key and one cinema.
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sync.issuing import IssuedVoucher
from sync.office.batches import record_batch
from sync.office.cinemas import add_cinema
from sync.office.devices import device_code
from sync.office.issuers import add_signing_key
from sync.server.db import make_sessionmaker, migrate, session_scope
from sync.server.embedded import EmbeddedServer
from sync.voucher import PrivateKey, encode_voucher, make_voucher
from sync.voucher.keys import save_private_key

ROOT = Path(__file__).resolve().parents[1]
ISSUER = "ACFTU-SH"


_pg_lock = threading.Lock()
_pg_state: dict[str, Any] = {}


def pg_base_url() -> str:
    """The PostgreSQL cluster for tests: the CI one, or one started here for the session."""
    with _pg_lock:
        if "url" not in _pg_state:
            env = os.environ.get("CINEPASS_TEST_PG_URL")
            if env:
                _pg_state["url"] = env
            else:
                _pg_state["url"], _pg_state["dir"] = start_cluster()
        return str(_pg_state["url"])


def start_cluster() -> tuple[str, str]:
    """A new private PostgreSQL cluster (scripts/pg.sh): its URL and its folder."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pg.sh"), "start"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    url, _, folder = out.partition("#dir=")
    return url, folder


def stop_pg() -> None:
    d = _pg_state.pop("dir", None)
    _pg_state.pop("url", None)
    if d:
        subprocess.run(["bash", str(ROOT / "scripts" / "pg.sh"), "stop", d], check=False)


def fresh_pg_database() -> str:
    """A new empty database on the test cluster; returns its SQLAlchemy URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(pg_base_url())
    name = "t_" + uuid.uuid4().hex[:12]
    conninfo = f"host={base.host} port={base.port} user={base.username} dbname={base.database}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def _pg_cleanup() -> Iterator[None]:
    yield
    stop_pg()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.sqlite3'}"
    return fresh_pg_database()


ThreadServer = EmbeddedServer  # the name the tests use


@dataclass
class Central:
    """The central side of a test: database, server, issuer key, a cinema."""

    engine: Engine
    server: ThreadServer | None
    issuer_key: PrivateKey
    url: str  # the server's base URL (or the database URL before a server runs)
    key_dir: Path
    url_db: str = ""

    def session(self) -> Any:
        return session_scope(make_sessionmaker(self.engine))

    def add_cinema(self, code: str, name: str = "") -> None:
        with self.session() as s:
            add_cinema(s, code, name or f"Cinema {code}")

    def code(self, cinema: str) -> str:
        with self.session() as s:
            return device_code(s, cinema)

    def issue(self, n: int = 1, **kw: Any) -> list[str]:
        """Issue ``n`` vouchers (signed, stored, on the roster feed); returns their QR texts."""
        out = []
        items = []
        for _ in range(n):
            v = make_voucher(ISSUER, **kw)
            token = encode_voucher(v, self.issuer_key)
            items.append(IssuedVoucher(v, token, None))
            out.append(token)
        with self.session() as s:
            record_batch(s, items, self.issuer_key.public.kid.hex(), "test")
        return out


def setup_central(engine: Engine, key: PrivateKey, key_dir: Path) -> None:
    """One issuer key and two cinemas, set up the way ``cinepass-admin`` does."""
    path = key_dir / "issuer.pem"
    save_private_key(path, key)
    with session_scope(engine) as s:
        add_signing_key(s, ISSUER, "Test union", key, path)
        add_cinema(s, "CIN-A", "Cinema A")
        add_cinema(s, "CIN-B", "Cinema B")


@pytest.fixture
def central_db(db_url: str, tmp_path: Path, issuer_key: PrivateKey) -> Iterator[Central]:
    """The central database, set up, without a server."""
    engine = migrate(db_url)
    setup_central(engine, issuer_key, tmp_path / "keys")
    yield Central(engine, None, issuer_key, db_url, tmp_path / "keys", db_url)
    engine.dispose()


@pytest.fixture
def central(central_db: Central) -> Iterator[Central]:
    """The central database with the real server running on loopback."""
    srv = ThreadServer(central_db.engine).start()
    central_db.server = srv
    central_db.url = srv.url
    yield central_db
    srv.stop()


def enrolled_kiosk(
    central: Central, home: Path, cinema: str = "CIN-A", url: str | None = None
) -> Path:
    from kiosk.enrollment import enroll

    enroll(home, url or central.url, central.code(cinema))
    return home
