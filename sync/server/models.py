"""The central database: every table the server and the union office share.

Schema notes (read this before writing to the database)
=======================================================

* **Times.** Every ``*_at`` column and ``issued_at``/``created_at`` is UTC epoch
  *milliseconds* (``BigInteger``), the unit of :attr:`sync.records.Record.at`;
  the voucher's own ``iat``/``nbf``/``exp`` stay epoch *seconds* as in the CWT.
  Integers compare the same on SQLite and PostgreSQL and never meet a naive
  ``datetime``. Use :func:`now_ms`.
* **Ids.** ``Voucher.cti`` and ``IssuerKey.kid`` are lower-case hex text, so
  logs, the CLI and JSON show the same string the database holds.
  ``Voucher.short_code`` is the printed ``XXXX-XXXX-XXXX-XXXX`` form.
* **Secrets.** Devices and enrolment codes are stored as SHA-256 hashes only
  (:func:`sync.server.enrolment.hash_secret`); issuer private keys live in 0600
  files named by ``IssuerKey.private_key_path``, never in the database.
* **Feeds.** :class:`FeedEvent` is an append-only log with a dense, monotonic
  ``seq`` (the kiosk's cursor). ``seq`` is handed out by one counter row
  (:class:`FeedHead`) updated with ``UPDATE ... SET seq = seq + n RETURNING``
  inside the writer's transaction: the row lock serializes appenders until
  commit, so a reader can never see event N+1 before event N is committed,
  on PostgreSQL with many server processes as on SQLite. Never insert a
  FeedEvent yourself; call :mod:`sync.server.feeds` (``publish_roster`` etc.).
* **Redemptions** hold every field of :class:`sync.records.Record` plus the
  record hash, the device signature, the settlement ``status``
  (``valid``/``duplicate``/``void``/``rejected``/``review``), ``duplicate_of``
  and chain flags. A voucher's lines are settled as records arrive, never
  re-sorted (docs/settlement.md, :mod:`sync.server.ingest_settle`).
* **Review.** A stored line also has ``flags`` (review codes) and
  ``at_server`` (its time on the server's clock); a flagged line is
  ``review`` until the union decides (``decision``). Records refused on their
  own (bad device signature...) are rows of :class:`Quarantine`, never of
  ``redemption``. Office changes are appended to :class:`AuditEntry`.
* **Rate limits** (enrolment guessing) are rows in :class:`RateLimit`, not
  memory, so several server processes share them.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

FREEZE_REASONS = ("lost", "stolen", "fraud", "replaced")


def now_ms() -> int:
    """Current UTC time in epoch milliseconds (the unit of every *_at column)."""
    return int(time.time() * 1000)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Issuer(Base):
    """A union (or branch) that signs vouchers."""

    __tablename__ = "issuer"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    # printed on the cards (migration 0002): the loss hotline and the after-sales rule
    hotline: Mapped[str | None] = mapped_column(String(64), nullable=True)
    after_sales: Mapped[str | None] = mapped_column(Text, nullable=True)


class IssuerKey(Base):
    """An issuer's Ed25519 key; ``active`` keys are trusted by kiosks (key feed)."""

    __tablename__ = "issuer_key"
    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    issuer_code: Mapped[str] = mapped_column(ForeignKey("issuer.code"), index=True)
    public_raw: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class Voucher(Base):
    """One issued voucher. ``token`` is the full QR text (``CP1:...``)."""

    __tablename__ = "voucher"
    cti: Mapped[str] = mapped_column(String(20), primary_key=True)
    short_code: Mapped[str] = mapped_column(String(19), unique=True)
    issuer_code: Mapped[str] = mapped_column(String(64), index=True)
    kid: Mapped[str | None] = mapped_column(String(16), nullable=True)
    member_ref: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    holder: Mapped[str | None] = mapped_column(String(128), nullable=True)
    formats: Mapped[list[str]] = mapped_column(JSON)
    cinemas: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    admissions: Mapped[int] = mapped_column(Integer, default=1)
    campaign: Mapped[str | None] = mapped_column(String(128), nullable=True)
    iat: Mapped[int] = mapped_column(BigInteger)
    nbf: Mapped[int] = mapped_column(BigInteger)
    exp: Mapped[int] = mapped_column(BigInteger)
    token: Mapped[str] = mapped_column(Text)
    batch: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    issued_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    status: Mapped[str] = mapped_column(String(16), default="active")
    freeze_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(20), nullable=True)


