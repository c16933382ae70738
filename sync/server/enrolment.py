"""Enrolling counters: one-time codes, device tokens, and guessing limits.

A code is 60 random bits shown as ``XXXX-XXXX-XXXX`` (Crockford Base32, so
a person can read it over the phone); only its SHA-256 is stored. It works
once, for 24 hours. Guessing is limited by rows in ``rate_limit``, so
several server processes count together: per client (an IPv4 address, an
IPv6 /64: one host holds a whole /64) and per code, 10 failures per 15
minutes each; at that rate a 60-bit code is out of reach. There is no global
cap one client could exhaust to lock everyone else out; ``enrol:*`` only
counts every failure of the window for the office to see. The client is the
TCP peer unless the operator named trusted proxies (``--trusted-proxy``, see
:func:`sync.server.deps.client_addr`). The table stays bounded: expired
windows are pruned on every failure, and once :data:`MAX_RATE_ROWS` clients
are being counted, new ones share one ``enrol:overflow`` row.

The device API token is 256 random bits, given to the kiosk once and stored
here only as its SHA-256: a stolen database does not let anyone upload.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from sync.voucher.shortcode import ALPHABET

from . import feeds
from .errors import ServerError
from .models import Cinema, Device, EnrolmentCode, RateLimit, now_ms

if TYPE_CHECKING:  # the API schemas (pydantic) are not needed to enrol from the admin CLI
    from sync.protocol import Health

CODE_TTL_MS = 24 * 3600 * 1000
RATE_WINDOW_MS = 15 * 60 * 1000
MAX_FAILURES_PER_CLIENT = 10
MAX_FAILURES_PER_CODE = 10
MAX_FAILURES_OVERFLOW = 100
MAX_RATE_ROWS = 10_000


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a code or token (both carry >= 60 random bits: no salt needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalize_code(code: str) -> str:
    """What a person typed -> the canonical code (case, dashes, I/L/O forgiven)."""
    cleaned = code.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.replace("I", "1").replace("L", "1").replace("O", "0")
    return "-".join(cleaned[i : i + 4] for i in range(0, len(cleaned), 4))


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return normalize_code(raw)


def create_code(session: Session, cinema: str, *, ttl_ms: int = CODE_TTL_MS) -> str:
    """Make a one-time enrolment code for ``cinema``; returns the code (shown once)."""
    if session.get(Cinema, cinema) is None:
        raise ServerError("unknown_cinema", f"no cinema with code {cinema!r}", 404)
    code = new_code()
    t = now_ms()
    session.add(
        EnrolmentCode(
            code_hash=hash_secret(code), cinema=cinema, created_at=t, expires_at=t + ttl_ms
        )
    )
    return code


def _over_limit(session: Session, key: str, limit: int, t: int) -> bool:
    row = session.get(RateLimit, key)
    return row is not None and row.window_start > t - RATE_WINDOW_MS and row.count >= limit


def _count_failure(session: Session, key: str, t: int) -> None:
    row = session.get(RateLimit, key)
    if row is None:
        session.add(RateLimit(key=key, window_start=t, count=1))
    elif row.window_start <= t - RATE_WINDOW_MS:
        row.window_start, row.count = t, 1
    else:
        row.count += 1


def client_key(client: str) -> str:
    """The rate-limit key of a client: its IPv4 address, or its IPv6 /64."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return f"enrol:{client[:64]}"
    if ip.version == 6 and ip.ipv4_mapped is None:
        return f"enrol:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"enrol:{ip.ipv4_mapped or ip}" if ip.version == 6 else f"enrol:{ip}"


def code_key(code: str) -> str:
    return "enrol-code:" + hash_secret(normalize_code(code))[:32]


def _rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(RateLimit)) or 0


def _client_row(session: Session, client: str, rows: int) -> str:
    """The key this client is counted under (the overflow row once the table is full)."""
    key = client_key(client)
    if rows < MAX_RATE_ROWS or session.get(RateLimit, key) is not None:
        return key
    return "enrol:overflow"


