"""The words of the 发券 Issue and 活动 Campaigns pages (Chinese first, English complete).

Registered in :mod:`sync.console.i18n` with ``extend``; the issue page's
older words (``issue_title``, ``members_file`` ...) stay in the main table,
where the first version of the page put them.
"""

from __future__ import annotations

# One label a line, so the table reads as a table:
# fmt: off
LABELS: dict[str, tuple[str, str]] = {
    "nav_campaigns": ("活动", "Campaigns"),
    "hotline_batch": ("挂失热线（留空则用发券单位的）", "Loss hotline (empty: the issuer's)"),
    "after_sales_batch": ("售后说明（留空则用发券单位的）", "After-sales rule (empty: the issuer's)"),
    "allow_repeat": ("允许向已持有本批次同类券的会员再次发放", "Issue even to members who already hold vouchers of this kind"),
    "campaign_hint": ("填写已登记的代码（见“活动”页），或只印在券面上的文字", "a registered code (see Campaigns), or any text printed on the cards"),
    "problems_title": ("名单中的问题", "Problems in the file"),
    "problems_count": ("处问题，未发放任何券", "problem(s): nothing was issued"),
    "line": ("行", "Line"),
    "problem": ("问题", "Problem"),
    "job_title": ("正在发券", "Issuing"),
    "job_members": ("张券", "vouchers"),
    "job_wait": ("可以离开此页：发券在服务器上继续进行，完成后可在“发券”页下载", "You may leave this page: issuing goes on at the server; the batch appears on the Issue page when done"),
    "phase_sign": ("签发并生成券面", "Signing and drawing the cards"),
    "phase_record": ("写入数据库并通知柜台", "Recording and announcing to the counters"),
    "phase_zip": ("打包二维码图片", "Packing the QR images"),
    "phase_done": ("完成", "Done"),
    "phase_failed": ("发券失败，未发放任何券", "Failed: nothing was issued"),
    "pdf_part": ("券面 PDF", "Cards PDF"),
    "campaigns_title": ("活动：发放与使用", "Campaigns: issued and used"),
    "campaign_code": ("代码", "Code"),
    "campaign_name": ("名称", "Name"),
    "starts_on": ("开始", "Starts"),
    "ends_on": ("结束", "Ends"),
    "planned": ("计划张数", "Planned"),
    "issued_n": ("已发放", "Issued"),
    "redeemed_n": ("已核销", "Redeemed"),
    "utilisation_share": ("使用率", "Utilisation"),
    "by_format": ("按格式核销", "Redeemed by format"),
    "expiring_30": ("30 天内到期", "Expiring within 30 days"),
    "unregistered": ("未登记", "not registered"),
    "add_campaign": ("登记活动", "Add a campaign"),
    "first_day": ("开始日期", "First day"),
    "last_day": ("结束日期", "Last day"),
    "planned_optional": ("计划张数（可不填）", "Planned vouchers (optional)"),
    "done_campaign": ("活动已登记", "Campaign added"),
    "act_campaign.add": ("登记活动", "campaign added"),
    "campaigns_note": ("券上的活动代码决定归属：登记之前发放的同代码批次也计入", "A voucher belongs to the campaign whose code it carries, batches issued before the campaign was added too"),
}
# fmt: on
