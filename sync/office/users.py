"""The office's people: console accounts, their passwords, lockout, TOTP and sessions.

Plain functions over a session like the rest of :mod:`sync.office`, so the
admin CLI (``cinepass-admin user ...``) and the web console share one set of
rules. Why each rule is what it is:

* **Passwords** are argon2id hashes (``argon2-cffi``): memory-hard, so a stolen
  database does not give the passwords away cheaply. Nothing else is stored.
* **Lockout**: :data:`MAX_FAILURES` wrong passwords in a row lock the account
  for :data:`LOCK_S` seconds, also against the right password, so guessing
  online is too slow to matter. The count lives in the row (not in memory),
  so several server processes share it.
* **TOTP** (``pyotp``, RFC 6238) is optional per account; once enabled, a
  login needs the current six digits too.
* **Roles** decide which console pages a person may open (see
  :data:`ROLES`); a ``cinema`` account belongs to exactly one cinema and sees
  only its own redemptions and statements.
* **Console sessions** are rows holding only the SHA-256 of the cookie value,
  the CSRF token and the last time they were used: a session idle for
  :data:`IDLE_S` seconds is gone, whichever server process answers next.

:func:`check_login` does not raise on a wrong password: it *returns* the
refusal, because the failure count it just raised must be committed by the
caller (a raised error would roll it back and make the lockout useless).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import BigInteger, Boolean, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from sync.server.models import Base, Cinema, now_ms

from . import audit
from .errors import OfficeError
from .rows import get_or_refuse

#: admin: everything; operator: vouchers and counters; auditor: reads and exports
#: everything; cinema: its own cinema's redemptions and statements.
ROLES = ("admin", "operator", "auditor", "cinema")
MAX_FAILURES = 5
LOCK_S = 15 * 60
IDLE_S = 30 * 60
MIN_PASSWORD = 8
NAME_MAX = 64
TOUCH_MS = 30_000  # last_seen is refreshed at most this often (idle time is ±30 s)

_hasher = PasswordHasher()
_dummy_hash: list[str] = []  # computed once: unknown names cost as much as known ones


class ConsoleUser(Base):
    """A person who logs in to the console (name is the login)."""

    __tablename__ = "console_user"
    name: Mapped[str] = mapped_column(String(NAME_MAX), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    cinema: Mapped[str | None] = mapped_column(String(64), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    last_login: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ConsoleSession(Base):
    """A logged-in browser: the cookie's SHA-256, its CSRF token, its last use."""

    __tablename__ = "console_session"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(NAME_MAX), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    last_seen: Mapped[int] = mapped_column(BigInteger, default=now_ms)


def _public(u: ConsoleUser) -> dict[str, Any]:
    """What ``user list`` and the audit log show of an account (never the hash)."""
    return {
        "name": u.name,
        "role": u.role,
        "cinema": u.cinema,
        "disabled": bool(u.disabled),
        "totp": u.totp_secret is not None,
        "locked_until": u.locked_until,
        "last_login": u.last_login,
    }


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OfficeError("weak_password", f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise OfficeError("weak_password", "a password may have at most 1024 characters")


def get_user(session: Session, name: str) -> ConsoleUser:
    return get_or_refuse(
        session, ConsoleUser, name, "unknown_user", f"没有此用户 / no console user {name!r}"
    )


def add_user(
    session: Session,
    name: str,
    role: str,
    password: str,
    *,
    cinema: str | None = None,
    actor: str,
    address: str = "",
) -> ConsoleUser:
    """Create an account; a ``cinema`` account must name a known cinema, others none."""
    name = name.strip()
    if not name or len(name) > NAME_MAX or any(c.isspace() for c in name):
        raise OfficeError("bad_name", f"a user name has 1 to {NAME_MAX} characters, no spaces")
    if role not in ROLES:
        raise OfficeError("bad_role", f"--role must be one of {', '.join(ROLES)}")
    if role == "cinema":
        if not cinema:
            raise OfficeError("no_cinema", "a cinema account needs --cinema CODE")
        if session.get(Cinema, cinema) is None:
            raise OfficeError("unknown_cinema", f"no cinema with code {cinema!r}")
    elif cinema:
        raise OfficeError("bad_cinema", "--cinema is only for the cinema role")
    if session.get(ConsoleUser, name) is not None:
        raise OfficeError("user_exists", f"console user {name} already exists")
    _check_password(password)
    user = ConsoleUser(
        name=name,
        role=role,
        cinema=cinema,
        password_hash=_hasher.hash(password),
        disabled=False,
        failures=0,
        created_at=now_ms(),
    )
    session.add(user)
    audit.record(
        session, actor=actor, action="user.add", subject=name, after=_public(user), address=address
    )
    return user


def set_password(
    session: Session, name: str, password: str, *, actor: str, address: str = ""
) -> None:
    """A new password; it also lifts a lockout (the admin vouched for the person)."""
    user = get_user(session, name)
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    user.failures, user.locked_until = 0, None
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_name == user.name))
    audit.record(session, actor=actor, action="user.passwd", subject=user.name, address=address)