def check_rate(session: Session, client: str, code: str = "") -> None:
    """Refuse (429) a client or a code over its limit, before the code is looked up."""
    t = now_ms()
    key = _client_row(session, client, _rows(session))
    limit = MAX_FAILURES_OVERFLOW if key == "enrol:overflow" else MAX_FAILURES_PER_CLIENT
    if _over_limit(session, key, limit, t) or (
        code and _over_limit(session, code_key(code), MAX_FAILURES_PER_CODE, t)
    ):
        raise ServerError(
            "rate_limited",
            "too many wrong enrolment codes; wait 15 minutes and ask the union office for a new code",
            429,
        )


def record_failure(session: Session, client: str, code: str = "") -> None:
    """Count one wrong/expired/used code (commit it even though the request fails)."""
    feeds.lock_head(session)  # read-modify-write of shared rows: one writer at a time
    t = now_ms()
    session.execute(delete(RateLimit).where(RateLimit.window_start <= t - RATE_WINDOW_MS))
    rows = _rows(session)
    _count_failure(session, _client_row(session, client, rows), t)
    if code and (rows < MAX_RATE_ROWS or session.get(RateLimit, code_key(code)) is not None):
        _count_failure(session, code_key(code), t)  # a full table: the client limit still holds
    _count_failure(session, "enrol:*", t)  # seen by the office, never a limit


def enrol(session: Session, code: str, public_raw: bytes, name: str) -> tuple[Device, str, Cinema]:
    """Redeem an enrolment code: a new device, its token (returned once) and its cinema.

    Raises ServerError ``bad_code`` / ``code_expired`` / ``code_used``; the
    caller counts those as failures (see :func:`record_failure`).
    """
    feeds.lock_head(session)  # serialize with other enrolments (single use under races)
    row = session.scalars(
        select(EnrolmentCode).where(EnrolmentCode.code_hash == hash_secret(normalize_code(code)))
    ).one_or_none()
    t = now_ms()
    if row is None:
        raise ServerError("bad_code", "this enrolment code is not known: check it for typos", 403)
    if row.used_at is not None:
        session.execute(
            update(EnrolmentCode)
            .where(EnrolmentCode.id == row.id)
            .values(attempts=EnrolmentCode.attempts + 1)
        )
        raise ServerError(
            "code_used", "this enrolment code was already used; ask for a new one", 403
        )
    if row.expires_at <= t:
        row.attempts += 1
        raise ServerError("code_expired", "this enrolment code has expired; ask for a new one", 403)
    cinema = session.get(Cinema, row.cinema)
    if cinema is None:
        raise ServerError("unknown_cinema", "the code's cinema no longer exists", 403)
    token = secrets.token_urlsafe(32)
    device = Device(
        id="dev-" + secrets.token_hex(6),
        cinema=row.cinema,
        name=name,
        public_raw=public_raw,
        token_hash=hash_secret(token),
        status="active",
        enrolled_at=t,
        last_contact=t,
    )
    session.add(device)
    row.used_at = t
    row.device_id = device.id
    row.attempts += 1
    return device, token, cinema


def authenticate(session: Session, authorization: str | None) -> Device:
    """The device behind ``Authorization: Bearer <token>``; 401/403 otherwise."""
    if not authorization or not authorization.startswith("Bearer "):
        raise ServerError("unauthorized", "a device token is required (enrol this kiosk)", 401)
    token = authorization[len("Bearer ") :].strip()
    if not token or len(token) > 200:
        raise ServerError("unauthorized", "the device token is not valid", 401)
    device = session.scalars(
        select(Device).where(Device.token_hash == hash_secret(token))
    ).one_or_none()
    if device is None:
        raise ServerError("unauthorized", "the device token is not valid", 401)
    if device.status != "active":
        raise ServerError(
            "device_revoked",
            "this counter was disconnected by the union office (device revoked); "
            "its unsynced records are kept on the kiosk",
            403,
        )
    return device


def note_contact(session: Session, device_id: str, health: Health) -> None:
    """Remember when a counter last spoke and what it said about itself (``devices`` shows it)."""
    device = session.get(Device, device_id)
    if device is not None:
        device.last_contact = now_ms()
        device.health = health.model_dump()
