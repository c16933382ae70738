"""The alert rules about members, refusals, hours, counters and chains (see alert_rules.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.server.models import Device, Redemption, Refusal, Voucher

from .alerts import Finding
from .alerts_batch import COUNTED, MINUTE, Batch, Rec, densest, rec_id, ref_id
from .alerts_config import RuleSettings

HOUR = 60 * MINUTE


class Use(NamedTuple):
    """The three columns member_spread needs of a redemption (no ORM object per row)."""

    uuid: str
    cinema: str
    at: int


def member_spread(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """One member's vouchers used at several cinemas, or many of them, in one business day.

    A member sees a film or two an evening at one cinema; vouchers used across a
    city the same day were sold on. Threshold: ``cinemas`` distinct cinemas or
    ``uses`` redemptions in the business day (of the cinema of the newest use).
    """
    ctis = {r.voucher for r in batch.redeems}
    if not ctis:
        return []
    q = select(Voucher.cti, Voucher.member_ref).where(
        Voucher.cti.in_(ctis), Voucher.member_ref.is_not(None)
    )
    members = {cti: m for cti, m in session.execute(q) if m}
    windows: dict[tuple[str, date], tuple[int, int, str]] = {}
    for r in batch.redeems:
        member = members.get(r.voucher)
        if member is not None:
            bd = batch.day(session, r.cinema)
            day = bd.day_of(r.at)
            windows.setdefault((member, day), (*bd.bounds(day), r.cinema))
    if not windows:
        return []
    lo = min(w[0] for w in windows.values())
    hi = max(w[1] for w in windows.values())
    uses_q = (
        select(Voucher.member_ref, Redemption.uuid, Redemption.cinema, Redemption.at)
        .join(Voucher, Voucher.cti == Redemption.voucher)
        .where(
            Voucher.member_ref.in_({m for m, _d in windows}),
            Redemption.kind == "redeem",
            Redemption.status.in_(COUNTED),
            Redemption.at >= lo,
            Redemption.at < hi,
        )
    )
    rows: dict[str, list[Use]] = defaultdict(list)
    for member, u, c, at in session.execute(uses_q):
        rows[str(member)].append(Use(u, c, int(at)))
    out = []
    for (member, day), (start, end, cinema) in windows.items():
        uses = [u for u in rows[member] if start <= u.at < end]
        cinemas = sorted({u.cinema for u in uses})
        if len(cinemas) >= s.int("member_spread", "cinemas") or len(uses) >= s.int(
            "member_spread", "uses"
        ):
            out.append(
                Finding(
                    "member_spread",
                    s.severity("member_spread"),
                    "member",
                    member,
                    max(u.at for u in uses),
                    tuple(f"record:{u.uuid}" for u in sorted(uses, key=lambda u: u.at)),
                    cinema=cinema,
                    member=member,
                    detail={"cinemas": cinemas, "uses": len(uses), "day": day.isoformat()},
                )
            )
    return out


def used_rescans(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """An already-used voucher scanned again and again at other counters: a screenshot
    being passed around. Threshold: ``rescans`` refusals ``already_redeemed`` of one
    voucher within ``hours``, at counters other than the one that admitted it.
    """
    codes = {r.voucher for r in batch.refusals if r.reason == "already_redeemed" and r.voucher}
    out = []
    window = s.int("used_rescans", "hours") * HOUR
    for code in codes:
        cti = session.scalar(select(Voucher.cti).where(Voucher.short_code == code))
        admitted = set(
            session.scalars(
                select(Redemption.device).where(
                    Redemption.voucher == cti, Redemption.status.in_(COUNTED)
                )
            )
        )
        newest = max(r.at for r in batch.refusals if r.voucher == code)
        rows = session.scalars(
            select(Refusal).where(
                Refusal.voucher == code,
                Refusal.reason == "already_redeemed",
                Refusal.at > newest - window,
            )
        ).all()
        other = [r for r in rows if r.device not in admitted]
        if len(other) >= s.int("used_rescans", "rescans"):
            out.append(
                Finding(
                    "used_rescans",
                    s.severity("used_rescans"),
                    "voucher",
                    cti or code,
                    newest,
                    tuple(ref_id(r) for r in sorted(other, key=lambda r: r.at)),
                    cinema=other[-1].cinema,
                    device=other[-1].device,
                    voucher=code,
                    detail={"rescans": len(other), "devices": sorted({r.device for r in other})},
                )
            )
    return out


def forgery_attempts(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """Forged or foreign codes tried at one cinema: someone testing fakes at the box office.

    Threshold: ``count`` refusals with a reason in ``reasons`` (bad signature, unknown
    key, not a voucher) at one cinema within ``window_minutes``.
    """
    reasons = list(s.rules["forgery_attempts"]["reasons"])
    w = s.int("forgery_attempts", "window_minutes") * MINUTE
    fresh: dict[str, list[Refusal]] = defaultdict(list)
    for r in batch.refusals:
        if r.reason in reasons:
            fresh[r.cinema].append(r)
    out = []
    for cinema, new in fresh.items():
        lo, hi = min(r.at for r in new), max(r.at for r in new)
        rows = session.scalars(
            select(Refusal).where(
                Refusal.cinema == cinema,
                Refusal.reason.in_(reasons),
                Refusal.at > lo - w,
                Refusal.at <= hi + w,
            )
        ).all()
        items = sorted((r.at, ref_id(r)) for r in rows)
        n, ids, end = densest(items, w, {ref_id(r) for r in new})
        if n >= s.int("forgery_attempts", "count"):
            out.append(
                Finding(
                    "forgery_attempts",
                    s.severity("forgery_attempts"),
                    "cinema",
                    cinema,
                    end,
                    tuple(ids),
                    cinema=cinema,
                    detail={"count": n, "window_minutes": w // MINUTE},
                )
            )
    return out


def off_hours(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """Redemptions outside the cinema's opening hours: no show, so no one was admitted.

    Threshold: any counted redemption whose local time at the cinema is outside
    ``[opening_hours]`` (per cinema, default 09:00 to 02:00). Subject: the counter.
    """
    by_device: dict[str, list[Rec]] = defaultdict(list)
    for r in batch.redeems:
        minute = batch.day(session, r.cinema).local(r.at)
        if not s.hours_of(r.cinema).inside(minute.hour * 60 + minute.minute):
            by_device[r.device].append(r)
    return per_device("off_hours", s, by_device, lambda rows: {"records": len(rows)})


def silent_counter(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """A counter with records pending that has not synced for an hour in opening hours.

    Its redemptions are invisible to every other rule (and to the settlement) until
    it syncs. Scheduled, not per upload. Threshold: health ``pending`` > 0 and no
    contact for ``silent_minutes``, while its cinema is open.
    """
    if not batch.scheduled:
        return []
    limit = batch.now - s.int("silent_counter", "silent_minutes") * MINUTE
    out = []
    q = select(Device).where(Device.status == "active", Device.last_contact < limit)
    for d in session.scalars(q):
        pending = int((d.health or {}).get("pending") or 0)
        local = batch.day(session, d.cinema).local(batch.now)
        if pending <= 0 or not s.hours_of(d.cinema).inside(local.hour * 60 + local.minute):
            continue
        out.append(
            Finding(
                "silent_counter",
                s.severity("silent_counter"),
                "device",
                d.id,
                batch.now,
                (f"device:{d.id}:{d.last_contact}",),
                cinema=d.cinema,
                device=d.id,
                detail={"pending": pending, "last_contact_ms": d.last_contact},
            )
        )
    return out


def clock_skew(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """A counter whose clock is off: its times (validity, first use, hours) cannot be trusted.

    Threshold: the offset its last sync measured (health ``clock_offset_ms``), or a
    record's time ahead of its arrival, beyond ``max_skew_seconds``.
    """
    limit = s.int("clock_skew", "max_skew_seconds") * 1000
    out = []
    ids = {r.device for r in batch.records} | {r.device for r in batch.refusals}
    devices = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(ids)))}
    for device_id in sorted(ids):
        d = devices.get(device_id)
        if d is None:
            continue
        offset = int((d.health or {}).get("clock_offset_ms") or 0)
        ahead = [r for r in batch.records if r.device == device_id and r.at - r.received_at > limit]
        if abs(offset) <= limit and not ahead:
            continue
        evidence = tuple(rec_id(r) for r in ahead) or (f"clock:{device_id}:{offset // 60_000}",)
        out.append(
            Finding(
                "clock_skew",
                s.severity("clock_skew"),
                "device",
                device_id,
                max([r.received_at for r in ahead] or [batch.now]),
                evidence,
                cinema=d.cinema,
                device=device_id,
                detail={"clock_offset_ms": offset, "records_ahead": len(ahead)},
            )
        )
    return out


CHAIN_FLAGS = ("chain_gap", "chain_fork")


def chain_anomaly(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """Gaps (deleted rows), forks (a cloned counter folder) and quarantined records.

    Threshold: any stored line flagged ``chain_gap`` or ``chain_fork`` (issue 10's
    review flags, whatever its status), any line the server refused as ``rejected``
    (a forged or altered voucher), or any record it quarantined (bad device
    signature, malformed, another device's). Subject: the counter.
    """
    by_device: dict[str, list[tuple[str, int, str]]] = defaultdict(list)  # (evidence, at, cinema)
    flagged: dict[str, list[str]] = defaultdict(list)
    held: dict[str, list[str]] = defaultdict(list)
    for r in batch.records:
        hit = [f for f in r.flags if f in CHAIN_FLAGS]
        if hit or r.status == "rejected":
            by_device[r.device].append((rec_id(r), r.at, r.cinema))
            flagged[r.device] += hit
            if r.status == "rejected":
                held[r.device].append("rejected")
    quarantined: dict[str, int] = defaultdict(int)
    for q in batch.quarantined:
        by_device[q.device].append((f"quarantine:{q.device}:{q.uuid}", q.at, ""))
        held[q.device].append(q.problem)
        quarantined[q.device] += 1
    if not by_device:
        return []
    named = select(Device.id, Device.cinema).where(Device.id.in_(by_device))
    cinemas = {d: c for d, c in session.execute(named)}
    return [
        Finding(
            "chain_anomaly",
            s.severity("chain_anomaly"),
            "device",
            device,
            max(at for _e, at, _c in rows),
            tuple(e for e, _at, _c in rows),
            cinema=cinemas.get(device) or next((c for *_x, c in rows if c), None),
            device=device,
            detail={
                "gaps": flagged[device].count("chain_gap"),
                "forks": flagged[device].count("chain_fork"),
                "rejected": len(held[device]),  # refused by the server: rejected or quarantined
                "quarantined": quarantined[device],
                "problems": sorted(set(held[device])),
            },
        )
        for device, rows in by_device.items()
    ]


def per_device(
    rule: str,
    s: RuleSettings,
    by_device: dict[str, list[Rec]],
    detail: Callable[[list[Rec]], dict[str, Any]],
) -> list[Finding]:
    """One finding per counter with its offending records (off_hours)."""
    return [
        Finding(
            rule,
            s.severity(rule),
            "device",
            device,
            max(r.at for r in rows),
            tuple(rec_id(r) for r in rows),
            cinema=rows[0].cinema,
            device=device,
            detail=detail(rows),
        )
        for device, rows in by_device.items()
    ]
