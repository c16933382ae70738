"""Campaigns: what the office plans, and how much of it members have used.

A campaign's ``code`` is the string every voucher of it carries in its
``campaign`` claim (``cinepass-admin issue --campaign CODE``, printed on the
card), so registering one needs no change to any voucher and a batch issued
before the campaign was registered belongs to it all the same. Codes seen on
vouchers but never registered still show in :func:`campaign_utilisation`
(``registered`` false), so no voucher falls out of the figures.

Counting rules (the same as the overview's): *issued* counts vouchers not
replaced by a reissue (the replacement counts instead, so a lost card is not
two); *redeemed* counts vouchers with at least one valid redemption (a void
makes the use ``void``, so it no longer counts), by the format used;
*expiring* counts vouchers still open (active, unused) whose last day is
within 30 days.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.server.models import Voucher, now_ms

from . import audit, tally
from .campaign_models import Campaign
from .errors import OfficeError
from .text import clean

EXPIRING_S = 30 * 86400
MAX_CODE = 128  # as the ``--campaign`` text of a voucher
MAX_NAME = 200
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_day(text: str, what: str) -> str:
    """A ``YYYY-MM-DD`` day, or exit 2 naming the flag."""
    try:
        if not DAY_RE.match(text.strip()):
            raise ValueError(text)
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise OfficeError(
            "bad_day", f"{what} {text!r}: 日期格式应为 / a day is written YYYY-MM-DD"
        ) from None


def add_campaign(
    session: Session, fields: dict[str, Any], *, actor: str, address: str = "cli"
) -> Campaign:
    """Register a campaign (audited ``campaign.add``) from its ``code``, ``name``,
    ``start`` and ``end`` days and optional ``planned`` vouchers; a code used twice
    is refused."""
    code = clean(str(fields.get("code") or "")).strip()
    name = clean(str(fields.get("name") or "")).strip() or code
    starts_on, ends_on = str(fields.get("start") or ""), str(fields.get("end") or "")
    planned: int | None = fields.get("planned")
    if not code or len(code) > MAX_CODE or "\n" in code or "," in code:
        raise OfficeError(
            "bad_campaign",
            f"活动代码 / campaign code: one line of 1 to {MAX_CODE} characters, no comma",
        )
    if len(name) > MAX_NAME:
        raise OfficeError(
            "bad_campaign", f"活动名称 / campaign name: at most {MAX_NAME} characters"
        )
    first, last = check_day(starts_on, "--start"), check_day(ends_on, "--end")
    if last < first:
        raise OfficeError("bad_day", f"--end {last} is before --start {first}")
    if planned is not None and planned < 1:
        raise OfficeError("bad_planned", "--planned must be at least 1")
    if session.get(Campaign, code) is not None:
        raise OfficeError("campaign_exists", f"活动已存在 / campaign {code!r} already exists")
    row = Campaign(
        code=code,
        name=name,
        starts_on=first,
        ends_on=last,
        planned=planned,
        created_at=now_ms(),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="campaign.add",
        subject=code,
        after={"name": name, "start": first, "end": last, "planned": planned},
        address=address,
    )
    return row


def list_campaigns(session: Session) -> list[Campaign]:
    """The registered campaigns, newest first (the issue page offers them)."""
    return list(
        session.scalars(select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.code))
    )


def campaign_utilisation(session: Session, code: str | None = None) -> list[dict[str, Any]]:
    """Issued vs redeemed per campaign (by format), and what expires within 30 days.

    ``code`` None: every registered campaign, then the codes vouchers carry
    without a registration. Each row: ``code``, ``name``, ``starts_on``,
    ``ends_on``, ``planned``, ``registered``, ``issued``, ``redeemed``,
    ``by_format`` ({format: vouchers redeemed in it}), ``utilisation``
    (redeemed / issued, 0.0 to 1.0, None with nothing issued), ``expiring``.
    """
    registered = {c.code: c for c in list_campaigns(session)}
    codes = list(registered)
    if code is None:
        seen = session.scalars(
            select(Voucher.campaign).where(Voucher.campaign.is_not(None)).distinct()
        )
        codes += sorted(c for c in seen if c is not None and c not in registered)
    else:
        codes = [code]
    live = Voucher.replaced_by.is_(None)
    used = tally.used_cti()  # the running counts (sync.office.tally), not a join per voucher
    issued = _per_campaign(session, select(Voucher.campaign, func.count()).where(live), codes)
    counted = tally.campaign_counts(session)
    by_format = {c: {f: n for f, n in counted.get(c, {}).items() if f != tally.ANY} for c in codes}
    redeemed = {c: counted.get(c, {}).get(tally.ANY, 0) for c in codes}
    now_s = now_ms() // 1000
    # no campaign filter in SQL: the 30-day ``exp`` range is the index to read (ix_voucher_exp)
    soon = select(Voucher.campaign, func.count()).where(
        live,
        Voucher.status == "active",
        Voucher.exp > now_s,
        Voucher.exp <= now_s + EXPIRING_S,
        ~Voucher.cti.in_(used),
    )
    wanted = set(codes)
    expiring = {
        c: int(n) for c, n in session.execute(soon.group_by(Voucher.campaign)) if c in wanted
    }
    rows = []
    for c in codes:
        reg = registered.get(c)
        n_issued, n_redeemed = issued.get(c, 0), redeemed.get(c, 0)
        rows.append(
            {
                "code": c,
                "name": reg.name if reg else c,
                "starts_on": reg.starts_on if reg else None,
                "ends_on": reg.ends_on if reg else None,
                "planned": reg.planned if reg else None,
                "registered": reg is not None,
                "issued": n_issued,
                "redeemed": n_redeemed,
                "by_format": dict(sorted(by_format.get(c, {}).items())),
                "utilisation": round(n_redeemed / n_issued, 4) if n_issued else None,
                "expiring": expiring.get(c, 0),
            }
        )
    return rows


def _per_campaign(session: Session, query: Any, codes: list[str]) -> dict[str, int]:
    """``{campaign: count}`` of a ``select(Voucher.campaign, count)`` over ``codes``."""
    if not codes:
        return {}
    q = query.where(Voucher.campaign.in_(codes)).group_by(Voucher.campaign)
    return {c: int(n) for c, n in session.execute(q)}
