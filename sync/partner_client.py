"""A reference client of the CinePass online API, and the ``cinepass-partner`` command.

Standard library only, on purpose: integrators copy this one file into their
own shop (docs/online-api.md). :func:`signature` is also the server's one
definition of a request signature, so the client and the server cannot
drift apart::

    hex(HMAC-SHA256(secret, METHOD "\\n" PATH "\\n" TIMESTAMP "\\n" hex(SHA256(body))))

The id and secret come from ``--credentials FILE`` (the JSON that
``cinepass-admin partner add --json`` printed) or from the environment
(``CINEPASS_PARTNER_ID``, ``CINEPASS_PARTNER_SECRET``); the server from
``--server`` or ``CINEPASS_SERVER``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sync.errors import CinePassError  # copying this file: `CinePassError = Exception` will do

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
    """Signed calls to one server as one partner. Each call is signed anew."""

    server: str
    partner_id: str
    secret: str
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.server.startswith(("http://", "https://")):
            raise ValueError(f"server must be an http(s) URL, not {self.server!r}")

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
        url = self.server.rstrip("/") + path  # http(s) only: checked in __post_init__
        req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                answer: dict[str, Any] = json.loads(resp.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                err = json.loads(raw)
            except ValueError:
                err = {}
            if isinstance(err.get("error"), dict):  # the server's other error shape
                err = {"error": err["error"].get("code"), "message": err["error"].get("message")}
            raise PartnerApiError(
                exc.code, str(err.get("error") or "http_error"), str(err.get("message") or raw)
            ) from None

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


def client_from(args: argparse.Namespace) -> PartnerClient:
    """The client the command line and environment describe (exit 2 if something is missing)."""
    pid = os.environ.get("CINEPASS_PARTNER_ID", "")
    secret = os.environ.get("CINEPASS_PARTNER_SECRET", "")
    if args.credentials:
        with open(args.credentials, encoding="utf-8") as f:
            creds = json.load(f)
        pid, secret = str(creds.get("id", "")), str(creds.get("secret", ""))
    server = args.server or os.environ.get("CINEPASS_SERVER", "")
    if not (pid and secret and server):
        print(
            "cinepass-partner: 需要 --server 和凭据 / give --server (or CINEPASS_SERVER) and "
            "--credentials FILE (or CINEPASS_PARTNER_ID and CINEPASS_PARTNER_SECRET)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return PartnerClient(server, pid, secret)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cinepass-partner", description="CinePass online API client")
    p.add_argument("--server", help="base URL, e.g. https://cinepass.example.org")
    p.add_argument("--credentials", help="JSON file with id and secret (partner add --json)")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("check", "hold"):
        s = sub.add_parser(name)
        s.add_argument("code")
        s.add_argument("--cinema", required=True)
        s.add_argument("--format", default="2D")
        if name == "hold":
            s.add_argument("--order-ref", required=True)
            s.add_argument("--key", help="Idempotency-Key (default: a new uuid)")
            s.add_argument("--seconds", type=int, help="hold length (default 900, at most 1800)")
    for name in ("confirm", "release"):
        sub.add_parser(name).add_argument("hold_id")
    c = sub.add_parser("cancel")
    c.add_argument("record_id")
    c.add_argument("--reason", required=True)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Print the JSON answer; exit 0, 1 when the server refused, 2 for bad usage."""
    args = build_parser().parse_args(argv)
    client = client_from(args)
    try:
        if args.command == "check":
            out = client.check(args.code, args.cinema, args.format)
        elif args.command == "hold":
            out = client.hold(
                args.code,
                args.cinema,
                args.format,
                args.order_ref,
                key=args.key,
                hold_seconds=args.seconds,
            )
        elif args.command == "confirm":
            out = client.confirm(args.hold_id)
        elif args.command == "release":
            out = client.release(args.hold_id)
        else:
            out = client.cancel(args.record_id, args.reason)
    except PartnerApiError as exc:
        print(json.dumps({"error": exc.error, "message": exc.message}, ensure_ascii=False))
        return 1
    except OSError as exc:
        print(json.dumps({"error": "unreachable", "message": str(exc)}, ensure_ascii=False))
        return 3
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
