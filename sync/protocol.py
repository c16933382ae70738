"""The JSON API between kiosk and server (``/api/v1/``): one set of schemas for both.

The server validates request bodies with these models; the kiosk validates
the server's answers with them too, because a 200 with the wrong shape is a
failed attempt, not data. Limits here are part of the contract: a batch
holds at most :data:`MAX_BATCH` records and a body at most :data:`MAX_BODY`
bytes. Bytes travel as lower-case hex; times are epoch milliseconds.
Records themselves are parsed by :meth:`sync.records.Record.from_json`
(the one record format), so they are plain JSON objects here.

Endpoints (all JSON; device endpoints need ``Authorization: Bearer <token>``)::

    GET  /api/v1/health                      ServerInfo (no auth)
    POST /api/v1/enrol                       EnrolRequest -> EnrolResponse (no auth;
                                             wrong codes are rate-limited, 429)
    POST /api/v1/device/hello                DeviceHello -> DeviceInfo (health, clock,
                                             the cinema's business day)
    POST /api/v1/records                     UploadRequest -> UploadResponse, one
                                             RecordResult per record sent, same order
    POST /api/v1/refusals                    RefusalUpload -> RefusalAck: the counter's
                                             refusal log, stored once per (device, id)
    GET  /api/v1/feeds/{feed}?since=&limit=  FeedPage of events after the cursor
                                             (revocation, roster, keys, status)
    GET  /api/v1/feeds/{feed}/snapshot       FeedPage with the whole current state
    GET  /api/v1/feeds/{feed}/snapshot?limit=&after=&format=packed
                                             the same state in pages (revocation, roster):
                                             ``next`` is the token of the next page, the
                                             cursor the same on every page; ``packed`` the
                                             column-wise entries (PackedRevocations,
                                             PackedRoster). docs/feeds.md
    GET  /api/v1/feeds/peers/snapshot        FeedPage of PeerOut: the counters of the
                                             caller's cinema (docs/lan-peers.md)
    GET  /api/v1/openapi.json                the schema

Errors are ``{"error": {"code", "message"}}``: 400 bad_json (not JSON, or
nested beyond what a parser takes), 401 unauthorized,
403 device_revoked / bad_code / code_used / code_expired, 404, 413 too_large,
422 invalid_request / bad_text (a lone surrogate anywhere in the body) /
bad_record (an item with no uuid: the whole batch) / bad_page_token (a
snapshot page token this server did not make: start the snapshot again),
429 rate_limited, 503 database_unavailable. A kiosk treats any of them, and
any answer that does not fit these models, as a failed attempt.

A record that fails its own checks does not refuse the batch: it is answered
alone, ``status: "rejected"`` with its ``problem`` (``bad_device_signature``,
``bad_record``, ``wrong_device``, ...), and quarantined on the server; a
record the server re-checked and doubts is ``review`` with ``flags`` (the
codes and the settlement rules are in docs/settlement.md).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

API_PREFIX = "/api/v1"
MAX_BATCH = 1000
MAX_BODY = 2 * 1024 * 1024
FEED_NAMES = ("revocation", "roster", "keys", "status")
#: the counters of the caller's own cinema (snapshot only: a handful of rows)
PEERS_FEED = "peers"
#: a LAN listen address as a counter reports it: ``HOST:PORT`` (an IPv4 or IPv6 address, or a name)
LISTEN_PATTERN = r"^$|^[0-9A-Za-z.\-:\[\]]{1,253}:[0-9]{1,5}$"

Hex64 = Field(pattern=r"^[0-9a-f]{64}$")


_SUSPECT = re.compile("[\x00\ud800-\udfff]")


def _check_text(value: Any, depth: int = 0) -> None:
    """Refuse NUL characters and lone surrogates anywhere, keys and unknown fields included.

    PostgreSQL text cannot hold NUL (and no one means it). A lone surrogate
    (``"\\ud800"`` is legal JSON) is no character at all: it cannot be
    encoded as UTF-8, so storing it would crash whoever reads it back (the
    admin CLI, a report). It is refused as ``bad_text`` before anything is
    stored. After JSON parsing a valid surrogate *pair* is one character, so
    any surrogate code point left is a lone one.
    """
    if isinstance(value, str):
        if _SUSPECT.search(value) is None:
            return
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        raise PydanticCustomError(
            "bad_text", "text must be valid Unicode (a lone surrogate was sent)"
        )
    elif depth > 32:
        raise ValueError("nested too deeply")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, depth + 1)
            _check_text(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_text(v, depth + 1)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_bad_text(cls, data: Any) -> Any:
        _check_text(data)
        return data


class ErrorBody(_Model):
    code: str
    message: str


class ErrorResponse(_Model):
    error: ErrorBody


class Health(_Model):
    """What a kiosk reports about itself on every sync (shown by ``cinepass-admin devices``).

    The named fields are the contract; other facts the kiosk adds (OS,
    free disk, newest backup: see kiosk.ops.health) are kept as they come,
    bounded by the request size limit. ``quarantined`` (optional, added for
    issue 10) counts this counter's records the server answered ``rejected``:
    kept on the kiosk, never resent. ``listen`` (optional, issue 15) is the
    ``HOST:PORT`` its LAN peer service listens on ("" when none runs): the
    server passes it on in the ``peers`` feed.
    """

    model_config = ConfigDict(extra="allow")

    version: str = Field(default="", max_length=64)
    pending: int = Field(default=0, ge=0, le=10**9)
    clock_offset_ms: int = Field(default=0, ge=-(10**12), le=10**12)
    last_error: str = Field(default="", max_length=500)
    quarantined: int = Field(default=0, ge=0, le=10**9)
    listen: str = Field(default="", max_length=260, pattern=LISTEN_PATTERN)


class PeerOut(_Model):
    """One counter of the caller's cinema in the ``peers`` feed (the caller itself included).

    The kiosk trusts LAN messages only from the keys listed here (and not
    ``revoked``); ``address`` is the last ``listen`` the counter reported.
    """

    device: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$")
    address: str = Field(default="", max_length=260, pattern=LISTEN_PATTERN)
    status: Literal["active", "revoked"] = "active"


class TrustedKeyOut(_Model):
    kid: str = Field(pattern=r"^[0-9a-f]{16}$")
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$")
    issuer: str = Field(max_length=64)
    active: bool = True


class RevocationOut(_Model):
    cti: str = Field(pattern=r"^[0-9a-f]{20}$")
    #: ``held``/``released`` (issue 14): an online partner holds the voucher until ``at``
    action: Literal["freeze", "unfreeze", "redeemed", "unredeemed", "held", "released"]
    reason: str = Field(default="", max_length=32)
    at: int = 0
    cinema: str = Field(default="", max_length=64)
    device: str = Field(default="", max_length=64)
    staff: str = Field(default="", max_length=64)


class RosterOut(_Model):
    cti: str = Field(pattern=r"^[0-9a-f]{20}$")
    token: str = Field(max_length=2048)
    removed: bool = False


class FirstUse(_Model):
    """Where the valid redemption a duplicate loses to happened."""

    uuid: str = Field(max_length=36)
    cinema: str = Field(default="", max_length=64)
    device: str = Field(default="", max_length=64)
    staff: str = Field(default="", max_length=64)
    at: int = 0


LineStatus = Literal["valid", "duplicate", "void", "rejected", "review"]
"""The settlement status of one stored line (docs/settlement.md).

