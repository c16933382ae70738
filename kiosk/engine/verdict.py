"""Verdicts: the answer a counter gives for one scan, and the words for it.

A verdict is a value, never an exception: the GUI paints it, the CLI prints
it, the store logs it. ``REASONS`` is the closed set of reason codes (a public
contract: the CLI's JSON carries them). ``MESSAGES`` holds, for each reason,
what a clerk reads and what to do next, in Chinese (the default) and English.
This catalogue is the single source of those words: the Qt translation files
for the "Verdict" context are generated from it, so the window and the CLI
can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

Reason = Literal[
    "accepted",
    "already_redeemed",
    "revoked",
    "held",
    "expired",
    "not_yet_valid",
    "wrong_cinema",
    "wrong_format",
    "bad_signature",
    "unknown_key",
    "unknown_code",
    "malformed",
    "not_a_voucher",
    "not_recorded",
    "device_revoked",
    "clock_behind",
]

REASONS: tuple[str, ...] = get_args(Reason)  # the closed set, in this order

#: reasons about the counter, not the voucher: they replace every verdict while
#: they hold (a revoked counter's records can never be uploaded; a clock that
#: runs behind would admit expired vouchers and backdate records)
COUNTER_REASONS = ("device_revoked", "clock_behind")

# one row a reason: (reason, message, what to do next) in Chinese, then in English
_ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    ("accepted", "核销成功", "请放行观众。", "Accepted", "Admit the guest."),
    (
        "already_redeemed",
        "此券已使用",
        "请勿放行；如观众有疑问，请联系经理核查使用记录。",
        "Already used",
        "Do not admit; ask the manager to check the earlier use.",
    ),
    (
        "revoked",
        "此券已冻结",
        "请勿放行；请观众联系工会办公室。",
        "Voucher frozen",
        "Do not admit; the member should contact the union office.",
    ),
    # an online partner holds it for an order until the hold ends (issue 14)
    (
        "held",
        "此券已被线上预订",
        "请勿放行；此券正被线上订单占用，如有疑问请联系经理。",
        "Reserved online",
        "Do not admit; an online order holds it. Ask the manager.",
    ),
    (
        "expired",
        "此券已过期",
        "请勿放行；请观众联系工会办公室。",
        "Voucher expired",
        "Do not admit; the member should contact the union office.",
    ),
    (
        "not_yet_valid",
        "此券尚未生效",
        "请勿放行；请核对柜台电脑的日期时间。",
        "Not yet valid",
        "Do not admit; check this counter's date and time.",
    ),
    (
        "wrong_cinema",
        "此券不适用于本影院",
        "请勿放行；请告知观众可用的影院。",
        "Not valid at this cinema",
        "Do not admit; tell the guest where it can be used.",
    ),
    (
        "wrong_format",
        "此券不适用于所选影片格式",
        "请切换 2D/3D 后重新扫码，或请观众选择其他场次。",
        "Not valid for this format",
        "Switch 2D/3D and scan again, or choose another show.",
    ),
    (
        "bad_signature",
        "伪造或被篡改的券",
        "请勿放行；请通知经理。",
        "Forged or altered voucher",
        "Do not admit; call the manager.",
    ),
    (
        "unknown_key",
        "签发机构未知",
        "请勿放行；请同步本机后重试，仍失败请通知经理。",
        "Unknown issuer",
        "Do not admit; sync this counter and retry, else call the manager.",
    ),
    (
        "unknown_code",
        "券码不存在",
        "请核对券码后重新输入，或扫描二维码。",
        "Unknown code",
        "Check the code and type it again, or scan the QR code.",
    ),
    (
        "malformed",
        "二维码已损坏",
        "请重新扫描；仍失败请手动输入券码。",
        "Damaged code",
        "Scan again; if it still fails, type the short code.",
    ),
    (
        "not_a_voucher",
        "不是观影券",
        "请扫描观影券上的二维码。",
        "Not a voucher",
        "Scan the QR code on the movie voucher.",
    ),
    (
        "not_recorded",
        "未能记录，请勿放行",
        "本机存储故障，请重试；仍失败请通知经理。",
        "Not recorded: do not admit",
        "This counter cannot save; retry, else call the manager.",
    ),
    # the counter itself cannot be trusted: every verdict is this refusal (issue 10)
    (
        "device_revoked",
        "本柜台已被停用，请联系 IT",
        "请勿放行；请 IT 重新登记本柜台后再核销。",
        "This counter was disconnected by the union office",
        "Do not admit; IT must enrol this counter again before it can redeem.",
    ),
    (
        "clock_behind",
        "电脑时间不正确，请联系 IT",
        "请勿放行；请 IT 校正本机日期时间，再同步一次。",
        "The computer's clock is wrong, call IT",
        "Do not admit; IT must correct this PC's date and time, then sync once.",
    ),
)
#: reason -> language -> (message, what to do next)
MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    row[0]: {"zh_CN": (row[1], row[2]), "en": (row[3], row[4])} for row in _ROWS
}

#: ``already_redeemed`` at another counter of this cinema, learned over the LAN
#: (``detail.where == "peer"``, issue 15), names the counter (``detail.counter``, its
#: name without a trailing 号窗口): 此券已在 X 号窗口使用 / Already used at counter X.
NAMED_COUNTER_MESSAGES: dict[str, str] = {
    "zh_CN": "此券已在 {0} 号窗口使用",
    "en": "Already used at counter {0}",
}


def counter_label(name: str) -> str:
    """A counter's name as the named message wants it: "1号窗口" -> "1" (never empty)."""
    label = name.strip()
    for suffix in ("号窗口", "窗口"):
        if label.endswith(suffix) and len(label) > len(suffix):
            label = label[: -len(suffix)].strip()
            break
    return label or "?"


