"""Issue 10: enrolment guessing behind proxies, text and JSON refusals, the database file's mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from rawdevice import API, RawDevice, stored
from sqlalchemy import func, select
from syncsupport import Central, ThreadServer

from sync.admin import main as admin_main
from sync.server import enrolment
from sync.server.db import migrate
from sync.server.main import main as server_main
from sync.server.models import Device, RateLimit
from sync.voucher import PrivateKey

pytestmark = pytest.mark.timeout(180)
KEY = PrivateKey.generate().public.raw.hex()


def enrol(url: str, code: str, xff: str | None = None) -> requests.Response:
    headers = {"X-Forwarded-For": xff} if xff else {}
    body = {"code": code, "public_key": KEY}
    return requests.post(url + API + "/enrol", json=body, headers=headers, timeout=10)


@pytest.fixture
def proxied(central: Central) -> Iterator[str]:
    """A second server on the same database that trusts loopback as its reverse proxy."""
    srv = ThreadServer(central.engine, trusted_proxies=("127.0.0.0/8",)).start()
    yield srv.url
    srv.stop()


def test_forwarded_for_is_ignored_without_trusted_proxies(central: Central) -> None:
    for i in range(enrolment.MAX_FAILURES_PER_CLIENT):
        r = enrol(central.url, f"AAAA-BBBB-{i:04d}", xff=f"198.51.100.{i}")
        assert r.json()["error"]["code"] == "bad_code"
    r = enrol(central.url, "AAAA-BBBB-CCCC", xff="198.51.100.250")  # a fresh fake address
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    with central.session() as s:
        keys = set(s.scalars(select(RateLimit.key)))
    assert "enrol:127.0.0.1" in keys and not any("198.51.100" in k for k in keys)


def test_trusted_proxy_limits_each_client_and_no_one_locks_out_the_rest(
    central: Central, proxied: str
) -> None:
    for i in range(enrolment.MAX_FAILURES_PER_CLIENT):
        assert enrol(proxied, f"AAAA-BBBB-{i:04d}", xff="203.0.113.5").status_code == 403
    # the same client, hiding behind an address it prepends itself: still counted as itself
    r = enrol(proxied, "AAAA-BBBB-XXXX", xff="10.9.9.9, 203.0.113.5")
    assert r.status_code == 429
    # another client behind the same proxy is not locked out, and enrols
    good = central.code("CIN-A")
    r = enrol(proxied, good, xff="203.0.113.6")
    assert r.status_code == 200, r.text


def test_guesses_of_one_code_are_limited_across_clients(central: Central, proxied: str) -> None:
    for i in range(enrolment.MAX_FAILURES_PER_CODE):
        assert enrol(proxied, "ZZZZ-ZZZZ-ZZZZ", xff=f"192.0.2.{i}").status_code == 403
    assert enrol(proxied, "ZZZZ-ZZZZ-ZZZZ", xff="192.0.2.200").status_code == 429
    assert enrol(proxied, "ZZZZ-ZZZZ-ZZZY", xff="192.0.2.200").status_code == 403


def test_rate_limit_rows_stay_bounded(
    central: Central, proxied: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(enrolment, "MAX_RATE_ROWS", 6)
    for i in range(30):
        enrol(proxied, f"QQQQ-QQQQ-{i:04d}", xff=f"2001:db8:{i:x}::1")
    with central.session() as s:
        rows = s.scalar(select(func.count()).select_from(RateLimit))
        assert rows is not None and rows <= 6 + 2  # the cap, "enrol:*" and the overflow row
        s.execute(RateLimit.__table__.update().values(window_start=0))  # the window passes
    enrol(proxied, "QQQQ-QQQQ-LAST", xff="2001:db8:ffff::1")
    with central.session() as s:  # expired windows are pruned on the next failure
        assert s.scalar(select(func.count()).select_from(RateLimit)) == 3


BAD_TEXT: list[tuple[str, Any]] = [
    ("/enrol", {"code": "AB\ud800", "public_key": KEY}),
    ("/enrol", {"code": "x", "public_key": KEY, "name": "\udfff"}),
    ("/device/hello", {"health": {"version": "\ud800"}}),
    ("/device/hello", {"health": {"os": {"name": ["x", "\ud800"]}}}),
    ("/device/hello", {"health": {"\ud800": 1}}),
    ("/records", {"records": [], "health": {"last_error": "\ud800"}}),
    ("/records", {"records": [{"uuid": "u", "staff": "\ud800"}]}),
]


def test_invalid_unicode_anywhere_is_bad_text_and_nothing_is_stored(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = RawDevice(central)
    [token] = central.issue(1)
    rec = dev.record(token)
    rec["staff"] = "\ud800"
    for path, body in [*BAD_TEXT, ("/records", {"records": [rec]})]:
        r = dev.post(path, body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "bad_text"), (path, r.text)
    assert stored(central) == {}
    with central.session() as s:
        assert s.get(Device, dev.id).health is None  # type: ignore[union-attr]
    capsys.readouterr()
    assert admin_main(["--db", central.url_db, "devices", "--json"]) == 0
    capsys.readouterr()


def test_malformed_json_is_bad_json(central: Central) -> None:
    dev = RawDevice(central)
    for path in ("/enrol", "/device/hello", "/records"):
        for raw in (b"{", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"a":' * 2000):
            r = dev.post_raw(path, raw)
            assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_json"), (path, raw[:8])


def test_database_file_is_private_and_a_readable_one_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "central.sqlite3"
    engine = migrate(f"sqlite:///{path}")
    engine.dispose()
    for p in tmp_path.glob("central.sqlite3*"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    os.chmod(path, 0o644)
    assert server_main(["--db", f"sqlite:///{path}", "--port", "1"]) == 3
    err = capsys.readouterr().err
    assert "chmod 600" in err and "--allow-world-readable-db" in err
    # told otherwise, it warns and goes on (to an address it cannot have: uvicorn exits 3)
    with pytest.raises(SystemExit) as exc:
        server_main(
            ["--db", f"sqlite:///{path}", "--allow-world-readable-db", "--host", "203.0.113.1"]
        )
    assert exc.value.code == 3 and "chmod 600" in capsys.readouterr().err


def test_bad_trusted_proxy_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    assert server_main(["--db", db, "--trusted-proxy", "not-an-ip"]) == 2
    assert "--trusted-proxy" in capsys.readouterr().err
