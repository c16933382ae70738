"""Alert e-mail against a real SMTP server on loopback: sent, retried after a refusal, 0600 password.

The server is a tiny SMTP implementation in this file (socketserver, the
commands smtplib sends); it refuses the first message with 451, so the
notice is retried like the webhook's, then accepts.
"""

from __future__ import annotations

import logging
import socketserver
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest
from alerts_support import monitor_for, redeem, sync
from syncsupport import Central, enrolled_kiosk
from waitfor import wait_for

from sync.server.alerts_mail import Mail, MailError
from sync.server.alerts_worker import AlertSettings, AlertsWorker
from sync.server.models import now_ms


class Smtp(socketserver.StreamRequestHandler):
    """EHLO (with AUTH PLAIN, no STARTTLS), AUTH, MAIL, RCPT, DATA, QUIT."""

    server: Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 test ESMTP")
        while line := self.rfile.readline():
            cmd = line.decode().strip().upper()
            if cmd.startswith("EHLO"):
                self.wfile.write(b"250-test\r\n250 AUTH PLAIN\r\n")
            elif cmd.startswith("AUTH"):
                self.server.auth.append(line.decode().strip())
                self.reply("235 ok")
            elif cmd == "DATA":
                self.reply("354 go on")
                data = b""
                while (chunk := self.rfile.readline()) != b".\r\n":
                    data += chunk
                self.server.attempts += 1
                if self.server.attempts == 1:
                    self.reply("451 try again later")
                else:
                    self.server.got.append(message_from_bytes(data, policy=policy.default))
                    self.reply("250 queued")
            elif cmd == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Smtp)
        self.got: list[Message] = []
        self.auth: list[str] = []
        self.attempts = 0


@pytest.fixture
def smtp() -> Iterator[Server]:
    server = Server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_new_alert_is_mailed_and_retried(
    central: Central, smtp: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret-mail-pass\n")
    secret.chmod(0o644)
    port = smtp.server_address[1]
    with pytest.raises(MailError, match="0600"):
        Mail.of(f"127.0.0.1:{port}", "duty@union.cn", ["ops@union.cn"], "duty", str(secret))
    secret.chmod(0o600)
    mail = Mail.of(f"127.0.0.1:{port}", "duty@union.cn", ["ops@union.cn"], "duty", str(secret))
    assert "s3cret" not in repr(mail)
    mail = Mail(**{**mail.__dict__, "base_s": 0.05})  # retry quickly in the test
    mon = monitor_for(central, tmp_path)
    mon.worker.settings = AlertSettings(rules=mon.worker.settings.rules, mail=mail)
    caplog.set_level(logging.DEBUG)
    a = enrolled_kiosk(central, tmp_path / "a")
    b = enrolled_kiosk(central, tmp_path / "b", cinema="CIN-B")
    [t] = central.issue(1)
    assert redeem(a, t).accepted and redeem(b, t).accepted
    assert sync(a) == 0 and sync(b) == 0
    [alert] = mon.wait("duplicate_use")
    [msg] = wait_for(lambda: smtp.got, timeout=15)
    assert smtp.attempts == 2  # refused once (451), then accepted
    assert f"alert #{alert['id']}" in msg["Subject"] and "duplicate_use" in msg["Subject"]
    assert msg["To"] == "ops@union.cn" and msg["From"] == "duty@union.cn"
    assert "<alert-notice-" in msg["Message-ID"]
    assert alert["voucher"] in msg.get_payload(decode=True).decode("utf-8")
    assert smtp.auth and "s3cret" not in caplog.text  # logged in, the password never logged


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_daily_digest_is_mailed_once_across_processes(
    central: Central, smtp: Server, tmp_path: Path
) -> None:
    port = smtp.server_address[1]
    mail = Mail("127.0.0.1", port, "duty@union.cn", ("ops@union.cn",), base_s=0.05)
    mon = monitor_for(central, tmp_path)
    mon.worker.settings = AlertSettings(mon.worker.settings.rules, mail=mail, digest_hour=0)
    other = AlertsWorker(central.engine, mon.worker.settings)  # a second server process
    t = now_ms()
    assert mon.worker.send_digest(t) is True
    assert other.send_digest(t) is False and mon.worker.send_digest(t + 1000) is False
    [msg] = wait_for(lambda: smtp.got, timeout=15)
    assert "告警日报 alert digest" in msg["Subject"]
    assert "告警日报 / alert digest" in msg.get_payload(decode=True).decode("utf-8")
