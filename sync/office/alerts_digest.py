"""The daily digest of the alerts (issue 13): per rule, new, open and resolved; the top subjects.

One business-neutral day in China Standard Time (the office's clock,
:data:`sync.issuing.DISPLAY_TZ`): ``new`` alerts raised that day, ``resolved``
that day, ``open`` (open or acked) at the end of it (or now, for today). The
duty reads it in the morning; ``cinepass-admin alerts digest`` prints it, and
the server sends the same object by webhook and mail (docs/monitoring.md).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sync.issuing import DISPLAY_TZ
from sync.server.models import now_ms

from .alerts_models import Alert
from .errors import OfficeError

TOP = 5


def day_bounds(day: date) -> tuple[int, int]:
    """[start, end) of ``day`` in China Standard Time, UTC ms."""
    start = datetime.combine(day, time(0), DISPLAY_TZ)
    return int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000)


def parse_day(text: str | None) -> date:
    """``--date YYYY-MM-DD`` (default: today in China Standard Time); bad_date otherwise."""
    if not text:
        return datetime.fromtimestamp(now_ms() / 1000, DISPLAY_TZ).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise OfficeError(
            "bad_date", f"日期应为 YYYY-MM-DD / --date must be YYYY-MM-DD, not {text!r}"
        ) from None


def digest(session: Session, day: date) -> dict[str, Any]:
    """The day's digest: ``{"date", "rules": {rule: {new, open, resolved, top}}, "totals"}``.

    ``top``: the subjects with most alerts raised or still open, each
    ``{"subject": "kind:key", "alerts": n, "count": sum of counts}``.
    """
    start, end = day_bounds(day)
    at_end = min(end, now_ms())
    q = select(Alert).where(
        Alert.created_at < end,
        or_(Alert.resolved_at.is_(None), Alert.resolved_at >= start),
    )
    rules: dict[str, dict[str, Any]] = defaultdict(lambda: {"new": 0, "open": 0, "resolved": 0})
    subjects: dict[str, Counter[str]] = defaultdict(Counter)
    weights: dict[str, Counter[str]] = defaultdict(Counter)
    for a in session.scalars(q):
        r = rules[a.rule]
        new = a.created_at >= start
        resolved = a.resolved_at is not None and a.resolved_at < end
        still_open = a.resolved_at is None or a.resolved_at >= at_end
        r["new"] += new
        r["resolved"] += resolved
        r["open"] += still_open
        if new or still_open:
            key = f"{a.subject_kind}:{a.subject_key}"
            subjects[a.rule][key] += 1
            weights[a.rule][key] += a.count
    out = {}
    for rule in sorted(rules):
        top = sorted(subjects[rule], key=lambda k: (-weights[rule][k], k))[:TOP]
        out[rule] = rules[rule] | {
            "top": [
                {"subject": k, "alerts": subjects[rule][k], "count": weights[rule][k]} for k in top
            ]
        }
    totals = {k: sum(r[k] for r in out.values()) for k in ("new", "open", "resolved")}
    return {"date": day.isoformat(), "rules": out, "totals": totals}


def digest_text(d: dict[str, Any]) -> str:
    """The digest as the mail's text (Chinese first, English complete)."""
    t = d["totals"]
    lines = [
        f"告警日报 / alert digest {d['date']}",
        f"新增 new {t['new']} · 未解决 open {t['open']} · 已解决 resolved {t['resolved']}",
        "",
    ]
    for rule, r in d["rules"].items():
        lines.append(
            f"{rule}: 新增 new {r['new']}, 未解决 open {r['open']}, 已解决 resolved {r['resolved']}"
        )
        lines += [f"    {s['subject']} ({s['alerts']} / {s['count']})" for s in r["top"]]
    if not d["rules"]:
        lines.append("没有告警 / no alerts")
    return "\n".join(lines) + "\n"
