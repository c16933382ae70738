"""The answer to a void request (the clerk's "undo the last redemption", 10 minutes at most)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VOID_WINDOW_MS = 10 * 60 * 1000

VOID_MESSAGES: dict[str, dict[str, str]] = {
    "voided": {"zh_CN": "已撤销上一次核销", "en": "Redemption voided"},
    "too_late": {
        "zh_CN": "超过10分钟，不能撤销",
        "en": "Too late: voids are allowed for 10 minutes",
    },
    "nothing_to_void": {"zh_CN": "没有可撤销的核销", "en": "Nothing to void"},
    "already_voided": {"zh_CN": "此核销已撤销", "en": "Already voided"},
    "not_recorded": {"zh_CN": "未能记录撤销", "en": "Void not recorded: storage failed"},
}


@dataclass(frozen=True)
class VoidResult:
    """The answer to a void request; ``ok`` only once the void row is committed."""

    reason: str  # voided, too_late, nothing_to_void, already_voided, not_recorded
    voided_uuid: str | None = None
    record_uuid: str | None = None
    voucher_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "voided"

    def message(self, lang: str = "zh_CN") -> str:
        return VOID_MESSAGES[self.reason].get(lang, VOID_MESSAGES[self.reason]["zh_CN"])

    def to_json(self, lang: str = "zh_CN") -> dict[str, Any]:
        return {
            "verdict": "voided" if self.ok else "rejected",
            "reason": self.reason,
            "message": self.message(lang),
            "message_en": self.message("en"),
            "voided": self.voided_uuid,
            "record": self.record_uuid,
            "voucher": None if self.voucher_id is None else {"id": self.voucher_id},
        }
