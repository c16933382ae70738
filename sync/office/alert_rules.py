"""The alert rules (issue 13): each a small function from what arrived to findings.

A rule gets a :class:`Batch` (the redemption rows and refusal rows one upload
stored, or a scheduled tick with neither) and the effective
:class:`~sync.office.alerts_config.RuleSettings`, and returns
:class:`~sync.office.alerts.Finding` values; storing and merging them is
:mod:`sync.office.alerts`'s job. Rules look only at windows that contain
something new, so a pattern that was resolved does not come back on the
next unrelated upload. Each rule's rationale and threshold is its docstring
and docs/monitoring.md; the thresholds are in
:mod:`sync.office.alerts_config`. Days are each cinema's business day.
"""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.server.db import rows_in
from sync.server.ingest_settle import DISPUTED
from sync.server.models import FeedEvent, Redemption, Refusal

from . import alerts_rules_more as more
from .alerts import Finding
from .alerts_batch import (
    COUNTED,
    DAY,
    MINUTE,
    REC_COLS,
    Batch,
    Rec,
    Rule,
    densest,
    rec_id,
    ref_id,
    short_codes,
)
from .alerts_config import RuleSettings


def duplicate_use(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """One voucher admitted twice (two counters, or a cloned counter): the resale signal.

    Threshold: any stored line the settlement marks as a second use (issue 10):
    status ``duplicate``, or ``review`` with the ``disputed`` flag (two counters
    claim it and neither is paid until the union decides); or two counted lines
    of one voucher whatever their status (a line held in ``review`` for its own
    flags takes no first use, so its rival is not marked ``duplicate``).
    Subject: the voucher. Evidence: every redemption of the voucher that counted.
    """
    ctis = {r.voucher for r in batch.records if r.kind == "redeem"}
    if not ctis:
        return []
    q = select(*REC_COLS).where(Redemption.kind == "redeem", Redemption.status.in_(COUNTED))
    by_cti: dict[str, list[Rec]] = defaultdict(list)
    for row in rows_in(session, q, Redemption.voucher, sorted(ctis)):
        by_cti[row.voucher].append(Rec._make(row))
    second = {
        cti: [r for r in uses if second_use(r)] or (uses[1:] if len(uses) > 1 else [])
        for cti, uses in by_cti.items()
    }
    codes = short_codes(session, {cti for cti, dups in second.items() if dups})
    out = []
    for cti, uses in by_cti.items():
        if not second[cti]:
            continue
        last = max(second[cti], key=lambda r: r.at)
        out.append(
            Finding(
                "duplicate_use",
                s.severity("duplicate_use"),
                "voucher",
                cti,
                last.at,
                tuple(rec_id(r) for r in sorted(uses, key=lambda r: r.at)),
                cinema=last.cinema,
                device=last.device,
                voucher=codes.get(cti),
                staff=last.staff or None,
                detail={
                    "uses": len(uses),
                    "devices": sorted({r.device for r in uses}),
                    "disputed": any(DISPUTED in r.flags for r in uses),
                },
            )
        )
    return out


def second_use(r: Rec) -> bool:
    """A line the settlement holds as a second use: ``duplicate``, or ``review`` + ``disputed``."""
    return r.status == "duplicate" or (r.status == "review" and DISPUTED in r.flags)


def after_freeze(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """A voucher used after the office froze it (lost, stolen, fraud, replaced).

    A counter that had not synced the freeze admits it honestly; the office still
    has to know (the holder's claim, a stolen card in use). Threshold: any redemption
    whose time is after the voucher's last freeze and before any unfreeze.
    """
    redeems = batch.redeems
    ctis = {r.voucher for r in redeems}
    if not ctis:
        return []
    events: dict[str, list[tuple[int, str]]] = defaultdict(list)
    q = (
        select(FeedEvent.key, FeedEvent.at, FeedEvent.action)
        .where(
            FeedEvent.feed == "revocation",
            FeedEvent.key.in_(ctis),
            FeedEvent.action.in_(("freeze", "unfreeze")),
        )
        .order_by(FeedEvent.seq)
    )
    for key, at, action in session.execute(q):
        events[key].append((int(at), action))
    codes = short_codes(session, set(events))
    out = []
    for r in redeems:
        state = [a for at, a in events.get(r.voucher, []) if at <= r.at]
        if state and state[-1] == "freeze":
            out.append(
                Finding(
                    "after_freeze",
                    s.severity("after_freeze"),
                    "voucher",
                    r.voucher,
                    r.at,
                    (rec_id(r),),
                    cinema=r.cinema,
                    device=r.device,
                    voucher=codes.get(r.voucher),
                    staff=r.staff or None,
                )
            )
    return out


def _p99(counts: list[int]) -> float:
    ordered = sorted(counts)
    return float(ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)])


