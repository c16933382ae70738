"""The words the window shows for a verdict, through Qt's translator.

Verdict messages are looked up in the "Verdict" context with the English
text of :data:`kiosk.engine.verdict.MESSAGES` as the source and the reason
code as the disambiguation; ``scripts/gen_ts.py`` writes exactly those
entries into the .ts files from the same table, so the catalogue in the
engine stays the single source of the words and the CLI and window agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication

from kiosk.engine.verdict import MESSAGES, Verdict

translate = QCoreApplication.translate


def verdict_message(reason: str) -> str:
    en = MESSAGES[reason]["en"][0]
    return translate("Verdict", en, reason)


def verdict_next_step(reason: str) -> str:
    en = MESSAGES[reason]["en"][1]
    return translate("Verdict", en, f"{reason}.next")


def void_message(reason: str, voucher_id: str | None = None) -> str:
    """The answer to "undo the last redemption" (the engine's ``VOID_MESSAGES``, translated)."""
    from kiosk.engine.voids import VOID_MESSAGES

    msg = translate("Void", VOID_MESSAGES[reason]["en"], reason)
    return f"{msg}: {voucher_id}" if voucher_id else msg


def revocation_reason(why: str) -> str:
    names = {
        "lost": translate("VerdictText", "lost"),
        "stolen": translate("VerdictText", "stolen"),
        "fraud": translate("VerdictText", "fraud"),
        "replaced": translate("VerdictText", "replaced by a new voucher"),
        "frozen": translate("VerdictText", "frozen"),
    }
    return names.get(why, why)


def when_text(value: Any) -> str:
    """A stored time (ms or s since 1970, or ISO text) as local ``YYYY-MM-DD HH:MM``."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")
    return str(value)


@dataclass(frozen=True)
class VerdictText:
    """Everything the verdict panel paints: a tone, a title, fact lines, the next step."""

    tone: str  # "ok" | "warn" | "bad"
    word: str  # the one-word badge beside the icon (colour is never the only signal)
    title: str
    lines: tuple[str, ...]
    next_step: str


def describe(verdict: Verdict, *, fmt: str, counter: str = "") -> VerdictText:
    """The panel's words for ``verdict`` (``fmt``: the format chosen for this admission)."""
    r = verdict.reason
    d = verdict.detail
    v = verdict.voucher
    lines: list[str] = []
    if r == "accepted":
        tone, word = "ok", translate("VerdictText", "ADMIT")
        if v is not None:
            lines.append(
                translate("VerdictText", "Holder: {0}").format(
                    v.holder or translate("VerdictText", "(no name)")
                )
            )
        lines.append(translate("VerdictText", "Format: {0}").format(fmt))
        if v is not None:
            lines.append(translate("VerdictText", "Code: {0}").format(v.id))
        adm, total = d.get("admission"), d.get("admissions")
        if isinstance(adm, int) and isinstance(total, int) and total > 1:
            lines.append(translate("VerdictText", "Admission {0} of {1}").format(adm, total))
    elif r == "already_redeemed":
        tone, word = "warn", translate("VerdictText", "USED")
        lines.append(translate("VerdictText", "Used at: {0}").format(when_text(d.get("at"))))
        if d.get("where") == "here":
            place = counter or translate("VerdictText", "this counter")
        elif d.get("where") == "peer":  # another counter of this cinema (LAN, issue 15)
            place = str(d.get("counter") or d.get("device") or "")
            place = place or translate("VerdictText", "another counter")
        else:
            place = " / ".join(str(x) for x in (d.get("cinema"), d.get("device")) if x)
            place = place or translate("VerdictText", "another counter")
        lines.append(translate("VerdictText", "Counter: {0}").format(place))
        lines.append(
            translate("VerdictText", "By: {0}").format(
                d.get("staff") or translate("VerdictText", "(not signed in)")
            )
        )
        if v is not None:
            lines.append(translate("VerdictText", "Code: {0}").format(v.id))
    else:
        tone, word = "bad", translate("VerdictText", "STOP")
        if r == "revoked":
            lines.append(
                translate("VerdictText", "Reason: {0}").format(
                    revocation_reason(str(d.get("why", "")))
                )
            )
        elif r == "expired" and v is not None:
            lines.append(translate("VerdictText", "Valid until: {0}").format(when_text(v.exp)))
        elif r == "wrong_format":
            allowed = "/".join(d.get("formats") or (v.formats if v else ()))
            lines.append(
                translate("VerdictText", "Chosen: {0}   Voucher allows: {1}").format(fmt, allowed)
            )
        elif r == "unknown_code" and d.get("code"):
            lines.append(translate("VerdictText", "Code: {0}").format(d["code"]))
        if v is not None and r != "unknown_code":
            lines.append(translate("VerdictText", "Code: {0}").format(v.id))
    if verdict.clock_warning:
        lines.append(
            translate("VerdictText", "Warning: this counter's clock is behind; tell the manager.")
        )
    return VerdictText(tone, word, verdict_message(r), tuple(lines), verdict_next_step(r))
