"""Re-verifying a redeem record on ingest: what the counter claims, against what the server knows.

A record signed by a real counter's key proves only that the counter said
it. Whether the voucher allowed it is checked again here, against the
voucher (its scope, formats and validity), the device (its enrolled cinema,
its enrolment time, its measured clock offset, its own previous record) and
the office (a freeze before the record's time). Each failed check is a flag
code; a line with any flag is ``review`` (kept, shown, not paid) until the
union decides (docs/settlement.md). The checks are pure functions of facts
read once per batch, so they add microseconds, not queries, per record.

Times: ``at`` is the counter's clock; ``at_server`` = ``at`` + the device's
last measured offset (server minus local, reported in its health). Every
comparison uses ``at_server``, the order check too (``prev_at`` is the
previous record's ``at_server``): a counter whose clock was wrong and then
corrected stays in order on the server's clock. A record in the future does
not become the time the next one must follow (``Device.chain_at``).
:data:`MAX_SKEW_MS` is the tolerance everywhere (the kiosk refuses to admit
when it knows its clock is off by more, see ``clock_behind``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sync.records import Record

from .models import Device

MAX_SKEW_MS = 5 * 60 * 1000

#: Every flag code, in the order a line lists them (the contract; docs/settlement.md).
FLAGS = (
    "out_of_scope",
    "cinema_mismatch",
    "wrong_format",
    "outside_validity",
    "time_in_future",
    "time_before_enrolment",
    "time_out_of_order",
    "after_freeze",
    "clock_skew",
    "chain_gap",
    "chain_fork",
    "disputed",
)
_ORDER = {f: i for i, f in enumerate(FLAGS)}


def ordered(flags: Collection[str]) -> list[str]:
    """``flags`` without repeats, in the documented order."""
    return sorted(set(flags), key=lambda f: _ORDER.get(f, len(_ORDER)))


@dataclass(frozen=True)
class VoucherFacts:
    """What the voucher allows (from the ``voucher`` table or its verified token)."""

    admissions: int
    formats: tuple[str, ...]
    cinemas: tuple[str, ...] | None
    nbf: int  # epoch seconds, as in the CWT
    exp: int


@dataclass(frozen=True)
class DeviceFacts:
    """What the server knows of the uploading counter, read once per batch."""

    cinema: str
    enrolled_at: int
    offset_ms: int
    now: int

    @staticmethod
    def of(device: Device, now: int) -> DeviceFacts:
        health: dict[str, Any] = device.health or {}
        raw = health.get("clock_offset_ms", 0)
        offset = raw if isinstance(raw, int) and not isinstance(raw, bool) else 0
        return DeviceFacts(device.cinema, int(device.enrolled_at or 0), offset, now)


Freezes = dict[str, list[tuple[int, str]]]
"""cti -> [(server time, "freeze" | "unfreeze")], oldest first (see ``ingest.freeze_history``)."""


def frozen_at(history: Sequence[tuple[int, str]], t: int) -> bool:
    """Was the voucher frozen at server time ``t``?"""
    state = False
    for at, action in history:
        if at > t:
            break
        state = action == "freeze"
    return state


def redeem_flags(
    rec: Record,
    voucher: VoucherFacts | None,
    device: DeviceFacts,
    *,
    prev_at: int | None,
    freezes: Sequence[tuple[int, str]] = (),
) -> list[str]:
    """The review flags of one redeem record (empty: clean)."""
    flags: list[str] = []
    at_server = rec.at + device.offset_ms
    if voucher is not None:
        if voucher.cinemas is not None and device.cinema not in voucher.cinemas:
            flags.append("out_of_scope")
        if rec.format not in voucher.formats:
            flags.append("wrong_format")
        if not voucher.nbf * 1000 - MAX_SKEW_MS <= at_server <= voucher.exp * 1000 + MAX_SKEW_MS:
            flags.append("outside_validity")
    if rec.cinema != device.cinema:
        flags.append("cinema_mismatch")
    if at_server > device.now + MAX_SKEW_MS:
        flags.append("time_in_future")
    if at_server < device.enrolled_at - MAX_SKEW_MS:
        flags.append("time_before_enrolment")
    if prev_at is not None and at_server < prev_at - MAX_SKEW_MS:
        flags.append("time_out_of_order")
    if freezes and frozen_at(freezes, at_server):
        flags.append("after_freeze")
    if abs(device.offset_ms) > MAX_SKEW_MS:
        flags.append("clock_skew")
    return ordered(flags)
