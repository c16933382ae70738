"""Online partners: adding, listing and revoking them, and authenticating their requests.

A partner (a cinema's web shop or a ticketing platform) gets an id and a
secret once, from ``cinepass-admin partner add``. Every request it makes to
``/api/v1/online/`` is signed with ``HMAC-SHA256(secret, ...)`` over the
method, path, timestamp and body hash (:func:`sync.partner_client.signature`,
the one definition, which integrators copy). The server must hold the secret
itself to check that: it is kept in the ``partner`` table of the 0600 central
database, never printed again, never logged (docs/online-api.md explains why
this beats encrypting it with a key kept on the same disk).

A signature is accepted once: :func:`authenticate` records it in
``online_signature`` (primary key = the signature), so a replay within the
timestamp window is refused by the database even across server processes.
The API records it in the request's own transaction (one commit per request,
not two: on SQLite each commit is an fsync every writer waits for) and, when
the request is refused and rolled back, at once after in a transaction of
its own (:func:`spend`);
rows older than twice the window are pruned by :func:`prune_signatures`
(called under the feed-head lock by the API's sweep, at most once a second per
server process, so two pruning transactions never lock the same rows in
different orders). The partner's row and the signature are read and written
with statements built once (SQLAlchemy Core): every request runs them.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync.partner_client import signature
from sync.server.models import OnlineSignature, Partner, now_ms

from .cinemas import check_cinemas
from .errors import OfficeError
from .issuers import one_line

#: ``X-CinePass-Timestamp`` may differ from the server's clock by this much.
WINDOW_S = 300
SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")


class OnlineError(OfficeError):
    """A refused online request: ``{"error": reason, "message": ...}`` with its HTTP status."""

    def __init__(self, reason: str, message: str, http_status: int = 409) -> None:
        super().__init__(reason, message, http_status=http_status)


@dataclass(frozen=True)
class PartnerIdentity:
    """The authenticated partner behind a request, and the signature that proved it."""

    id: str
    name: str
    cinemas: tuple[str, ...] | None
    signature: str

    def allows(self, cinema: str) -> bool:
        return self.cinemas is None or cinema in self.cinemas


def add_partner(session: Session, name: str, cinemas: tuple[str, ...] = ()) -> tuple[Partner, str]:
    """A new active partner for ``cinemas`` (none: every cinema); returns (row, secret)."""
    text = one_line(name, "--name", 200)
    if not text:
        raise OfficeError("bad_name", "--name 不能为空 / --name must not be empty")
    codes = tuple(dict.fromkeys(c.strip() for c in cinemas if c.strip()))
    check_cinemas(session, codes or None)
    secret = secrets.token_urlsafe(32)
    partner = Partner(
        id=f"pt_{secrets.token_hex(6)}",
        name=text,
        secret=secret,
        cinemas=list(codes) or None,
        status="active",
        created_at=now_ms(),
    )
    session.add(partner)
    session.flush()
    return partner, secret


def list_partners(session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.created_at, Partner.id)))


def get_partner(session: Session, partner_id: str) -> Partner:
    partner = session.get(Partner, partner_id.strip())
    if partner is None:
        raise OfficeError(
            "unknown_partner",
            f"没有此合作方 / no partner {partner_id.strip()!r} (see `cinepass-admin partner list`)",
        )
    return partner


def revoke_partner(session: Session, partner_id: str) -> Partner:
    """Refuse every later request of the partner (its holds still expire as usual)."""
    partner = get_partner(session, partner_id)
    if partner.status == "revoked":
        raise OfficeError("already_revoked", f"partner {partner.id} is already revoked")
    partner.status, partner.revoked_at = "revoked", now_ms()
    return partner


def partner_json(p: Partner) -> dict[str, object]:
    """What ``partner list --json`` shows of a partner (never the secret)."""
    return {
        "id": p.id,
        "name": p.name,
        "cinemas": p.cinemas,
        "status": p.status,
        "created_at": p.created_at,
        "revoked_at": p.revoked_at,
    }


# Built once: every request runs these two (SQLAlchemy Core on the session's connection,
# without the ORM's per-statement work: see docs/online-api.md, "Speed").
_PARTNER = cast(Table, Partner.__table__)
PARTNER_ROW = select(
    _PARTNER.c.id, _PARTNER.c.name, _PARTNER.c.secret, _PARTNER.c.cinemas, _PARTNER.c.status
).where(_PARTNER.c.id == bindparam("id"))
SPEND = insert(cast(Table, OnlineSignature.__table__))


def prune_signatures(session: Session, now: int) -> None:
    """Forget signatures older than twice the window: their timestamps are refused anyway."""
    session.execute(delete(OnlineSignature).where(OnlineSignature.at < now - 2 * WINDOW_S * 1000))


def _unauthenticated(message: str) -> OnlineError:
    return OnlineError("bad_signature", message, http_status=401)


def authenticate(
    session: Session,
    *,
    partner_id: str | None,
    timestamp: str | None,
    sig: str | None,
    method: str,
    path: str,
    body: bytes,
    now_s: int | None = None,
    commit: bool = True,
) -> PartnerIdentity:
    """Check the three headers of a request and spend its signature.

    Order: all headers present, timestamp within :data:`WINDOW_S`, partner
    known and signature right (one answer, ``bad_signature``, for an unknown
    partner and a wrong secret), partner active, signature not seen before.
    With ``commit`` the seen signature is committed at once, so a request
    that later fails still cannot be replayed; without, it is flushed into
    the caller's transaction (a concurrent replay waits on its row, then is
    refused) and the caller must :func:`spend` it again if it rolls back.
    A retry is signed anew.
    """
    if not partner_id or not timestamp or not sig:
        raise _unauthenticated(
            "缺少签名 / X-CinePass-Partner, X-CinePass-Timestamp and X-CinePass-Signature "
            "are required"
        )
    now = now_ms() // 1000 if now_s is None else now_s
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise OnlineError("stale_timestamp", "X-CinePass-Timestamp must be UNIX seconds", 401)
    if abs(now - int(timestamp)) > WINDOW_S:
        raise OnlineError(
            "stale_timestamp",
            f"请求时间不对 / X-CinePass-Timestamp is more than {WINDOW_S} s from the server's "
            f"clock ({now})",
            401,
        )
    partner = session.connection().execute(PARTNER_ROW, {"id": partner_id[:32]}).first()
    sig = sig.strip().lower()
    if partner is None or not SIGNATURE_RE.match(sig):
        raise _unauthenticated("签名无效 / the signature does not match")
    expected = signature(partner.secret, method, path, timestamp, body)
    if not hmac.compare_digest(expected, sig):
        raise _unauthenticated("签名无效 / the signature does not match")
    if partner.status != "active":
        raise OnlineError("partner_revoked", "合作方已停用 / this partner was revoked", 403)
    identity = PartnerIdentity(
        partner.id,
        partner.name,
        tuple(partner.cinemas) if partner.cinemas is not None else None,
        sig,
    )
    try:
        spend(session, identity)
        if commit:
            session.commit()
    except IntegrityError:
        session.rollback()
        raise OnlineError(
            "replayed", "重复的请求 / this signature was already used: sign each request anew", 401
        ) from None
    return identity


def spend(session: Session, identity: PartnerIdentity) -> None:
    """Record the request's signature as seen (IntegrityError: it was seen before)."""
    row = {"signature": identity.signature, "partner": identity.id, "at": now_ms()}
    session.connection().execute(SPEND, row)