def disable_user(session: Session, name: str, *, actor: str, address: str = "") -> None:
    """Block an account and end its open sessions at once."""
    user = get_user(session, name)
    if user.disabled:
        raise OfficeError("already_disabled", f"console user {user.name} is already disabled")
    before = _public(user)
    user.disabled = True
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_name == user.name))
    _audit_change(session, user, "user.disable", before, actor=actor, address=address)


def set_totp(
    session: Session, name: str, enable: bool, *, actor: str, address: str = ""
) -> str | None:
    """Turn the second factor on (returns the new base32 secret) or off (returns None)."""
    user = get_user(session, name)
    before = _public(user)
    user.totp_secret = pyotp.random_base32() if enable else None
    _audit_change(session, user, "user.totp", before, actor=actor, address=address)
    return user.totp_secret


def _audit_change(
    session: Session, user: ConsoleUser, action: str, before: Any, *, actor: str, address: str
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=user.name,
        before=before,
        after=_public(user),
        address=address,
    )


def totp_uri(user: ConsoleUser, issuer: str = "CinePass") -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR or typed)."""
    if not user.totp_secret:
        raise OfficeError("no_totp", f"console user {user.name} has no second factor")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.name, issuer_name=issuer)


def list_users(session: Session) -> list[dict[str, Any]]:
    return [_public(u) for u in session.scalars(select(ConsoleUser).order_by(ConsoleUser.name))]


@dataclass(frozen=True)
class LoginResult:
    """``user`` on success; else ``reason``: bad_login, locked, disabled, totp_required,
    bad_totp, totp_setup_required (an admin without a second factor where one is required)."""

    user: ConsoleUser | None
    reason: str = ""
    locked_until: int | None = None


def _verify(hash_: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(hash_, password))
    except (VerificationError, InvalidHashError):
        return False


def check_login(
    session: Session,
    name: str,
    password: str,
    totp: str = "",
    *,
    address: str = "",
    now: int | None = None,
    admin_totp: bool = False,
) -> LoginResult:
    """Check a login attempt and count a failure; the caller commits either way.

    ``admin_totp``: the deployment requires a second factor of every ``admin``
    (an admin who has none is refused until ``user totp NAME`` gave one).
    """
    now = now_ms() if now is None else now
    user = session.get(ConsoleUser, name.strip()) if name.strip() else None
    if user is None:
        if not _dummy_hash:
            _dummy_hash.append(_hasher.hash(secrets.token_hex(8)))
        _verify(_dummy_hash[0], password)
        return LoginResult(None, "bad_login")
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, "locked", user.locked_until)
    if not _verify(user.password_hash, password):
        user.failures = (user.failures or 0) + 1
        if user.failures >= MAX_FAILURES:
            user.failures, user.locked_until = 0, now + LOCK_S * 1000
            audit.record(
                session, actor=user.name, action="user.locked", subject=user.name, address=address
            )
            return LoginResult(None, "locked", user.locked_until)
        return LoginResult(None, "bad_login")
    if user.disabled:
        return LoginResult(None, "disabled")
    if admin_totp and user.role == "admin" and not user.totp_secret:
        return LoginResult(None, "totp_setup_required")
    if user.totp_secret:
        if not totp.strip():
            return LoginResult(None, "totp_required")
        if not pyotp.TOTP(user.totp_secret).verify(totp.strip(), valid_window=1):
            user.failures = (user.failures or 0) + 1
            return LoginResult(None, "bad_totp")
    user.failures, user.locked_until, user.last_login = 0, None, now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return LoginResult(user)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: ConsoleUser, address: str = "") -> tuple[str, str]:
    """Start a console session: returns (cookie value, CSRF token); only a hash is stored."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    t = now_ms()
    session.add(
        ConsoleSession(
            token_hash=_hash_token(token),
            user_name=user.name,
            csrf=csrf,
            address=address[:64],
            created_at=t,
            last_seen=t,
        )
    )
    return token, csrf


def resume_session(
    session: Session, token: str, *, now: int | None = None
) -> tuple[ConsoleUser, ConsoleSession] | None:
    """The session's user if the cookie is known, not idle too long, and the user enabled."""
    if not token or len(token) > 128:
        return None
    now = now_ms() if now is None else now
    row = session.get(ConsoleSession, _hash_token(token))
    if row is None:
        return None
    user = session.get(ConsoleUser, row.user_name)
    if user is None or user.disabled or now - row.last_seen > IDLE_S * 1000:
        session.delete(row)
        return None
    if now - row.last_seen > TOUCH_MS:  # a poll every 2 s need not write every 2 s
        row.last_seen = now
    return user, row


def close_session(session: Session, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash_token(token)))
