"""Issue 13: the webhook (signed, retried, dead-lettered), the CLI contract, ack/resolve
(audited), one open alert per rule and subject under concurrency, and the migration.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alerts_support import Monitor, monitor_for, redeem, sync
from sqlalchemy import inspect, select
from syncsupport import Central, enrolled_kiosk
from waitfor import wait_for

from sync.admin import main as admin_main
from sync.office.alerts import Finding, raise_alert
from sync.office.alerts_models import Alert, AlertNotice
from sync.office.audit import AuditEntry
from sync.server.alerts_webhook import Webhook, verify
from sync.server.alerts_worker import AlertSettings
from sync.server.db import alembic_config, make_engine, migrate, session_scope
from sync.server.main import main as server_main

pytestmark = pytest.mark.timeout(120)
SECRET = b"0123456789abcdef-test-secret"


class Receiver:
    """A real HTTP server on loopback: answers 500 to the first ``fail`` posts, then 204."""

    def __init__(self, fail: int = 1) -> None:
        self.fail = fail
        self.calls: list[tuple[int, Any, bytes]] = []  # headers: case-insensitive
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = 500 if len(outer.calls) < outer.fail else 204
                outer.calls.append((code, self.headers, body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def duplicate(central: Central, tmp_path: Path) -> None:
    """Two counters admit one voucher offline, then sync: a duplicate_use alert."""
    a = enrolled_kiosk(central, tmp_path / "a")
    b = enrolled_kiosk(central, tmp_path / "b", cinema="CIN-B")
    [t] = central.issue(1)
    assert redeem(a, t).accepted and redeem(b, t).accepted
    assert sync(a) == 0 and sync(b) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_webhook_is_signed_and_retried_after_a_failure(
    central: Central, tmp_path: Path, receiver: Receiver
) -> None:
    mon = monitor_for(central, tmp_path)
    hook = Webhook(receiver.url, SECRET, base_s=0.2)
    mon.worker.settings = AlertSettings(rules=mon.worker.settings.rules, webhook=hook)
    duplicate(central, tmp_path)
    wait_for(lambda: len(receiver.calls) >= 2, timeout=10)
    (c1, h1, b1), (c2, h2, b2) = receiver.calls[:2]
    assert (c1, c2) == (500, 204)
    assert (
        h2["X-CinePass-Event"] == "alert.opened"
        and h1["X-CinePass-Delivery"] == h2["X-CinePass-Delivery"]
    )
    assert verify(SECRET, h2["X-CinePass-Timestamp"], b2, h2["X-CinePass-Signature"])
    assert not verify(
        b"another-secret-0123", h2["X-CinePass-Timestamp"], b2, h2["X-CinePass-Signature"]
    )
    payload = json.loads(b2)
    assert payload["event"] == "alert.opened" and payload["alert"]["rule"] == "duplicate_use"
    assert len(payload["alert"]["evidence"]) == 2

    def notice() -> tuple[str, int, str]:
        # the receiver answers before the worker commits what it answered: wait for the commit
        with central.session() as s:
            [n] = s.scalars(select(AlertNotice)).all()
            return n.status, n.attempts, n.last_error

    wait_for(lambda: notice()[0] != "pending", timeout=10)
    assert notice() == ("sent", 2, "")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_notice_failing_for_a_day_is_dead_lettered(central: Central, tmp_path: Path) -> None:
    mon = monitor_for(central, tmp_path)
    r = Receiver(fail=1000)
    try:
        hook = Webhook(r.url, SECRET, base_s=0.05, dead_after_ms=0)  # "a day" is now
        mon.worker.settings = AlertSettings(rules=mon.worker.settings.rules, webhook=hook)
        duplicate(central, tmp_path)

        def dead() -> bool:
            with central.session() as s:
                return s.scalar(select(AlertNotice.status)) == "dead"

        wait_for(dead, timeout=10)
        assert len(r.calls) == 1
    finally:
        r.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_lists_acks_and_resolves_with_an_audit(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mon: Monitor = monitor_for(central, tmp_path)
    duplicate(central, tmp_path)
    mon.wait("duplicate_use")
    db = ["--db", central.url_db]
    capsys.readouterr()
    assert admin_main([*db, "alerts", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    keys = ("id", "rule", "severity", "status", "cinema", "device", "voucher", "member")
    assert set(keys) | {"first_seen", "last_seen", "count"} <= set(row)
    assert row["status"] == "open" and row["first_seen"].endswith("Z")
    aid = str(row["id"])
    assert admin_main([*db, "alerts", "ack", aid, "--note", "查看中", "--actor", "duty"]) == 0
    assert admin_main([*db, "alerts", "ack", aid, "--note", "again"]) == 2  # not open any more
    assert (
        admin_main([*db, "alerts", "resolve", aid, "--note", "影院已确认", "--actor", "duty"]) == 0
    )
    assert admin_main([*db, "alerts", "resolve", "999", "--note", "x"]) == 2
    capsys.readouterr()
    assert admin_main([*db, "alerts", "--open", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert admin_main([*db, "alerts", "show", aid, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "resolved" and shown["resolved_by"] == "duty"
    with central.session() as s:
        audit = [
            (e.actor, e.action, (e.after or {}).get("status"))
            for e in s.scalars(select(AuditEntry))
        ]
    assert audit == [("duty", "alert.ack", "acked"), ("duty", "alert.resolve", "resolved")]
    # the thresholds in force, from the built-in defaults or a file
    assert admin_main([*db, "alert-rules", "--json"]) == 0
    rules = json.loads(capsys.readouterr().out)
    assert rules["rules"]["burst"]["floor"] == 20 and rules["opening_hours"]["opens"] == "09:00"
    bad = tmp_path / "bad.toml"
    bad.write_text("[brust]\nfloor = 3\n", "utf-8")
    assert admin_main([*db, "alert-rules", "--alert-rules", str(bad)]) == 2
    assert "brust" in capsys.readouterr().err


def test_one_open_alert_per_rule_and_subject_under_concurrency(db_url: str) -> None:
    engine = migrate(db_url)
    finding = lambda i: Finding(  # noqa: E731
        "burst", "high", "device", "D1", 1_000 + i, (f"record:{i}",), device="D1"
    )
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            with session_scope(engine) as s:
                raise_alert(s, finding(i))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(engine) as s:
        [a] = s.scalars(select(Alert)).all()
        assert a.count == 6 and len(a.evidence) == 6 and a.first_seen == 1_000
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_alert_tables_appear_on_a_first_schema_database(db_url: str) -> None:
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0001")
    assert "alert" not in inspect(engine).get_table_names()
    migrate(engine)
    names = set(inspect(engine).get_table_names())
    assert {"alert", "alert_notice", "alert_lease", "audit_log"} <= names
    engine.dispose()


def test_the_server_refuses_an_unusable_webhook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    assert server_main(["--db", db, "--alert-webhook", "ftp://x/y"]) == 2
    assert "http(s)" in capsys.readouterr().err
    assert server_main(["--db", db, "--alert-webhook", "http://127.0.0.1:9/x"]) == 2
    short = tmp_path / "s"
    short.write_text("short")
    argv = ["--db", db, "--alert-webhook", "http://127.0.0.1:9/x", "--alert-webhook-secret-file"]
    assert server_main([*argv, str(short)]) == 2
    assert "16 bytes" in capsys.readouterr().err
