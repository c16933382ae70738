"""THE verifier: QR text or a typed short code in, a :class:`Verdict` out.

One pure function over the kiosk's state, so the window, the CLI, the bench
and the tests share exactly one set of rules. It never raises for bad input
(every codec failure becomes ``malformed`` / ``not_a_voucher`` / ...), and it
records nothing: :mod:`kiosk.engine.service` wraps it in the write transaction
that makes ``accepted`` durable.

Order of the checks, and why:

1. decode (``not_a_voucher``, ``malformed``); a typed short code is first
   looked up in the roster (``unknown_code``) and then verified like a scan;
2. signature against the trusted keys (``unknown_key``, ``bad_signature``):
   nothing of an unverified voucher is trusted or shown;
3. revocation list (``revoked`` with the reason);
4. earlier uses, here or reported by the server (``already_redeemed`` with
   when / where / who), counted against ``admissions``;
5. validity window (``expired``, ``not_yet_valid``), cinema scope
   (``wrong_cinema``) and last the format chosen at the counter
   (``wrong_format``): last because the clerk can fix it by switching 2D/3D
   and scanning again, which would be pointless if anything else failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.engine.facts import Revocation, Use, VoucherFacts
from kiosk.engine.verdict import Verdict, VoucherInfo
from sync.voucher.codec import PREFIX, Voucher, decode_voucher, verify_signature
from sync.voucher.errors import (
    MalformedVoucher,
    NotAVoucher,
    ShortCodeError,
    SignatureError,
    UnknownKey,
    VoucherError,
)
from sync.voucher.keys import PublicKey
from sync.voucher.shortcode import encode_short_code, parse_short_code

FORMATS = ("2D", "3D")
#: the revocation reason of an online partner's hold (feed action ``held``, issue 14)
HELD = "held"


class KioskState(Protocol):
    """What the verifier needs to know about this kiosk (the store implements it)."""

    @property
    def cinema(self) -> str | None:
        """This cinema's code; None skips the cinema scope check (no home)."""
        ...

    @property
    def device(self) -> str: ...

    def keyring(self) -> Mapping[bytes, PublicKey]: ...

    def facts(self, cti: bytes) -> VoucherFacts:
        """The revocation and earlier uses of ``cti``, as one value read at one moment."""
        ...

    def roster_token(self, cti: bytes) -> str | None: ...


@dataclass
class MemoryState:
    """A kiosk state held in memory: for ``verify --issuer-key`` without a home, and tests."""

    keys: dict[bytes, PublicKey] = field(default_factory=dict)
    cinema: str | None = None
    device: str = ""
    revoked: dict[bytes, Revocation] = field(default_factory=dict)
    used: dict[bytes, list[Use]] = field(default_factory=dict)
    roster: dict[bytes, str] = field(default_factory=dict)

    def keyring(self) -> Mapping[bytes, PublicKey]:
        return self.keys

    def facts(self, cti: bytes) -> VoucherFacts:
        return VoucherFacts(self.revoked.get(cti), tuple(self.used.get(cti, ())))

    def roster_token(self, cti: bytes) -> str | None:
        return self.roster.get(cti)


class _StoreLike(Protocol):
    def keyring(self) -> dict[bytes, PublicKey]: ...

    def facts(self, cti: bytes, *, own_device: str) -> VoucherFacts: ...

    def roster_token(self, cti: bytes) -> str | None: ...


class StoreState:
    """The state of a set-up kiosk: its store, its cinema, its device id.

    ``extra_keys`` are trusted for this object only (``verify --issuer-key``).
    It holds nothing between calls: each :meth:`facts` is one store query.
    """

    def __init__(
        self,
        store: _StoreLike,
        cinema: str | None,
        device: str,
        extra_keys: Mapping[bytes, PublicKey] | None = None,
    ) -> None:
        self._store = store
        self._cinema = cinema
        self._device = device
        self._extra = dict(extra_keys or {})

    @property
    def cinema(self) -> str | None:
        return self._cinema

    @property
    def device(self) -> str:
        return self._device

    def keyring(self) -> Mapping[bytes, PublicKey]:
        ring = self._store.keyring()
        if not self._extra:
            return ring
        return {**ring, **self._extra}

    def facts(self, cti: bytes) -> VoucherFacts:
        return self._store.facts(cti, own_device=self._device)

    def roster_token(self, cti: bytes) -> str | None:
        return self._store.roster_token(cti)


@dataclass(frozen=True)
class Checked:
    """A verdict plus what recording it needs (the voucher and its full token)."""

    verdict: Verdict
    voucher: Voucher | None = None
    token: str | None = None
    short_code: str | None = None


