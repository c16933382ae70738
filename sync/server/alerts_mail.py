"""Optional alert e-mail: one message per new alert over SMTP, retried like the webhook.

``cinepass-server --alert-smtp HOST:PORT --alert-mail-from ADDR --alert-mail-to ADDR
[--alert-mail-to ADDR ...] [--alert-smtp-user NAME --alert-smtp-password-file FILE]``.
STARTTLS is used whenever the server offers it (certificate checked); a password
is read from a file that only its owner may read (mode 0600, else exit 2) and is
never logged or shown. Notices are rows of ``alert_notice`` with the event
``mail:opened``, written with the alert and claimed like the webhook's
(:func:`sync.server.alerts_webhook.deliver_due`): retried after 5 s, 10 s, 20 s,
... (at most an hour), dead after a day.
"""

from __future__ import annotations

import argparse
import json
import smtplib
import ssl
import stat
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sync.errors import EXIT_USAGE, CinePassError
from sync.office.alerts import alert_json
from sync.office.alerts_digest import digest_text
from sync.office.alerts_models import Alert

PREFIX = "mail:"


class MailError(CinePassError):
    """The mail settings cannot be used (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_mail", message, exit_code=EXIT_USAGE)


@dataclass(frozen=True)
class Mail:
    """Where alert mail goes, and the retry schedule (the webhook's)."""

    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    user: str = ""
    password: str = ""
    base_s: float = 5.0
    max_backoff_s: float = 3600.0
    dead_after_ms: int = 86_400_000
    timeout_s: float = 10.0
    prefix = PREFIX

    def __repr__(self) -> str:  # never the password, whatever prints this
        return f"Mail({self.host}:{self.port}, from={self.sender}, to={list(self.to)})"

    @classmethod
    def of(
        cls,
        server: str,
        sender: str | None,
        to: list[str] | None,
        user: str | None = None,
        password_file: str | None = None,
    ) -> Mail:
        """From the ``--alert-smtp ...`` flags (exit 2, one line, if unusable)."""
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise MailError(f"邮件服务器应为 HOST:PORT / --alert-smtp {server!r}: HOST:PORT")
        if not sender or "@" not in sender or not to or any("@" not in a for a in to):
            raise MailError(
                "需要发件人和收件人地址 / --alert-smtp needs --alert-mail-from and --alert-mail-to"
            )
        password = ""
        if password_file:
            path = Path(password_file)
            try:
                mode = path.stat().st_mode
                password = path.read_text("utf-8").strip()
            except OSError as exc:
                raise MailError(
                    f"无法读取密码文件 / cannot read {password_file}: {exc.strerror}"
                ) from None
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise MailError(
                    f"密码文件须仅本人可读（chmod 600）/ {password_file} must be mode 0600"
                )
        return cls(host.strip("[]"), int(port), sender, tuple(to), user or "", password)

    def prepare(
        self, event: str, alert: Alert | None, payload: dict[str, Any], t: int
    ) -> EmailMessage:
        """The message: a one-line subject (severity, rule, subject), the alert as text;
        or the daily digest (``alert`` None, ``payload`` the digest)."""
        msg = EmailMessage()
        msg["From"], msg["To"] = self.sender, ", ".join(self.to)
        if alert is None:
            msg["Subject"] = f"[CinePass 告警日报 alert digest] {payload.get('date', '')}"
            msg.set_content(digest_text(payload))
            return msg
        a = alert_json(alert, full=True)
        msg["Subject"] = (
            f"[CinePass 告警 alert #{a['id']}] {a['severity']} {a['rule']} "
            f"{a['subject']['kind']}:{a['subject']['key']}"
        )
        msg.set_content(
            f"告警 / alert {event}\n\n" + json.dumps(a, ensure_ascii=False, indent=2) + "\n"
        )
        return msg

    def send(self, notice_id: int, event: str, prepared: EmailMessage, t: int) -> str:
        """Send once: "" when the server accepted it, else what went wrong (one line)."""
        msg = prepared
        msg["Message-ID"] = f"<alert-notice-{notice_id}@cinepass>"  # the same on every retry
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            text = str(exc).replace(self.password, "***") if self.password else str(exc)
            return f"{type(exc).__name__}: {text}"[:300]
        return ""


def add_flags(p: argparse.ArgumentParser) -> None:
    """``cinepass-server``'s mail flags (all optional: no ``--alert-smtp``, no mail)."""
    p.add_argument("--alert-smtp", default=None, metavar="HOST:PORT", help="mail new alerts")
    p.add_argument("--alert-mail-from", default=None, metavar="ADDR")
    p.add_argument("--alert-mail-to", action="append", default=None, metavar="ADDR")
    p.add_argument("--alert-smtp-user", default=None, metavar="NAME")
    p.add_argument("--alert-smtp-password-file", default=None, metavar="FILE", help="mode 0600")
    p.add_argument(
        "--alert-digest-hour", type=int, default=None, metavar="H",
        help="send the previous day's alert digest at this hour (China Standard Time, 0-23)",
    )  # fmt: skip


def from_args(args: argparse.Namespace) -> Mail | None:
    """The ``Mail`` of the flags, or None without ``--alert-smtp``."""
    if not args.alert_smtp:
        return None
    return Mail.of(
        args.alert_smtp,
        args.alert_mail_from,
        args.alert_mail_to,
        args.alert_smtp_user,
        args.alert_smtp_password_file,
    )
