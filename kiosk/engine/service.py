"""The kiosk facade: what the window, the CLI and the tests call.

:class:`KioskService` ties the config, the device key, the store, the clock
and the verifier together. Its promise: :meth:`KioskService.redeem` says
``accepted`` only after the redemption row is committed to disk; if the commit
fails the answer is ``not_recorded`` ("do not admit") and nothing was written.
The verdict is decided inside the same ``BEGIN IMMEDIATE`` transaction as the
insert, so two counters (threads or processes) sharing a store cannot both
accept a single-admission voucher.

Meta keys shared with the sync client (:mod:`kiosk.syncer`), all text:
``last_sync`` (UTC ms of the last successful sync), ``online`` ("1"/"0"),
``device_revoked`` ("1" when the server revoked this counter),
``clock_offset_ms`` (server minus local), ``revocations_synced_at`` (UTC ms),
``newest_seen_ms`` (the clock guard's mark; written through the clock),
``clock_floor_seq`` (records up to this seq predate a sync that found the
clock right: see :meth:`KioskService.clock_agreed`),
``business_timezone`` and ``business_day_starts`` (the cinema's business day,
from the enrolment and every hello answer; absent: Asia/Shanghai, 06:00).

While ``device_revoked`` is set, or the clock is known to run behind, every
verdict is a refusal (``device_revoked`` / ``clock_behind``, see
:mod:`kiosk.engine.refusals`); each refusal is logged with an id for the
office's refusal log.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol

from kiosk.config import KioskConfig, load_config, save_config
from kiosk.engine.clock import Clock
from kiosk.engine.db import StoreError
from kiosk.engine.facts import TrustedKey
from kiosk.engine.refusals import counter_refusal, text_hash
from kiosk.engine.store import Store, Writer
from kiosk.engine.tally import BUSINESS_START_META, BUSINESS_TZ_META, Tally
from kiosk.engine.verdict import Verdict
from kiosk.engine.verify import FORMATS, Checked, StoreState, check, info_of
from kiosk.engine.voids import VOID_WINDOW_MS, VoidResult
from kiosk.errors import ConfigError, UsageError
from kiosk.paths import KioskPaths
from sync.businessday import BusinessDay, BusinessDayError
from sync.records import Record
from sync.voucher.codec import decode_voucher
from sync.voucher.errors import KeyFileError, VoucherError
from sync.voucher.keys import PrivateKey, PublicKey, load_private_key, save_private_key

log = logging.getLogger(__name__)

Source = Literal["camera", "scanner", "typed"]
SOURCES = ("camera", "scanner", "typed")


class ClaimTicket(Protocol):
    """One claim round's outcome (kiosk.peers.hook.Ticket), settled with the record."""

    def settle(self, w: Writer, checked: Checked) -> Verdict | None: ...

    def done(self, record: Record | None) -> None: ...


class ClaimHook(Protocol):
    """The LAN peers of this counter (kiosk.peers.hook.PeerHook; docs/lan-peers.md).

    The engine knows only this shape: the peer package sits above it.
    """

    def claim(self, text: str, *, fmt: str, now_ms: int, behind: bool) -> ClaimTicket | None: ...

    def annotate(self, v: Verdict) -> Verdict: ...


def _load_device_key(paths: KioskPaths) -> PrivateKey:
    try:
        return load_private_key(paths.device_key)
    except KeyFileError as exc:
        raise ConfigError("no_device_key", f"device key {paths.device_key}: {exc.message}") from exc


def init_standalone(
    home: Path,
    *,
    cinema: str,
    issuer_keys: list[PublicKey],
    counter: str = "",
    issuer: str = "",
) -> None:
    """Set up a standalone kiosk in ``home``: config, device key (0600), store, keys.

    Refuses a folder that is already set up (its device key signs the
    existing chain and must never be replaced by accident).
    """
    cinema = cinema.strip()
    if not cinema or len(cinema) > 64:
        raise UsageError("bad_cinema", "--cinema must be a cinema code of 1-64 characters")
    if not issuer_keys:
        raise UsageError("no_issuer_key", "at least one --issuer-key is needed")
    paths = KioskPaths(Path(home))
    if paths.config.exists():
        raise UsageError("already_set_up", f"{paths.home} is already set up (config.json exists)")
    paths.ensure()
    if not paths.device_key.exists():
        save_private_key(paths.device_key, PrivateKey.generate())
    store = Store.open(paths.store)
    try:
        for k in issuer_keys:
            store.add_trusted_key(TrustedKey(raw=k.raw, issuer=issuer, source="init"))
    finally:
        store.close()
    save_config(paths.config, KioskConfig(cinema=cinema, counter=counter))


