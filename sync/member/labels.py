"""Every word the member page shows, Chinese first and English, in this one table.

Templates call ``t("key")``; a key missing here raises at render time (the
tests render every page in both languages), so no label is shown in one
language only. The language is the ``cp_m_lang`` cookie (``zh`` by default,
set by the 中文/English switch on every page). The member page keeps its own
table instead of the console's: members and office staff read different words.
"""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

LABELS: dict[str, tuple[str, str]] = {
    "app": ("工会观影券 · 会员", "CinePass · Members"),
    "switch_lang": ("English", "中文"),
    "lookup_title": ("查看我的观影券", "See my movie voucher"),
    "lookup_intro": (
        "输入券面上的券码，以及发券时登记的会员编号的后四位。",
        "Enter the code printed on your voucher and the last four characters of the "
        "member number it was issued to.",
    ),
    "code": ("券码", "Voucher code"),
    "code_hint": (
        "如 ABCD-EFGH-JKMN-PQRS，大小写、空格、横线均可",
        "e.g. ABCD-EFGH-JKMN-PQRS; any case, spaces or dashes",
    ),
    "factor": ("会员编号后四位", "Last 4 of member number"),
    "factor_hint": (
        "发券时登记的会员编号的最后四个字符",
        "the last four characters of the member number on record",
    ),
    "look_up": ("查看", "Look up"),
    "no_match": (
        "券码或会员编号后四位不正确。",
        "The code or the last four characters of the member number are not right.",
    ),
    "rate_limited": (
        "尝试次数过多，请 15 分钟后再试。",
        "Too many tries: please wait 15 minutes and try again.",
    ),
    "session_over": (
        "查看已超时，请重新输入。",
        "Your view timed out: please enter the code again.",
    ),
    "csrf_text": (
        "表单已过期，请重新打开本页再试，未做任何更改。",
        "The form is stale: open this page again and retry. Nothing was changed.",
    ),
    "not_found": ("没有这个页面。", "There is no such page."),
    "error_text": (
        "服务器出错（已记录），请稍后再试。",
        "Unexpected server error (logged): try again later.",
    ),
    "back": ("返回", "Back"),
    "leave": ("退出查看", "Done"),
    # the voucher
    "voucher_title": ("我的观影券", "My movie voucher"),
    "state": ("状态", "Status"),
    "state_active": ("有效", "Valid"),
    "state_frozen": ("已冻结", "Frozen"),
    "state_used": ("已核销", "Used"),
    "state_expired": ("已过期", "Expired"),
    "state_held": ("已预订", "Reserved online"),
    "held_note": (
        "此券已在线上订票中预订，订单完成或取消后更新。",
        "This voucher is reserved by an online ticket order; it updates when the order "
        "completes or ends.",
    ),
    "holder": ("持券人", "Holder"),
    "validity": ("有效期", "Valid"),
    "valid_range": (
        "{0} 至 {1}（含周末及法定节假日）",
        "{0} to {1} (weekends and public holidays included)",
    ),
    "formats": ("适用影片", "Films"),
    "uses_left": ("剩余次数", "Admissions left"),
    "cinemas": ("使用影院", "Cinemas"),
    "all_cinemas": ("所有合作影院", "Every partner cinema"),
    "phone": ("电话", "Phone"),
    "qr_title": ("到影院售票处出示此二维码", "Show this QR code at the box office"),
    "qr_alt": ("观影券二维码", "Voucher QR code"),
    "qr_hidden": (
        "此券当前不能使用，不显示二维码。",
        "This voucher cannot be used now: no QR code is shown.",
    ),
    "rights": ("使用须知", "Your rights and the rules"),
    "rights_card": ("券面原文", "As printed on the card"),
    "how_to_redeem": (
        "在适用影院售票处出示二维码扫码，或告知券码，兑换 {0} 电影票；一经核销即失效。",
        "At the box office of a cinema above, show the QR code or say the code to get a {0} "
        "ticket; once used, the voucher is spent.",
    ),
    "rules_en": (
        "不可转售，不可兑现。遗失请挂失，工会核实后补发新券，原券作废。",
        "It may not be resold or exchanged for cash. If you lose it, report it lost: the union "
        "checks and issues a new voucher, and the old one stops working.",
    ),
    "hotline": ("客服热线", "Hotline"),
    # report lost
    "lost_title": ("挂失", "Report lost"),
    "lost_intro": (
        "券丢失或被他人看到二维码？挂失后此券立即冻结，任何影院都不能再使用；工会审核后为您补发新券。",
        "Lost the voucher, or someone saw its QR code? Reporting it lost freezes it at once: "
        "no cinema can use it any more. The union reviews it and issues you a new one.",
    ),
    "lost_confirm": (
        "我确认挂失此券（挂失后不能自行恢复）",
        "I confirm: report this voucher lost (I cannot undo this myself)",
    ),
    "lost_button": ("挂失", "Report lost"),
    "lost_need_confirm": ("请先勾选确认。", "Tick the confirmation first."),
    "lost_done": ("已挂失：此券已冻结。", "Reported lost: the voucher is frozen."),
    "frozen_what_now": (
        "此券已冻结，影院不会再接受。工会审核后补发新券，请致电 {0} 办理。",
        "This voucher is frozen: cinemas will refuse it. The union reviews it and issues a "
        "new one: call {0} to arrange it.",
    ),
    "the_union": ("发券工会", "the union that issued it"),
    "footer": (
        "二维码即是券：请勿截图发给他人。",
        "The QR code is the voucher: do not send it to anyone.",
    ),
}


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` for one language; an unknown key is a bug and raises ``KeyError``."""
    index = 1 if lang == "en" else 0
    return lambda key: LABELS[key][index]
