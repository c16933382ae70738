"""A reference client of the CinePass online API (the ``cinepass-partner`` command is
:mod:`sync.partner_cli`).

Standard library only, on purpose: integrators copy this one file into their
own shop (docs/online-api.md). :func:`signature` is also the server's one
definition of a request signature, so the client and the server cannot
drift apart::

    hex(HMAC-SHA256(secret, METHOD "\\n" PATH "\\n" TIMESTAMP "\\n" hex(SHA256(body))))

It has no command line and no argument parsing, so the office layer can use
:func:`signature` without pulling in a front end.

Connections are kept alive (HTTP/1.1), one per thread and client: a new TCP
(and TLS) connection per call costs more than the server's work for a
``check``, so this is what an integrator should do too. A call on a kept
connection that the server closed meanwhile (idle timeout) is sent once more
on a new one; the server never saw it, and if it had, the same signature
would be refused as ``replayed`` rather than used twice.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

# Copying this file elsewhere: replace the import below with
#   class CinePassError(Exception):
#       def __init__(self, reason, message, **_kw): super().__init__(f"{reason}: {message}")
from sync.errors import CinePassError

PREFIX = "/api/v1/online"
#: signatures this process sent in the current second (see :meth:`PartnerClient.request`)
_SENT: dict[str, str] = {}
_SENT_LOCK = threading.Lock()


def signature(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """The ``X-CinePass-Signature`` of one request (lower-case hex)."""
    message = "\n".join(
        (method.upper(), path, timestamp, hashlib.sha256(body).hexdigest())
    ).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class PartnerApiError(CinePassError):
    """An answer other than 2xx: ``status``, ``error`` (the code) and ``message``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(error, message, exit_code=1, http_status=status)
        self.status, self.error = status, error


@dataclass
class PartnerClient:
    """Signed calls to one server as one partner. Each call is signed anew.

    Safe to share between threads: each thread keeps its own connection.
    """

    server: str
    partner_id: str
    secret: str
    timeout: float = 10.0
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.server.startswith(("http://", "https://")):
            raise ValueError(f"server must be an http(s) URL, not {self.server!r}")
        self._url = urllib.parse.urlsplit(self.server.rstrip("/"))

    def connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to the server, and whether it was used before."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        kind = (
            http.client.HTTPSConnection
            if self._url.scheme == "https"
            else http.client.HTTPConnection
        )
        conn = kind(self._url.hostname or "", self._url.port, timeout=self.timeout)
        self._local.conn = conn
        return conn, False

    def close(self) -> None:
        """Close this thread's connection (the next call opens a new one)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def exchange(
        self, method: str, path: str, data: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """(status, body) of one request on the kept connection (once more on a new one
        if the server had closed a kept connection)."""
        while True:
            conn, reused = self.connection()
            try:
                conn.request(method, self._url.path + path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused:
                    continue
                raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
            if resp.will_close:
                self.close()
            return resp.status, raw

    def headers(
        self, method: str, path: str, data: bytes, timestamp: str | None = None
    ) -> dict[str, str]:
        """The signed headers of one request (``timestamp``: now, in UNIX seconds)."""
        ts = timestamp or str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "X-CinePass-Partner": self.partner_id,
            "X-CinePass-Timestamp": ts,
            "X-CinePass-Signature": signature(self.secret, method, path, ts, data),
        }

    def send(self, method: str, path: str, data: bytes, headers: dict[str, str]) -> dict[str, Any]:
        """Send prepared bytes and headers; the JSON answer, or :class:`PartnerApiError`."""
        status, raw = self.exchange(method, path, data, headers)
        if 200 <= status < 300:
            answer: dict[str, Any] = json.loads(raw or b"{}")
            return answer
        try:
            err = json.loads(raw)
        except ValueError:
            err = {}
        if not isinstance(err, dict):
            err = {}
        if isinstance(err.get("error"), dict):  # the server's other error shape
            err = {"error": err["error"].get("code"), "message": err["error"].get("message")}
        raise PartnerApiError(
            status,
            str(err.get("error") or "http_error"),
            str(err.get("message") or raw.decode("utf-8", "replace")),
        )

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """Sign and send one request.

        Each call is signed anew; a call whose bytes this process already sent
        in the same second waits for the next second, or the server would
        refuse it as ``replayed``.
        """
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        with _SENT_LOCK:  # the same bytes twice in one second would be one signature: a replay
            headers = self.headers(method, path, data)
            while headers["X-CinePass-Signature"] in _SENT:
                time.sleep(0.05)
                headers = self.headers(method, path, data)
            now = headers["X-CinePass-Timestamp"]
            for old in [s for s, ts in _SENT.items() if ts != now]:
                del _SENT[old]
            _SENT[headers["X-CinePass-Signature"]] = now
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.send(method, path, data, headers)

    def check(self, code: str, cinema: str, fmt: str) -> dict[str, Any]:
        return self.request(
            "POST", f"{PREFIX}/check", {"code": code, "cinema": cinema, "format": fmt}
        )

    def hold(
        self,
        code: str,
        cinema: str,
        fmt: str,
        order_ref: str,
        *,
        key: str | None = None,
        hold_seconds: int | None = None,
    ) -> dict[str, Any]:
        """Hold a voucher for an order; ``key`` defaults to a fresh uuid (keep it to retry)."""
        body: dict[str, Any] = {"code": code, "cinema": cinema, "format": fmt}
        body["order_ref"] = order_ref
        if hold_seconds is not None:
            body["hold_seconds"] = hold_seconds
        return self.request("POST", f"{PREFIX}/holds", body, key=key or str(uuid.uuid4()))

    def confirm(self, hold_id: str, *, key: str | None = None) -> dict[str, Any]:
        return self.request("POST", f"{PREFIX}/holds/{hold_id}/confirm", {}, key=key)

    def release(self, hold_id: str, *, key: str | None = None) -> dict[str, Any]:
        return self.request("POST", f"{PREFIX}/holds/{hold_id}/release", {}, key=key)

    def cancel(self, record_id: str, reason: str, *, key: str | None = None) -> dict[str, Any]:
        return self.request(
            "POST", f"{PREFIX}/redemptions/{record_id}/cancel", {"reason": reason}, key=key
        )