@dataclass(eq=False, repr=False)  # one open kiosk is itself, and never prints its key
class KioskService:
    """One kiosk: verify, redeem, void, tally, status. Thread-safe for UI + sync."""

    paths: KioskPaths
    config: KioskConfig
    store: Store
    device_key: PrivateKey
    clock: Clock
    #: the claim round with this cinema's other counters, when they are wired (kiosk.peers)
    peers: ClaimHook | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.clock.attach(self.store.newest_time_ms(), self._persist_clock_mark)

    @classmethod
    def open(cls, home: Path, *, clock: Clock | None = None) -> KioskService:
        """Open the kiosk in ``home``; :class:`kiosk.errors.NotSetUp` if never initialised."""
        paths = KioskPaths(Path(home))
        config = load_config(paths.config)
        key = _load_device_key(paths)
        store = Store.open(paths.store)
        return cls(paths, config, store, key, clock or Clock())

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> KioskService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def clock_behind(self) -> bool:
        """The clock guard: behind the newest time seen, or behind the server's clock.

        The sync client stores ``clock_offset_ms`` (server minus local) at each
        hello; more than the clock's tolerance means this PC runs behind.
        """
        if self.clock.behind:
            return True
        offset = self.store.meta_int("clock_offset_ms")
        return offset is not None and offset > Clock.TOLERANCE_MS

    def device_revoked(self) -> bool:
        """The server said this counter was revoked (cleared only by enrolling again)."""
        return self.store.get_meta("device_revoked") in ("1", "true")

    def _gate(self, v: Verdict, behind: bool) -> Verdict | None:
        """The counter's own refusal that replaces ``v`` now, if any (see kiosk.engine.refusals)."""
        revoked = self.device_revoked()
        if not (revoked or behind):
            return None
        offset = self.store.meta_int("clock_offset_ms") or 0
        behind_ms = max(self.clock.behind_by_ms(), offset)
        return counter_refusal(v, revoked=revoked, behind=behind, behind_ms=behind_ms)

    def clock_agreed(self, server_ms: int) -> dict[str, str]:
        """A sync measured the offset to the server within the tolerance: trust that time.

        A mark left by a clock that once ran ahead (its records' times) is
        lowered to the server's time, and the records made so far stop
        counting (meta ``clock_floor_seq``). Returns the meta values to write,
        for the sync client's one commit; {} when nothing changed.
        """
        if not self.clock.agree(server_ms):
            return {}
        return {"newest_seen_ms": str(server_ms), "clock_floor_seq": str(self.store.head_seq())}

    def _annotate(self, v: Verdict) -> Verdict:
        """Name this counter in an "already used here" verdict (the store knows only ids)."""
        if v.reason == "already_redeemed" and v.detail.get("where") == "here":
            v.detail.setdefault("counter", self.config.counter)
        return v if self.peers is None else self.peers.annotate(v)

    def _persist_clock_mark(self, ms: int) -> None:
        self.store.set_meta("newest_seen_ms", str(ms))

    @property
    def device_id(self) -> str:
        return self.config.device_id

    def state(self, extra_keys: dict[bytes, PublicKey] | None = None) -> StoreState:
        return StoreState(self.store, self.config.cinema, self.config.device_id, extra_keys)

    # -- verdicts ------------------------------------------------------------

    @staticmethod
    def _check_fmt(fmt: str) -> None:
        if fmt not in FORMATS:
            raise UsageError("bad_format", f"format must be 2D or 3D, not {fmt!r}")

    def check(
        self, text: str, *, fmt: str, extra_keys: dict[bytes, PublicKey] | None = None
    ) -> Verdict:
        """Verify only: records nothing, logs nothing."""
        self._check_fmt(fmt)
        behind = self.clock_behind()
        v = check(
            text, self.state(extra_keys), fmt=fmt, now_ms=self.clock.now_ms(), clock_behind=behind
        ).verdict
        return self._gate(v, behind) or self._annotate(v)

    def redeem(self, text: str, *, fmt: str, staff: str = "", source: str = "camera") -> Verdict:
        """Verify, record (durably) if accepted, and log the attempt."""
        self._check_fmt(fmt)
        if source not in SOURCES:
            raise UsageError("bad_source", f"source must be one of {SOURCES}, not {source!r}")
        staff = staff.strip()[:64]
        now = self.clock.now_ms()
        behind = self.clock_behind()
        checked: Checked | None = None
        v: Verdict | None = None
        rec: Record | None = None
        ticket = (
            None
            if self.peers is None
            else self.peers.claim(text, fmt=fmt, now_ms=now, behind=behind)
        )
        try:
            with self.store.transaction() as w:
                checked = check(text, self.state(), fmt=fmt, now_ms=now, clock_behind=behind)
                v = self._gate(checked.verdict, behind) or checked.verdict
                if v.accepted and ticket is not None:  # the peers' answer, with the record
                    v = ticket.settle(w, checked) or v
                uuid: str | None = None
                if v.accepted:
                    assert checked.voucher is not None and checked.token is not None
                    rec = w.append_record(
                        key=self.device_key,
                        kind="redeem",
                        voucher=checked.voucher.cti,
                        token=checked.token,
                        cinema=self.config.cinema,
                        fmt=fmt,
                        staff=staff,
                        at_ms=now,
                        device=self.config.device_id,
                    )
                    uuid = rec.uuid
                w.log_attempt(
                    at_ms=now,
                    reason=v.reason,
                    short_code=checked.short_code,
                    fmt=fmt,
                    staff=staff,
                    source=source,
                    record_uuid=uuid,
                    text_hash=None if checked.voucher is not None else text_hash(text),
                )
        except (StoreError, sqlite3.Error, OSError) as exc:
            log.error("redemption not recorded: %s", type(exc).__name__)
            rec = None
            if v is not None and not v.accepted:
                return self._annotate(v)  # a rejection stands, log or not
            return Verdict(
                reason="not_recorded",
                voucher=None
                if checked is None or checked.voucher is None
                else info_of(checked.voucher),
                detail={"error": type(exc).__name__},
                clock_warning=behind,
            )
        finally:
            if ticket is not None:
                ticket.done(rec)
        assert v is not None
        if uuid is not None:
            self.clock.observe(now, persist=False)  # the record itself keeps this time
            return Verdict(
                reason=v.reason,
                voucher=v.voucher,
                detail=v.detail,
                record_uuid=uuid,
                clock_warning=v.clock_warning,
            )
        return self._annotate(v)

    # -- voids -----------------------------------------------------------------

    def void_last(self, *, staff: str = "") -> VoidResult:
        """Void the newest redemption of this counter, if it is under 10 minutes old.

        Only the very newest one: pressing "undo" twice says ``already_voided``
        instead of quietly voiding the redemption before it.
        """
        last = self.store.last_redemption()
        if last is None:
            return VoidResult("nothing_to_void")
        return self.void(last.uuid, staff=staff)

    def void(self, record_uuid: str, *, staff: str = "") -> VoidResult:
        """Void one redemption with a new signed ``void`` record (never an update)."""
        staff = staff.strip()[:64]
        now = self.clock.now_ms()
        try:
            with self.store.transaction() as w:
                rec = self.store.record(record_uuid)
                if rec is None or rec.kind != "redeem":
                    return VoidResult("nothing_to_void", voided_uuid=record_uuid)
                short = decode_voucher(rec.token).voucher.short_code
                if self.store.is_voided(rec.uuid):
                    return VoidResult("already_voided", rec.uuid, voucher_id=short)
                if now - rec.at > VOID_WINDOW_MS or now < rec.at - VOID_WINDOW_MS:
                    return VoidResult("too_late", rec.uuid, voucher_id=short)
                void = w.append_record(
                    key=self.device_key,
                    kind="void",
                    voucher=rec.voucher,
                    token=rec.token,
                    cinema=rec.cinema,
                    fmt=rec.format,
                    staff=staff,
                    at_ms=now,
                    device=self.config.device_id,
                    voids=rec.uuid,
                )
        except (StoreError, sqlite3.Error, OSError, VoucherError) as exc:
            log.error("void not recorded: %s", type(exc).__name__)
            return VoidResult("not_recorded", record_uuid)
        return VoidResult("voided", rec.uuid, void.uuid, short)

    # -- reports ---------------------------------------------------------------

    def business_day(self) -> BusinessDay:
        """The cinema's business day as the server last told it (the defaults until then).

        Not this PC's time zone: the office's settlement groups by the same
        definition (:mod:`sync.businessday`), so both put a redemption on one day.
        """
        try:
            return BusinessDay.of(
                self.store.get_meta(BUSINESS_TZ_META), self.store.get_meta(BUSINESS_START_META)
            )
        except BusinessDayError:
            log.warning("stored business day is not valid; using the defaults")
            return BusinessDay()

    def business_today(self) -> date:
        """The business day it is now at this cinema (what "today" means in the tally)."""
        return self.business_day().today(self.clock.now_ms())

    def tally(self, day: date | None = None) -> Tally:
        """Counts of one business day of the cinema (default: the current one)."""
        bd = self.business_day()
        day = bd.today(self.clock.now_ms()) if day is None else day
        start, end = bd.bounds(day)
        t = Tally(day=day)
        rows = self.store.records_between(start, end)
        voided = {r[2] for r in rows if r[0] == "void"}
        # A void may fall on the next day; count any void of these records.
        voided |= {
            r[1]
            for r in rows
            if r[0] == "redeem" and r[1] not in voided and self.store.is_voided(r[1])
        }
        hours: Counter[str] = Counter()
        staff: Counter[str] = Counter()
        for kind, uuid, _voids, fmt, who, at, synced_at in rows:
            if synced_at is None:
                t.pending += 1
            else:
                t.synced += 1
            if kind == "void":
                t.voided += 1
                continue
            if uuid in voided:
                continue
            t.accepted += 1
            t.by_format[fmt] = t.by_format.get(fmt, 0) + 1
            hours[bd.hour_of(at)] += 1
            staff[who] += 1
        rejected: Counter[str] = Counter(
            r[0] for r in self.store.attempts_between(start, end) if r[0] != "accepted"
        )
        t.by_hour = dict(sorted(hours.items()))
        t.by_staff = dict(sorted(staff.items()))
        t.rejected = dict(sorted(rejected.items()))
        return t

    def status(self) -> dict[str, Any]:
        """Everything the status screen and ``cinepass-kiosk status`` show."""
        counts = self.store.counts()
        now = self.clock.now_ms()
        meta_int = self.store.meta_int

        online = self.store.get_meta("online")
        rev_at = meta_int("revocations_synced_at") or meta_int("last_sync")
        age = None if rev_at is None else max(0, (now - rev_at) // 1000)
        return {
            **counts,
            "last_sync": meta_int("last_sync"),
            "clock_ok": not self.clock_behind(),
            "clock_offset_ms": meta_int("clock_offset_ms"),
            "clock_behind_ms": self.clock.behind_by_ms(),
            "newest_seen_ms": self.clock.newest_seen_ms,
            "now_ms": now,
            "online": None if online is None else online in ("1", "true"),
            "device_revoked": self.store.get_meta("device_revoked") in ("1", "true"),
            "cinema": self.config.cinema,
            "counter": self.config.counter,
            "device_id": self.config.device_id,
            "standalone": self.config.standalone,
            "revocation_age_s": age,
            "revocations_stale": (
                not self.config.standalone
                and (age is None or age > self.config.revocation_max_age_hours * 3600)
            ),
            "home": str(self.paths.home),
        }

    def conflicts(self) -> list[dict[str, Any]]:
        return self.store.conflicts()

    def held(self) -> list[dict[str, Any]]:
        """Records the server quarantined or holds for review (see Store.held_records)."""
        return self.store.held_records()