def info_of(v: Voucher, short_code: str | None = None) -> VoucherInfo:
    return VoucherInfo(
        id=short_code or v.short_code,
        exp=v.exp,
        formats=v.formats,
        holder=v.holder,
        iss=v.iss,
        cinemas=v.cinemas,
        campaign=v.campaign,
    )


def _codec_detail(exc: VoucherError) -> dict[str, Any]:
    return {"code": exc.reason, "error": exc.message}


def check(
    text: str, state: KioskState, *, fmt: str, now_ms: int, clock_behind: bool = False
) -> Checked:
    """Verify ``text`` (QR text or typed short code); see the module docstring."""

    def verdict(
        reason: str,
        v: Voucher | None = None,
        detail: dict[str, Any] | None = None,
        short: str | None = None,
        token: str | None = None,
    ) -> Checked:
        return Checked(
            Verdict(
                reason=reason,
                voucher=None if v is None else info_of(v, short),
                detail=detail or {},
                clock_warning=clock_behind,
            ),
            voucher=v,
            token=token,
            short_code=short,
        )

    if fmt not in FORMATS:
        # A programming or CLI error, not a property of the voucher: callers validate.
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if not isinstance(text, str):
        return verdict("not_a_voucher", detail={"code": "not_text"})
    token = text.strip()
    typed = False
    typed_cti = b""
    if not token.startswith(PREFIX) and 0 < len(token) <= 64:
        try:
            cti = parse_short_code(token)
        except ShortCodeError:
            pass
        else:
            short = encode_short_code(cti)
            found = state.roster_token(cti)
            if found is None:
                return verdict("unknown_code", detail={"code": short}, short=short)
            token, typed, typed_cti = found, True, cti
    try:
        decoded = decode_voucher(token)
    except NotAVoucher as exc:
        return verdict("not_a_voucher", detail=_codec_detail(exc))
    except MalformedVoucher as exc:
        return verdict("malformed", detail=_codec_detail(exc))
    except VoucherError as exc:  # the codec promises only its own errors
        return verdict("malformed", detail=_codec_detail(exc))
    if typed and decoded.voucher.cti != typed_cti:  # a roster row that names another voucher
        short = encode_short_code(typed_cti)
        return verdict(
            "unknown_code", detail={"code": short, "error": "roster mismatch"}, short=short
        )
    short = decoded.voucher.short_code
    try:
        verify_signature(decoded, state.keyring())
    except UnknownKey as exc:
        return verdict("unknown_key", detail={**_codec_detail(exc), "kid": decoded.kid.hex()})
    except SignatureError as exc:
        return verdict("bad_signature", detail=_codec_detail(exc), short=short)

    v = decoded.voucher
    base: dict[str, Any] = {"typed": True} if typed else {}
    facts = state.facts(v.cti)
    rev = facts.revocation
    if rev is not None and rev.reason == HELD:  # an online hold, until it lapses at ``at``
        if now_ms < rev.at_ms:
            return verdict("held", v, {**base, "until": rev.at_ms, "by": rev.device}, short)
    elif rev is not None:
        return verdict("revoked", v, {**base, "why": rev.reason, "at": rev.at_ms}, short)
    uses = facts.uses
    if len(uses) >= v.admissions:
        last = uses[-1]
        return verdict(
            "already_redeemed",
            v,
            {
                **base,
                "at": last.at_ms,
                "cinema": last.cinema,
                "device": last.device,
                "staff": last.staff,
                "where": "elsewhere" if last.remote else "here",
                "record": last.record_uuid or None,
                "uses": len(uses),
                "admissions": v.admissions,
            },
            short,
        )
    now_s = now_ms // 1000
    if now_s > v.exp:
        return verdict("expired", v, {**base, "exp": v.exp}, short)
    if now_s < v.nbf:
        return verdict("not_yet_valid", v, {**base, "nbf": v.nbf}, short)
    if state.cinema is not None and v.cinemas is not None and state.cinema not in v.cinemas:
        return verdict(
            "wrong_cinema", v, {**base, "cinema": state.cinema, "cinemas": list(v.cinemas)}, short
        )
    if fmt not in v.formats:
        return verdict(
            "wrong_format", v, {**base, "chosen": fmt, "formats": list(v.formats)}, short
        )
    return verdict(
        "accepted",
        v,
        {**base, "admission": len(uses) + 1, "admissions": v.admissions},
        short,
        token=token,
    )


def verify(
    text: str, state: KioskState, *, fmt: str, now_ms: int, clock_behind: bool = False
) -> Verdict:
    """The verdict for ``text`` at ``now_ms`` (UTC ms) with format ``fmt`` chosen at the counter."""
    return check(text, state, fmt=fmt, now_ms=now_ms, clock_behind=clock_behind).verdict