class Cinema(Base):
    """A partner cinema; ``code`` is what kiosks and vouchers' ``cinemas`` use.

    ``address``/``phone`` are printed on cards; ``timezone``/``day_starts`` are its
    business day (:mod:`sync.businessday`), told to its counters (migration 0002).
    """

    __tablename__ = "cinema"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    address: Mapped[str] = mapped_column(String(300), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    timezone: Mapped[str] = mapped_column(
        String(64), default="Asia/Shanghai", server_default="Asia/Shanghai"
    )
    day_starts: Mapped[str] = mapped_column(String(5), default="06:00", server_default="06:00")


class Device(Base):
    """An enrolled counter. Its chain head (last seq/hash) lives here, not in memory."""

    __tablename__ = "device"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cinema: Mapped[str] = mapped_column(ForeignKey("cinema.code"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    public_raw: Mapped[bytes] = mapped_column(LargeBinary(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    enrolled_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_contact: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    health: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    chain_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    chain_hash: Mapped[str] = mapped_column(String(64), default="0" * 64)
    # server time of the newest plausible chain record: one claiming an earlier time is out
    # of order (docs/settlement.md)
    chain_at: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class EnrolmentCode(Base):
    """A one-time enrolment code (hash only), valid 24 h, single use."""

    __tablename__ = "enrolment_code"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    cinema: Mapped[str] = mapped_column(ForeignKey("cinema.code"))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RateLimit(Base):
    """A fixed-window counter (e.g. failed enrolments per client address)."""

    __tablename__ = "rate_limit"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Redemption(Base):
    """One uploaded record (redeem or void), exactly once by ``uuid``."""

    __tablename__ = "redemption"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    v: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    voucher: Mapped[str] = mapped_column(String(20), index=True)
    token: Mapped[str] = mapped_column(Text)
    cinema: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(8))
    staff: Mapped[str] = mapped_column(String(64))
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    voids: Mapped[str] = mapped_column(String(36))
    prev: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sig: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    duplicate_of: Mapped[str | None] = mapped_column(String(36), nullable=True)
    problem: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    chain_gap: Mapped[bool] = mapped_column(Boolean, default=False)
    chain_fork: Mapped[bool] = mapped_column(Boolean, default=False)
    # review codes (docs/settlement.md); a line with any is ``review``, not paid
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # ``at`` corrected by the device's measured clock offset (server time): who was first
    at_server: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # the union's decision on a review line: ``accepted`` / ``rejected`` (audited)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # the online channel (migration 0007): NULL for a counter's record
    source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    partner: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    order_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)

    __table_args__ = (
        Index("ix_redemption_device_seq", "device", "seq"),
        # one device's window, for the alert rules (migration 0012)
        Index("ix_redemption_device_at", "device", "at"),
        # the console's month and day counts, read from the index alone (migration 0002)
        Index("ix_redemption_at_counts", "at", "kind", "status", "cinema", "format"),
        Index("ix_redemption_status_kind_voucher", "status", "kind", "voucher"),
    )


class Quarantine(Base):
    """A record refused on its own (bad signature, wrong device, malformed): never settled.

    Kept for the office to investigate (``cinepass-admin devices`` counts
    them); the kiosk keeps its copy too. One row per device and uuid, so a
    kiosk resending it does not grow the table.
    """

    __tablename__ = "quarantine"
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    problem: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(300))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_at: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[int] = mapped_column(BigInteger)
    times: Mapped[int] = mapped_column(Integer, default=1)


class AuditEntry(Base):
    """One append-only line of the office audit log (:mod:`sync.office.audit`)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    # a voucher's trace in the console reads the lines about it (migration 0005)
    __table_args__ = (Index("ix_audit_log_subject", "subject"),)


class FeedHead(Base):
    """The single counter row that hands out FeedEvent.seq (see module notes)."""

    __tablename__ = "feed_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class FeedEvent(Base):
    """One event of a feed; ``seq`` is the global dense cursor.

    ``feed`` is ``revocation`` (action freeze/unfreeze/redeemed/unredeemed),
    ``roster`` (action issued/removed), ``keys`` (action add/retire) or
    ``status`` (a record's settlement status changed; ``device`` says whose).
    """

    __tablename__ = "feed_event"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    feed: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))  # cti hex, kid hex or record uuid
    device: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[int] = mapped_column(BigInteger, default=now_ms)

    __table_args__ = (
        Index("ix_feed_event_feed_seq", "feed", "seq"),
        Index("ix_feed_event_feed_key", "feed", "key"),
    )


class Refusal(Base):
    """One refusal at a counter (times in UTC ms, like every ``*_at`` column)."""

    __tablename__ = "refusals"
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cinema: Mapped[str] = mapped_column(String(64))
    counter: Mapped[str] = mapped_column(String(200), default="")
    staff: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(32))
    voucher: Mapped[str | None] = mapped_column(String(19), nullable=True)
    text_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    format: Mapped[str] = mapped_column(String(8), default="")
    source: Mapped[str] = mapped_column(String(16), default="")
    at: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_refusals_cinema_at", "cinema", "at"),)


class Partner(Base):
    """A ticketing partner of the online API (``cinepass-admin partner add``).

    ``secret`` is the HMAC key itself: verifying ``HMAC-SHA256(secret, ...)``
    needs it, so a hash cannot be kept instead (see docs/online-api.md,
    "The secret at rest"). ``cinemas`` None means every partner cinema.
    """

    __tablename__ = "partner"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(128))
    cinemas: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class OnlineHold(Base):
    """A partner's hold on a voucher: ``held`` until confirmed, released or expired.

    ``active`` is the voucher's cti while the hold is ``held`` and NULL
    otherwise; its UNIQUE constraint is what lets the database, not the
    application, refuse a second live hold of one voucher (NULLs never clash,
    on SQLite as on PostgreSQL).
    """

    __tablename__ = "online_hold"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner: Mapped[str] = mapped_column(String(32), index=True)
    voucher: Mapped[str] = mapped_column(String(20), index=True)
    active: Mapped[str | None] = mapped_column(String(20), nullable=True, unique=True)
    cinema: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(8))
    order_ref: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    record_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class OnlineRequest(Base):
    """An answered ``Idempotency-Key`` of a partner: the same key gets the same answer."""

    __tablename__ = "online_request"
    partner: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[int] = mapped_column(BigInteger, index=True)


class OnlineSignature(Base):
    """A request signature already seen (a replay is refused); pruned after the window."""

    __tablename__ = "online_signature"
    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner: Mapped[str] = mapped_column(String(32))
    at: Mapped[int] = mapped_column(BigInteger, index=True)
