"""Enrolment against the real server: good, reused, expired and guessed codes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, update
from syncsupport import Central

from kiosk.config import load_config
from kiosk.engine.store import Store
from kiosk.enrollment import enroll
from kiosk.errors import UsageError
from kiosk.paths import KioskPaths
from sync.server.enrolment import MAX_FAILURES_PER_CLIENT, hash_secret
from sync.server.models import Device, EnrolmentCode, RateLimit

pytestmark = pytest.mark.timeout(120)


def test_enrol_gives_device_token_keys_and_feeds(central: Central, tmp_path: Path) -> None:
    tokens = central.issue(3)
    code = central.code("CIN-A")
    home = tmp_path / "kiosk"
    info = enroll(home, central.url, code)
    paths = KioskPaths(home)
    assert info["cinema"] == "CIN-A" and info["device_id"].startswith("dev-")
    assert info["roster"] == 3 and info["keys"] == 1
    cfg = load_config(paths.config)
    assert cfg.device_id == info["device_id"] and cfg.server_url == central.url
    for secret in (paths.token, paths.device_key):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    token = paths.token.read_text().strip()
    with Store.open(paths.store) as store:
        assert len(store.trusted_keys()) == 1
        assert store.counts()["roster"] == 3
        from sync.voucher import decode_voucher

        cti = decode_voucher(tokens[0]).voucher.cti
        assert store.roster_token(cti) == tokens[0]
    with central.session() as s:
        dev = s.get(Device, info["device_id"])
        assert dev is not None
        assert dev.token_hash == hash_secret(token)  # only the hash is stored
        assert token not in json.dumps([c.code_hash for c in s.scalars(select(EnrolmentCode))])


def test_reused_code_is_refused(central: Central, tmp_path: Path) -> None:
    code = central.code("CIN-A")
    enroll(tmp_path / "k1", central.url, code)
    with pytest.raises(UsageError) as exc:
        enroll(tmp_path / "k2", central.url, code)
    assert exc.value.reason == "code_used"
    assert not (tmp_path / "k2" / "config.json").exists()


def test_expired_code_is_refused(central: Central, tmp_path: Path) -> None:
    code = central.code("CIN-A")
    with central.session() as s:
        s.execute(update(EnrolmentCode).values(expires_at=1))
    with pytest.raises(UsageError) as exc:
        enroll(tmp_path / "k", central.url, code)
    assert exc.value.reason == "code_expired"


def test_guessing_is_rate_limited_and_persisted(central: Central, tmp_path: Path) -> None:
    good = central.code("CIN-A")
    reasons = []
    for i in range(MAX_FAILURES_PER_CLIENT + 1):
        with pytest.raises(UsageError) as exc:
            enroll(tmp_path / f"g{i}", central.url, f"AAAA-BBBB-{i:04d}")
        reasons.append(exc.value.reason)
    assert reasons[:MAX_FAILURES_PER_CLIENT] == ["bad_code"] * MAX_FAILURES_PER_CLIENT
    assert reasons[-1] == "rate_limited"
    # even the right code is refused while the limit holds: guessing cannot win
    with pytest.raises(UsageError) as exc:
        enroll(tmp_path / "good", central.url, good)
    assert exc.value.reason == "rate_limited"
    with central.session() as s:  # the counter is a database row, shared by every process
        row = s.get(RateLimit, "enrol:127.0.0.1")
        assert row is not None and row.count >= MAX_FAILURES_PER_CLIENT
        row.window_start = 0  # the window passes
        s.get(RateLimit, "enrol:*").window_start = 0  # type: ignore[union-attr]
    enroll(tmp_path / "good", central.url, good)


def test_code_forgives_case_and_dashes(central: Central, tmp_path: Path) -> None:
    code = central.code("CIN-B")
    info = enroll(tmp_path / "k", central.url, code.replace("-", "").lower())
    assert info["cinema"] == "CIN-B"


def test_plain_http_to_remote_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as exc:
        enroll(tmp_path / "k", "http://cinepass.example.org", "AAAA-BBBB-CCCC")
    assert exc.value.reason == "http_refused"
    assert not (tmp_path / "k").exists()


def test_unreachable_server_changes_nothing(tmp_path: Path) -> None:
    from kiosk.http import SyncError
    from sync.server.embedded import free_port

    home = tmp_path / "k"
    with pytest.raises(SyncError) as exc:
        enroll(home, f"http://127.0.0.1:{free_port()}", "AAAA-BBBB-CCCC")
    assert exc.value.reason == "unreachable" and "cannot reach" in exc.value.message
    assert not home.exists()  # no key, no config, no store


def test_enrol_over_unsynced_records_is_refused(central: Central, tmp_path: Path) -> None:
    from kiosk.engine.service import KioskService

    [token] = central.issue(1)
    home = tmp_path / "k"
    enroll(home, central.url, central.code("CIN-A"))
    with KioskService.open(home) as svc:
        assert svc.redeem(token, fmt="2D").accepted
    code = central.code("CIN-A")
    with pytest.raises(UsageError) as exc:
        enroll(home, central.url, code)
    assert exc.value.reason == "pending_records" and "1 unsynced" in exc.value.message
    with central.session() as s:  # the code was not spent
        row = s.scalars(
            select(EnrolmentCode).where(EnrolmentCode.code_hash == hash_secret(code))
        ).one()
        assert row.used_at is None