``valid`` is clean and payable; ``review`` is kept and shown but not paid
until the union decides (its ``flags`` say why); ``rejected`` failed its
signature or chain check and is quarantined (``problem`` says why).
"""


class StatusOut(_Model):
    """A settlement status change of one of *this device's* records."""

    uuid: str = Field(max_length=36)
    status: LineStatus
    flags: list[str] = Field(default_factory=list, max_length=32)
    duplicate_of: str | None = Field(default=None, max_length=36)
    first: FirstUse | None = None
    conflict_with: str | None = Field(default=None, max_length=36)


class FeedPage(_Model):
    """A page of a feed. ``next`` (paged snapshots only, docs/feeds.md): the token that
    asks for the next page; absent or null on the last page and from older servers."""

    feed: str
    cursor: int = Field(ge=0)
    more: bool = False
    snapshot: bool = False
    entries: list[dict[str, Any]]
    next: str | None = Field(default=None, max_length=64)


class _Packed(BaseModel):
    """Column-wise snapshot entries (``format=packed``, docs/feeds.md).

    Not a :class:`_Model`: walking a million numbers one Python call at a time
    is what packing avoids, so the texts are checked in one pass over the
    ``strings`` table (every text of the page once) and the columns by their
    types, in pydantic's compiled core.
    """

    model_config = ConfigDict(extra="ignore", strict=True)
    cti: str = Field(pattern=r"^(?:[0-9a-f]{20})*$")

    @property
    def rows(self) -> int:
        return len(self.cti) // 20

    def _same_length(self, *columns: list[Any] | str) -> None:
        if any(len(c) != self.rows for c in columns):
            raise ValueError("packed columns of different lengths")