#: The words for a check that records nothing (``cinepass-kiosk verify``): an
#: accepted check must not read 核销成功 / Accepted, or a clerk would admit a
#: guest whose voucher stays unused and can be used again. Only the words
#: differ: the reason code stays ``accepted`` (a public contract).
CHECK_MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    "accepted": {
        "zh_CN": ("有效（未核销）", "仅查验，未记录核销；放行前请核销此券。"),
        "en": (
            "Valid, not redeemed",
            "Checked only, nothing recorded; redeem it before admitting.",
        ),
    },
}

LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"


def message_for(
    reason: str, lang: str = DEFAULT_LANGUAGE, *, check_only: bool = False
) -> tuple[str, str]:
    """(message, next step) for ``reason`` in ``lang`` (falls back to Chinese).

    ``check_only``: the words for a check that recorded nothing (see
    :data:`CHECK_MESSAGES`); reasons without their own check words keep theirs.
    """
    table = CHECK_MESSAGES.get(reason) if check_only else None
    table = table or MESSAGES[reason]
    return table.get(lang) or table[DEFAULT_LANGUAGE]


@dataclass(frozen=True)
class VoucherInfo:
    """What a verdict shows about the voucher (never the full token)."""

    id: str  # short code
    exp: int
    formats: tuple[str, ...]
    holder: str | None
    iss: str = ""
    cinemas: tuple[str, ...] | None = None
    campaign: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "exp": self.exp,
            "formats": list(self.formats),
            "holder": self.holder,
            "iss": self.iss,
            "cinemas": None if self.cinemas is None else list(self.cinemas),
            "campaign": self.campaign,
        }


@dataclass(frozen=True)
class Verdict:
    """The answer for one scan.

    ``detail`` carries reason-specific facts: for ``already_redeemed`` the
    earlier ``at`` / ``device`` / ``staff``; for ``revoked`` the ``why``; for
    codec failures the codec's own ``code``. ``clock_warning`` is set when the
    kiosk's clock runs behind the newest time it has ever seen.
    ``check_only`` marks the answer of a check that recorded nothing
    (``verify``): its words say "valid, not redeemed" instead of "accepted".
    """

    reason: str
    voucher: VoucherInfo | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    record_uuid: str | None = None
    clock_warning: bool = False
    check_only: bool = False

    @property
    def accepted(self) -> bool:
        return self.reason == "accepted"

    @property
    def verdict(self) -> str:
        return "accepted" if self.accepted else "rejected"

    @property
    def headline(self) -> str:
        """The first word the CLI prints: ACCEPTED / REJECTED, or VALID for a check."""
        return "VALID" if self.check_only and self.accepted else self.verdict.upper()

    def as_check(self) -> Verdict:
        """This verdict as the answer of a check that recorded nothing."""
        return replace(self, check_only=True)

    def message(self, lang: str = DEFAULT_LANGUAGE) -> str:
        peer = self.reason == "already_redeemed" and self.detail.get("where") == "peer"
        name = self.detail.get("counter") if peer else None
        if isinstance(name, str) and name:
            template = NAMED_COUNTER_MESSAGES.get(lang) or NAMED_COUNTER_MESSAGES[DEFAULT_LANGUAGE]
            return template.format(counter_label(name))
        return message_for(self.reason, lang, check_only=self.check_only)[0]

    def next_step(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return message_for(self.reason, lang, check_only=self.check_only)[1]

    def to_json(self, lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "message": self.message(lang),
            "next_step": self.next_step(lang),
            "message_en": self.message("en"),
            "voucher": None if self.voucher is None else self.voucher.to_json(),
            "detail": self.detail,
            "record": self.record_uuid,
            "clock_warning": self.clock_warning,
        }
