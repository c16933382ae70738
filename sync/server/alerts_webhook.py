"""The alert webhook: a signed JSON POST per new alert, retried with backoff, dead after a day.

Wire format (docs/monitoring.md has a worked example)::

    POST <url>
    Content-Type: application/json; charset=utf-8
    X-CinePass-Event: alert.opened
    X-CinePass-Delivery: <notice id>
    X-CinePass-Timestamp: <unix seconds>
    X-CinePass-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

    {"event": "alert.opened", "alert": {...alerts --json object, with evidence...},
     "sent_at": "2026-12-03T10:00:00.000Z"}

The receiver recomputes the HMAC over the exact body bytes with the shared
secret and rejects a timestamp too old (replay). Any 2xx answer is a
delivery; anything else (or no answer in 10 s) is retried after
``base * 2**(attempts - 1)`` seconds, at most ``max_backoff``, until a day has
passed since the notice was queued: then it is ``dead``, kept in the
``alert_notice`` table for the office.

Notices are rows (the outbox, written with the alert): a sender claims one
with a conditional UPDATE of ``next_at``, so with several server processes
each notice is posted by one of them at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from sync.errors import EXIT_USAGE, CinePassError
from sync.office.alerts import alert_json
from sync.office.alerts_models import Alert, AlertNotice
from sync.office.reports import iso_utc

from .db import session_scope
from .models import now_ms

log = logging.getLogger("cinepass.alerts.webhook")
CLAIM_MS = 60_000  # a claimed notice is not tried by anyone else for this long


@dataclass(frozen=True)
class Webhook:
    """Where and how to post: the URL, the shared secret, the retry schedule."""

    url: str
    secret: bytes
    base_s: float = 5.0
    max_backoff_s: float = 3600.0
    dead_after_ms: int = 86_400_000
    timeout_s: float = 10.0

    @classmethod
    def of(cls, url: str, secret_file: str | None) -> Webhook:
        """From ``--alert-webhook URL --alert-webhook-secret-file FILE`` (exit 2 if unusable)."""
        if not url.startswith(("http://", "https://")):
            raise WebhookError(
                "bad_webhook",
                f"告警 Webhook 地址须为 http(s) / --alert-webhook {url!r}: http(s) only",
            )
        if not secret_file:
            raise WebhookError(
                "bad_webhook",
                "需要签名密钥文件 / --alert-webhook needs --alert-webhook-secret-file",
            )
        try:
            secret = Path(secret_file).read_bytes().strip()
        except OSError as exc:
            raise WebhookError(
                "bad_webhook", f"无法读取密钥文件 / cannot read {secret_file}: {exc.strerror}"
            ) from None
        if len(secret) < 16:
            raise WebhookError(
                "bad_webhook", f"密钥太短 / the secret in {secret_file} is under 16 bytes"
            )
        return cls(url, secret)

    #: the notices this channel sends: every event without a channel prefix
    prefix = ""

    def prepare(self, event: str, alert: Alert | None, payload: dict[str, Any], t: int) -> bytes:
        """The body: the alert, or (``alert.digest``) the day's digest."""
        return body_of(event, alert, t) if alert is not None else digest_body(payload, t)

    def send(self, notice_id: int, event: str, prepared: bytes, t: int) -> str:
        return post(self, notice_id, event, prepared, t)


class Channel(Protocol):
    """A way notices leave (the webhook, mail): its retry schedule and how to send one."""

    @property
    def prefix(self) -> str: ...  # its notices' events start with this ("mail:"; "": webhook)

    @property
    def base_s(self) -> float: ...

    @property
    def max_backoff_s(self) -> float: ...

    @property
    def dead_after_ms(self) -> int: ...

    def prepare(self, event: str, alert: Alert | None, payload: dict[str, Any], t: int) -> Any: ...

    def send(self, notice_id: int, event: str, prepared: Any, t: int) -> str: ...


