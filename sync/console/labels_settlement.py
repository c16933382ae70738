"""The settlement pages' words (结算: review decisions, sign-off, adjustments, alert marks).

Registered by :mod:`sync.console.i18n` with ``extend``; Chinese first, English
complete, as every console label.
"""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    "held": ("复核中", "Under review"),
    "alert_lines": ("告警相关", "In alerts"),
    "adjustments": ("调整", "Adjustments"),
    "payable": ("应付", "Payable"),
    "signed": ("已签核", "Signed off"),
    "not_signed": ("未签核", "Not signed off"),
    "signed_by": ("签核人", "Signed off by"),
    "sign_off": ("签核本月", "Sign the month off"),
    "sign_off_all": ("签核全部影院", "Sign off every cinema"),
    "sign_off_confirm": (
        "签核后结算单不再变化，确认签核",
        "A signed statement never changes. Sign off",
    ),
    "signed_note": (
        "本月已签核，之后的变化计入下月调整",
        "Signed off: later changes adjust the next month",
    ),
    "flags": ("标记", "Flags"),
    "alerts_col": ("告警", "Alerts"),
    "decision": ("决定", "Decision"),
    "decide_pay": ("支付", "Pay"),
    "decide_refuse": ("拒付", "Refuse"),
    "decision_note": ("理由（必填）", "Why (required)"),
    "decided_accepted": ("已接受", "accepted"),
    "decided_rejected": ("已拒绝", "rejected"),
    "done_review": ("已记录复核决定", "Review decision recorded"),
    "done_signoff": ("本月已签核", "Month signed off"),
    "origin_month": ("所属月份", "Month of the line"),
    "change": ("变更", "Change"),
    "delta": ("增减", "+/-"),
    "adj_late": ("签核后到达", "arrived after sign-off"),
    "adj_changed": ("签核后变更", "changed after sign-off"),
}
