"""Who may see a voucher on the member page: the second factor, guessing limits, the session.

Why each part is what it is:

* **The second factor** is :func:`second_factor`: today the last four
  characters of the member ref the office stored at issue
  (``Voucher.member_ref``; spaces and dashes ignored, any case). Should the
  office later record a phone number at issue, this function is the one
  place it would be compared instead (docs/member-page.md).
* **One path for every failure.** A wrong factor, an unknown code, a code
  that does not even parse and a voucher without a member ref all read one
  voucher row by primary key (a placeholder key when there is none),
  compare two SHA-256 digests in constant time, count one failure and get
  the same words and status: nothing tells whether a code exists.
* **Guessing limits** are rows of ``rate_limit`` (shared with enrolment,
  keys ``member-addr:…`` and ``member-code:…``), so they hold across server
  processes and restarts: :data:`PER_ADDRESS` failures per client address
  (an IPv6 /64 counts as one) and :data:`PER_CODE` per code in
  :data:`WINDOW_MS`; over either, every try is refused, even a right one,
  before the voucher is read. Expired windows are pruned at each failure.
* **The session** is a cookie valid :data:`SESSION_S` seconds:
  ``cti.expiry.mac`` with an HMAC keyed by a digest of the voucher's own QR
  text. That text is a secret only the database holds (and the card), so
  every server process can check the cookie without a shared key file, and
  a reissued voucher's old cookies die with it. The POST forms carry a CSRF
  token: a MAC of the session for the lost report, a double-submit cookie
  for the look-up form (which has no session yet).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sync.errors import CinePassError
from sync.server import feeds
from sync.server.enrolment import client_key
from sync.server.models import RateLimit, Voucher, now_ms
from sync.voucher.errors import VoucherError
from sync.voucher.shortcode import encode_short_code, parse_short_code

WINDOW_MS = 15 * 60 * 1000
PER_ADDRESS = 20
PER_CODE = 5
SESSION_S = 600
#: a primary key no voucher has (a cti is 20 hex digits): read when the code names none
PLACEHOLDER_CTI = "-" * 20


class RateLimited(CinePassError):
    """Too many wrong tries from this address or for this code: wait for the window."""

    http_status = 429

    def __init__(self) -> None:
        super().__init__("rate_limited", "尝试次数过多 / too many tries: wait 15 minutes")


def squeeze(text: str) -> str:
    """What a person typed, without case, spaces or dashes (how codes and factors compare)."""
    return "".join(text.split()).replace("-", "").upper()


def second_factor(v: Voucher) -> str | None:
    """What the member must know besides the code: the last four characters of the member ref."""
    ref = squeeze(v.member_ref or "")
    return ref[-4:] if ref else None


def canonical(code: str) -> tuple[str, str | None]:
    """(the code as counted for its limit, the cti hex it names or None)."""
    text = squeeze(code)[:64]
    try:
        cti = parse_short_code(text)
    except (VoucherError, ValueError):
        return text, None
    return encode_short_code(cti), cti.hex()


def limits(address: str, code: str) -> dict[str, int]:
    """The rate-limit rows one try is counted on, with their limits."""
    digest = hashlib.sha256(code.encode()).hexdigest()[:32]
    return {f"member-addr:{client_key(address)}": PER_ADDRESS, f"member-code:{digest}": PER_CODE}


def over_limit(session: Session, keys: dict[str, int], now: int) -> bool:
    rows = session.scalars(select(RateLimit).where(RateLimit.key.in_(keys)))
    return any(r.window_start > now - WINDOW_MS and r.count >= keys[r.key] for r in rows)


def count_failure(session: Session, keys: dict[str, int], now: int) -> None:
    """One more wrong try on every key (under the feed-head lock: no lost update)."""
    feeds.lock_head(session)
    session.execute(
        delete(RateLimit).where(
            RateLimit.key.like("member-%"), RateLimit.window_start <= now - WINDOW_MS
        )
    )
    for key in keys:
        row = session.get(RateLimit, key)
        if row is None:
            session.add(RateLimit(key=key, window_start=now, count=1))
        else:
            row.count += 1


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def look_up(session: Session, code: str, factor: str, address: str) -> Voucher | None:
    """The voucher when code and factor match; else None, a failure counted (same path).

    Raises :class:`RateLimited` before anything is read when the address or
    the code is over its limit.
    """
    now = now_ms()
    counted, cti = canonical(code)
    keys = limits(address, counted)
    if over_limit(session, keys, now):
        raise RateLimited
    v = session.get(Voucher, cti or PLACEHOLDER_CTI)
    expected = (second_factor(v) if v is not None else None) or secrets.token_hex(16)
    if hmac.compare_digest(digest(squeeze(factor)), digest(expected)):
        return v
    count_failure(session, keys, now)
    return None


def session_key(v: Voucher) -> bytes:
    return hashlib.sha256(b"cinepass-member-session\0" + v.token.encode()).digest()


def mac(v: Voucher, what: str) -> str:
    return hmac.new(session_key(v), what.encode(), hashlib.sha256).hexdigest()


def open_session(v: Voucher, now_s: int | None = None) -> str:
    """The cookie value that shows ``v`` for :data:`SESSION_S` seconds."""
    until = (int(time.time()) if now_s is None else now_s) + SESSION_S
    return f"{v.cti}.{until}.{mac(v, f'session|{v.cti}|{until}')}"


def resume(session: Session, cookie: str, now_s: int | None = None) -> Voucher | None:
    """The voucher a session cookie shows, or None (absent, forged, expired)."""
    cti, _, rest = cookie.partition(".")
    until, _, given = rest.partition(".")
    now = int(time.time()) if now_s is None else now_s
    if not (cti and until.isdigit() and given) or int(until) < now or len(cti) > 20:
        return None
    v = session.get(Voucher, cti)
    if v is None or not hmac.compare_digest(mac(v, f"session|{cti}|{until}"), given):
        return None
    return v


def csrf_of(v: Voucher, cookie: str) -> str:
    """The CSRF token of a session's forms (bound to that cookie)."""
    return mac(v, f"csrf|{cookie}")[:32]


def csrf_ok(expected: str, given: str) -> bool:
    return bool(expected and given) and hmac.compare_digest(expected, given)