class WebhookError(CinePassError):
    """The webhook settings cannot be used (exit 2)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message, exit_code=EXIT_USAGE)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-CinePass-Signature`` value of a body sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (tests and docs use it): constant-time comparison."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def body_of(event: str, alert: Alert, t: int) -> bytes:
    payload: dict[str, Any] = {
        "event": f"alert.{event}",
        "alert": alert_json(alert, full=True),
        "sent_at": iso_utc(t),
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")


def digest_body(digest: dict[str, Any], t: int) -> bytes:
    """``alert.digest``: the daily digest (:mod:`sync.office.alerts_digest`'s object)."""
    payload = {"event": "alert.digest", "digest": digest, "sent_at": iso_utc(t)}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")


def post(hook: Webhook, notice_id: int, event: str, body: bytes, t: int) -> str:
    """POST once; "" on a 2xx answer, else what went wrong (one line)."""
    ts = str(t // 1000)
    req = urllib.request.Request(  # noqa: S310 (http/https only: checked by Webhook.of)
        hook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "cinepass-server",
            "X-CinePass-Event": f"alert.{event}",
            "X-CinePass-Delivery": str(notice_id),
            "X-CinePass-Timestamp": ts,
            "X-CinePass-Signature": sign(hook.secret, ts, body),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=hook.timeout_s) as resp:  # noqa: S310
            code = int(resp.status)
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return "" if 200 <= code < 300 else f"HTTP {code}"


def claim_due(session: Session, t: int, limit: int = 20, prefix: str = "") -> list[AlertNotice]:
    """Pending notices due now of one channel (``prefix``), each claimed for :data:`CLAIM_MS`."""
    mine_only = AlertNotice.event.like(f"{prefix}%") if prefix else ~AlertNotice.event.like("%:%")
    due = session.scalars(
        select(AlertNotice)
        .where(AlertNotice.status == "pending", AlertNotice.next_at <= t, mine_only)
        .order_by(AlertNotice.next_at, AlertNotice.id)
        .limit(limit)
    ).all()
    mine = []
    for n in due:
        won = session.execute(
            update(AlertNotice)
            .where(AlertNotice.id == n.id, AlertNotice.next_at == n.next_at)
            .values(next_at=t + CLAIM_MS)
            .execution_options(synchronize_session=False)
        )
        if getattr(won, "rowcount", 0) == 1:
            mine.append(n)
    return mine


def deliver_due(maker: sessionmaker[Session], hook: Channel) -> int:
    """Try every notice of this channel due now once; returns how many were delivered."""
    t = now_ms()
    with session_scope(maker) as s:
        jobs = []
        for n in claim_due(s, t, prefix=hook.prefix):
            alert = s.get(Alert, n.alert_id) if n.alert_id else None  # 0: the digest
            event = n.event.removeprefix(hook.prefix)
            if alert is not None or not n.alert_id:
                body = hook.prepare(event, alert, dict(n.payload), t)
                jobs.append((n.id, event, n.created_at, n.attempts, body))
    sent = 0
    for notice_id, event, created, attempts, body in jobs:
        error = hook.send(notice_id, event, body, t)
        done = now_ms()
        with session_scope(maker) as s:
            values: dict[str, Any] = {"attempts": attempts + 1, "last_error": error}
            if not error:
                values |= {"status": "sent", "sent_at": done}
                sent += 1
            elif done - created >= hook.dead_after_ms:
                values |= {"status": "dead"}
                log.error(
                    "alert notice %s dead after %s attempts: %s", notice_id, attempts + 1, error
                )
            else:
                wait = min(hook.base_s * 2**attempts, hook.max_backoff_s)
                values |= {"next_at": done + int(wait * 1000)}
                log.warning("alert notice %s failed (%s), retry in %.1f s", notice_id, error, wait)
            s.execute(update(AlertNotice).where(AlertNotice.id == notice_id).values(**values))
    return sent


def next_due(maker: sessionmaker[Session]) -> int | None:
    """When the next pending notice is due (UTC ms), or None."""
    with session_scope(maker) as s:
        return s.scalar(
            select(AlertNotice.next_at)
            .where(AlertNotice.status == "pending")
            .order_by(AlertNotice.next_at)
            .limit(1)
        )
