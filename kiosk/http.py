"""The kiosk's one HTTP(S) client for talking to the central server.

Why one client: certificate checks, the custom CA bundle, the "no plain HTTP
to the internet" rule and the wording of network failures must be the same
for ``enroll``, ``sync`` and the window's background sync.

* Certificates are always verified (``verify=True`` or the configured CA
  bundle for self-hosted servers); there is no switch to turn that off.
* ``http://`` is refused unless the host is loopback (tests, a demo on one
  PC) or ``allow_http`` is set explicitly: a token sent in clear text over a
  cinema's Wi-Fi is a token given away.
* Failures become :class:`SyncError` with a reason code and a sentence a
  cinema's IT person can act on ("the server's certificate is not trusted
  ..."), never a requests traceback. The device token never appears in them.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

import requests

from .errors import EnvironmentFailure, UsageError

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


class SyncError(EnvironmentFailure):
    """Talking to the server failed (exit 3); ``status`` is the HTTP status if any."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        super().__init__(reason, message)
        self.status = status


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http: bool = False) -> str:
    """Validate a server URL; returns it without a trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("bad_url", f"server URL must look like https://host[:port], not {url!r}")
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        raise UsageError(
            "http_refused",
            f"refusing plain HTTP to {parts.hostname}: use https:// (or set allow_http "
            "in config.json if this network is private and you accept the risk)",
        )
    return url.strip().rstrip("/")


def explain_tls(exc: Exception, host: str) -> SyncError:
    """Turn an SSL failure into words for the person who has to fix it."""
    text = str(exc)
    if "certificate has expired" in text:
        msg = (
            f"the certificate of {host} has expired (or this PC's clock is wrong): "
            "renew the server certificate or correct the clock"
        )
        return SyncError("tls_expired", msg)
    if "Hostname mismatch" in text or "doesn't match" in text or "IP address mismatch" in text:
        msg = (
            f"the server's certificate is not issued for {host}: check the server address "
            "in config.json or the certificate's names"
        )
        return SyncError("tls_wrong_host", msg)
    if "CERTIFICATE_VERIFY_FAILED" in text or "self-signed" in text or "self signed" in text:
        msg = (
            f"the certificate of {host} is not trusted by this kiosk (self-signed or from an "
            "unknown authority): for a self-hosted server, put the union's CA certificate file "
            "in config.json as ca_bundle"
        )
        return SyncError("tls_untrusted", msg)
    return SyncError(
        "tls_failed", f"a secure connection to {host} could not be set up: {text[:200]}"
    )


class HttpClient:
    """JSON over HTTP(S) to one server, optionally authenticated with the device token."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        ca_bundle: str | None = None,
        allow_http: bool = False,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = check_url(base_url, allow_http=allow_http)
        self.host = urlsplit(self.base_url).hostname or ""
        self._token = token
        self.timeout = timeout
        self.verify: bool | str = True
        if ca_bundle:
            self.verify = ca_bundle
        self._session = requests.Session()
        # A real server is reached the way the PC's other software is (HTTPS_PROXY in a
        # cinema's office network); loopback (demo, tests) never goes through a proxy.
        self._session.trust_env = not is_loopback(self.host)

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"  # never the token

    def close(self) -> None:
        self._session.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body=body)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            resp = self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            raise explain_tls(exc, self.host) from None
        except requests.exceptions.Timeout:
            raise SyncError("timeout", f"the server {self.host} did not answer in time") from None
        except requests.exceptions.ConnectionError:
            raise SyncError(
                "unreachable",
                f"cannot reach the server {self.host}: check the network cable/Wi-Fi "
                "and that the server is running",
            ) from None
        except (requests.exceptions.RequestException, OSError) as exc:
            raise SyncError(
                "network_failed", f"network error talking to {self.host}: {exc.__class__.__name__}"
            ) from None
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        if resp.status_code >= 400:
            code, message = "http_error", f"the server answered HTTP {resp.status_code}"
            if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
                err = payload["error"]
                code = str(err.get("code", code))[:64]
                message = str(err.get("message", message))[:300]
            raise SyncError(code, message, resp.status_code)
        if payload is None:
            raise SyncError("bad_answer", f"the server {self.host} sent an answer that is not JSON")
        return payload