class PackedRevocations(_Packed):
    """``action``: one letter a row, ``f`` freeze (an online hold too: reason
    ``held``, ``at`` when it lapses) or ``r`` redeemed; ``reason``,
    ``cinema``, ``device``, ``staff``: indices into ``strings``; ``at``: ms."""

    action: str = Field(pattern=r"^[fr]*$")
    at: list[int]
    strings: list[str] = Field(max_length=200_000)
    reason: list[int]
    cinema: list[int]
    device: list[int]
    staff: list[int]

    @model_validator(mode="after")
    def _check(self) -> PackedRevocations:
        self._same_length(self.action, self.at, self.reason, self.cinema, self.device, self.staff)
        if _SUSPECT.search("\x01".join(self.strings)) or any(len(t) > 64 for t in self.strings):
            raise ValueError("packed strings: NUL, a lone surrogate or longer than 64")
        n = len(self.strings)
        for col in (self.reason, self.cinema, self.device, self.staff):
            if col and (min(col) < 0 or max(col) >= n):
                raise ValueError("packed index outside the strings")
        if self.reason and max(len(self.strings[i]) for i in set(self.reason)) > 32:
            raise ValueError("packed reason longer than 32")
        return self


class PackedRoster(_Packed):
    """``token``: the QR text of each voucher, in ``cti`` order."""

    token: list[str]

    @model_validator(mode="after")
    def _check(self) -> PackedRoster:
        self._same_length(self.token)
        text = "".join(self.token)
        if not text.isascii() or "\x00" in text or any(len(t) > 2048 for t in self.token):
            raise ValueError("packed tokens: not ASCII QR texts of at most 2048 characters")
        return self


class EnrolRequest(_Model):
    code: str = Field(min_length=1, max_length=64)
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str = Field(default="", max_length=200)
    #: "paged": answer with the cursors only, the counter pulls the snapshot pages itself
    #: (docs/feeds.md); an older counter sends nothing and gets the whole snapshot
    snapshots: Literal["whole", "paged"] = "whole"


#: The cinema's business day (sync.businessday), in the enrolment and hello answers;
#: an older server sends neither and the kiosk keeps the defaults.
TimezoneField = Field(default="Asia/Shanghai", max_length=64)
DayStartsField = Field(default="06:00", pattern=r"^([01]?\d|2[0-3]):[0-5]\d$")


class EnrolResponse(_Model):
    device_id: str
    cinema: str
    cinema_name: str = ""
    timezone: str = TimezoneField
    day_starts: str = DayStartsField
    token: str
    keys: list[TrustedKeyOut]
    revocations: FeedPage
    roster: FeedPage
    time_ms: int


class DeviceHello(_Model):
    health: Health = Field(default_factory=Health)


class DeviceInfo(_Model):
    device_id: str
    cinema: str
    status: Literal["active", "revoked"]
    time_ms: int
    timezone: str = TimezoneField
    day_starts: str = DayStartsField


class UploadRequest(_Model):
    records: list[dict[str, Any]] = Field(max_length=MAX_BATCH)
    health: Health | None = None


class RecordResult(_Model):
    """The server's answer for one uploaded record, in the order sent.

    ``flags`` are the review codes (``out_of_scope``, ``disputed``, ...) of a
    ``review`` line; ``problem`` is the reason a ``rejected`` record was
    quarantined (``bad_device_signature``, ``bad_record``, ...). A kiosk keeps
    a rejected record and keeps uploading the rest.
    """

    uuid: str
    status: LineStatus
    flags: list[str] = Field(default_factory=list, max_length=32)
    duplicate_of: str | None = None
    first: FirstUse | None = None
    problem: str | None = None


class UploadResponse(_Model):
    results: list[RecordResult]
    time_ms: int


class ServerInfo(_Model):
    status: Literal["ok"] = "ok"
    version: str
    time_ms: int


SHORT_CODE_PATTERN = r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$"


class RefusalIn(_Model):
    """One refusal at a counter (``POST /api/v1/refusals``): what the office's log holds.

    ``id`` (a uuid made by the kiosk) makes the upload idempotent: the server
    stores each (device, id) once. ``reason`` is a verdict reason
    (``kiosk.engine.verdict.REASONS``: ``expired``, ``bad_signature``,
    ``device_revoked``...). ``voucher`` is the short code only when the
    voucher's signature was verified; for an unreadable, unknown or forged
    code only ``text_hash`` (SHA-256 hex of the scanned text) is sent, never
    the text. The cinema and device are the authenticated device's, never
    taken from the body.
    """

    id: str = Field(min_length=1, max_length=36)
    at: int = Field(ge=0, le=10**14)
    reason: str = Field(pattern=r"^[a-z_]{1,32}$")
    voucher: str | None = Field(default=None, pattern=SHORT_CODE_PATTERN)
    text_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    format: str = Field(default="", max_length=8)
    staff: str = Field(default="", max_length=64)
    source: str = Field(default="", max_length=16)
    counter: str = Field(default="", max_length=200)


class RefusalUpload(_Model):
    refusals: list[RefusalIn] = Field(max_length=MAX_BATCH)


class RefusalAck(_Model):
    """``stored``: new refusals kept now; ``known``: ids stored before (a resend)."""

    stored: int = Field(ge=0)
    known: int = Field(ge=0)
    time_ms: int