_BASELINES: OrderedDict[tuple[str, int, int], dict[str | None, list[int]]] = OrderedDict()


def baseline(
    session: Session, device: str, since: int, until: int, w: int
) -> dict[str | None, list[int]]:
    """A counter's (and each clerk's) busy-window counts in [since, until), cached an hour.

    The history behind a p99 moves slowly; reading two weeks of a counter's
    rows on every upload would cost more than the upload. Key: the hour.
    """
    key = (device, until // 3_600_000, w)
    hit = _BASELINES.get(key)
    if hit is not None:
        return hit
    q = select(Redemption.at, Redemption.staff).where(
        Redemption.device == device,
        Redemption.kind == "redeem",
        Redemption.status.in_(COUNTED),
        Redemption.at >= since,
        Redemption.at < until,
    )
    buckets: dict[tuple[str | None, int], int] = defaultdict(int)
    for at, staff in session.connection().execute(q):  # plain rows: see burst
        buckets[(None, int(at) // w)] += 1
        if staff:
            buckets[(staff, int(at) // w)] += 1
    out: dict[str | None, list[int]] = defaultdict(list)
    for (staff_key, _b), n in buckets.items():
        out[staff_key].append(n)
    _BASELINES[key] = dict(out)
    if len(_BASELINES) > 20_000:
        _BASELINES.popitem(last=False)
    return _BASELINES[key]


def burst(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """A counter (or a clerk at it) redeeming far above its own usual rate: cash-out.

    Threshold: more than max(``floor``, ``factor`` x the p99 of its own 10-minute
    counts over the last ``baseline_days``) in any ``window_minutes``; with fewer
    than ``min_windows`` busy windows of history, the floor alone.
    """
    w = s.int("burst", "window_minutes") * MINUTE
    out: list[Finding] = []
    by_device: dict[str, list[Rec]] = defaultdict(list)
    for r in batch.redeems:
        by_device[r.device].append(r)
    if not by_device:
        return out
    q = (
        select(
            Redemption.device, Redemption.at, Redemption.uuid, Redemption.staff, Redemption.cinema
        )
        .where(  # the recent rows of every counter of the batch, in one query
            Redemption.device.in_(by_device),
            Redemption.kind == "redeem",
            Redemption.status.in_(COUNTED),
            Redemption.at >= min(r.at for r in batch.redeems) - w,
            Redemption.at <= max(r.at for r in batch.redeems),
        )
        .order_by(Redemption.at)
    )  # what ix_redemption_device_at gives: the sort below is one pass
    recent: dict[str, list[tuple[int, str, str, str]]] = defaultdict(list)
    # on the connection, not the session: plain rows, not ORM-loaded ones (a
    # third of the cost per row, and a busy partner's window is thousands of
    # rows each evaluation); the reader session has nothing to flush
    for dev, at, u, st, c in session.connection().execute(q).all():  # fetchall, not row by row
        recent[dev].append((int(at), u, st, c))
    for device, new in by_device.items():
        lo, hi = min(r.at for r in new), max(r.at for r in new)
        since = lo - s.int("burst", "baseline_days") * DAY
        rows = sorted(row for row in recent[device] if lo - w <= row[0] <= hi)
        base = baseline(session, device, since, lo - w, w)
        groups: dict[str | None, list[tuple[int, str, str, str]]] = {None: rows}
        if s.rules["burst"]["per_staff"]:
            for row in rows:
                if row[2]:
                    groups.setdefault(row[2], []).append(row)
        new_ids = {r.uuid for r in new}
        for staff, grp in groups.items():
            counts = base.get(staff, [])
            limit = s.num("burst", "floor")
            if len(counts) >= s.int("burst", "min_windows"):
                limit = max(limit, math.ceil(s.num("burst", "factor") * _p99(counts)))
            # the rows themselves (at, uuid, ...): a busy window is thousands of rows
            # each evaluation, and only the best window's ids become evidence
            n, uuids, end = densest(grp, w, new_ids)
            if n > limit:
                ids = [f"record:{u}" for u in uuids]
                kind, key = ("staff", f"{device}/{staff}") if staff else ("device", device)
                out.append(
                    Finding(
                        "burst",
                        s.severity("burst"),
                        kind,
                        key,
                        end,
                        tuple(ids),
                        cinema=grp[0][3],
                        device=device,
                        staff=staff,
                        detail={"count": n, "limit": limit, "window_minutes": w // MINUTE},
                    )
                )
    return out


def typed_codes(session: Session, batch: Batch, s: RuleSettings) -> Iterable[Finding]:
    """An unusual share of typed short codes at one counter in a business day.

    Printed code lists being sold are typed in, not scanned. The server sees the
    source of what a counter refused (its refusal log); records carry none, so the
    share is typed refusals over all entries (refusals and redemptions) that day.
    Threshold: at least ``min_typed`` typed and a share of at least ``share``.
    """
    out = []
    keys = {(r.device, r.cinema, batch.day(session, r.cinema).day_of(r.at)) for r in batch.refusals}
    for device, cinema, day in keys:
        start, end = batch.day(session, cinema).bounds(day)
        refs = session.scalars(
            select(Refusal).where(Refusal.device == device, Refusal.at >= start, Refusal.at < end)
        ).all()
        typed = [r for r in refs if r.source == "typed"]
        redeemed = session.scalar(
            select(func.count()).where(
                Redemption.device == device,
                Redemption.kind == "redeem",
                Redemption.at >= start,
                Redemption.at < end,
            )
        )
        total = len(refs) + int(redeemed or 0)
        if (
            len(typed) >= s.int("typed_codes", "min_typed")
            and total
            and (len(typed) / total >= s.num("typed_codes", "share"))
        ):
            out.append(
                Finding(
                    "typed_codes",
                    s.severity("typed_codes"),
                    "device",
                    device,
                    max(r.at for r in typed),
                    tuple(ref_id(r) for r in typed),
                    cinema=cinema,
                    device=device,
                    detail={"typed": len(typed), "entries": total, "day": day.isoformat()},
                )
            )
    return out


#: Every rule by code, in the order they are evaluated (docs/monitoring.md lists them).
RULES: dict[str, Rule] = {
    "duplicate_use": duplicate_use,
    "after_freeze": after_freeze,
    "burst": burst,
    "typed_codes": typed_codes,
    "member_spread": more.member_spread,
    "used_rescans": more.used_rescans,
    "forgery_attempts": more.forgery_attempts,
    "off_hours": more.off_hours,
    "silent_counter": more.silent_counter,
    "clock_skew": more.clock_skew,
    "chain_anomaly": more.chain_anomaly,
}


def evaluate(session: Session, batch: Batch, settings: RuleSettings) -> list[Finding]:
    """Every enabled rule over one batch (no writes; :func:`sync.office.alerts.raise_all` stores)."""
    out: list[Finding] = []
    for code, rule in RULES.items():
        if settings.on(code):
            out.extend(rule(session, batch, settings))
    return out
