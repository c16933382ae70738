"""Every word the console shows, Chinese first and English, in this one table.

Templates call ``t("key")``; a key missing here raises at render time (tests
render every page in both languages), so no label is ever shown in one
language only. The language is the ``cp_lang`` cookie (``zh`` by default, set
by the 中文/English switch on every page).
"""

from __future__ import annotations

from collections.abc import Callable

from sync.console import labels_settlement

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

LABELS: dict[str, tuple[str, str]] = {
    "app": ("工会观影券 · 办公室", "CinePass · Union office"),
    "login_title": ("登录", "Log in"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "totp": ("动态验证码（如已开启）", "One-time code (if enabled)"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "bad_login": ("用户名或密码错误", "Wrong username or password"),
    "locked": (
        "连续输错 5 次，账户已锁定 15 分钟",
        "Five wrong passwords in a row: the account is locked for 15 minutes",
    ),
    "disabled": ("此账户已停用", "This account is disabled"),
    "totp_required": ("请输入动态验证码", "Enter the one-time code"),
    "bad_totp": ("动态验证码错误", "Wrong one-time code"),
    "totp_setup_required": (
        "管理员必须使用动态验证码：请先运行 cinepass-admin user totp 用户名",
        "Administrators must use a one-time code: run cinepass-admin user totp NAME first",
    ),
    "expired_session": (
        "长时间未操作，请重新登录",
        "You were idle for too long: please log in again",
    ),
    "nav_overview": ("总览", "Overview"),
    "nav_vouchers": ("券", "Vouchers"),
    "nav_issue": ("发券", "Issue"),
    "nav_counters": ("影院与柜台", "Cinemas & counters"),
    "nav_settlement": ("结算", "Settlement"),
    "nav_audit": ("审计", "Audit"),
    "role_admin": ("管理员", "admin"),
    "role_operator": ("操作员", "operator"),
    "role_auditor": ("审计员", "auditor"),
    "role_cinema": ("影院", "cinema"),
    "switch_lang": ("English", "中文"),
    # errors
    "forbidden": ("无权访问", "Forbidden"),
    "forbidden_text": (
        "您的角色无权打开此页面。如需权限，请联系管理员。",
        "Your role may not open this page. Ask an administrator if you need it.",
    ),
    "csrf_text": (
        "表单已过期或来源不明（CSRF 校验失败），未做任何更改。请返回重试。",
        "The form is stale or did not come from this console (CSRF check failed); "
        "nothing was changed. Go back and try again.",
    ),
    "not_found": ("未找到", "Not found"),
    "not_found_text": ("没有这个页面或记录。", "There is no such page or record."),
    "refused": ("操作未执行", "Not done"),
    "error": ("出错了", "Something went wrong"),
    "error_text": ("服务器出错（已记录）。", "Unexpected server error (logged)."),
    "back": ("返回", "Back"),
    # vouchers
    "search_title": ("查券", "Find a voucher"),
    "search_label": ("券码", "Voucher code"),
    "search_hint": (
        "短码（大小写、横线、I/L/O 均可）、会员编号、持券人或批次",
        "short code (any case, dashes or not, I/L/O forgiven), member ref, holder or batch",
    ),
    "search": ("查询", "Search"),
    "no_results": ("没有找到匹配的券", "No voucher matches"),
    "results": ("查询结果", "Results"),
    "short_code": ("短码", "Short code"),
    "holder": ("持券人", "Holder"),
    "member_ref": ("会员编号", "Member ref"),
    "state": ("状态", "State"),
    "formats": ("影片格式", "Formats"),
    "cinemas": ("适用影院", "Cinemas"),
    "all_cinemas": ("全部合作影院", "every partner cinema"),
    "campaign": ("活动", "Campaign"),
    "valid_from": ("生效", "Valid from"),
    "valid_to": ("到期", "Valid until"),
    "batch": ("批次", "Batch"),
    "key_id": ("签名密钥", "Key id"),
    "issued_at": ("发放时间", "Issued"),
    "admissions": ("可用次数", "Admissions"),
    "state_active": ("有效", "有效 valid"),
    "state_frozen": ("已冻结", "已冻结 frozen"),
    "state_used": ("已核销", "已核销 redeemed"),
    "state_expired": ("已过期", "已过期 expired"),
    "trace": ("全程记录", "Trace"),
    "ev_issued": ("发放", "Issued"),
    "ev_redeem": ("核销", "Redeemed"),
    "ev_void": ("撤销核销", "Voided"),
    "ev_freeze": ("冻结", "Frozen"),
    "ev_unfreeze": ("解除冻结", "Unfrozen"),
    "ev_replaced_by": ("已换发新券", "Replaced by"),
    "ev_replaces": ("换发自", "Replaces"),
    "time": ("时间", "Time"),
    "event": ("事件", "Event"),
    "details": ("详情", "Details"),
    "cinema": ("影院", "Cinema"),
    "counter": ("柜台", "Counter"),
    "staff": ("售票员", "Staff"),
    "verdict": ("结算状态", "Status"),
    "by": ("操作人", "By"),
    "freeze_title": ("冻结此券", "Freeze this voucher"),
    "reason": ("原因", "Reason"),
    "note": ("备注", "Note"),
    "confirm_freeze": ("确认冻结", "确认冻结 Freeze"),
    "unfreeze": ("解除冻结", "Unfreeze"),
    "reissue_title": ("换发新券", "Reissue"),
    "reissue_text": (
        "旧券将被冻结（已换发），同一会员获得一张新券，有效期不变。",
        "The old voucher is frozen (replaced) and the same member gets a new one, same expiry.",
    ),
    "confirm_reissue": ("确认换发", "Reissue"),
    "done_reissue": (
        "已换发：这是新券，请下载交给会员",
        "Reissued: this is the new voucher; download it for the member",
    ),
    "card_title": ("会员券面", "Member's card"),
    "download_png": ("下载二维码 PNG", "Download QR (PNG)"),
    "download_pdf": ("下载券面 PDF", "Download card (PDF)"),
    "act_voucher.reissue": ("换发新券", "voucher reissued"),
    "act_voucher.card": ("下载券面", "card downloaded"),
    "done_freeze": (
        "已冻结：各柜台下次同步后拒收此券",
        "Frozen: every counter refuses it after its next sync",
    ),
    "done_unfreeze": ("已解除冻结", "Unfrozen"),
    "reason_lost": ("遗失", "lost"),
    "reason_stolen": ("被盗", "stolen"),
    "reason_fraud": ("欺诈", "fraud"),
    "reason_replaced": ("已换发", "replaced"),
    "st_valid": ("有效", "valid"),
    "st_duplicate": ("重复", "duplicate"),
    "st_void": ("已撤销", "void"),
    "st_rejected": ("拒绝", "rejected"),
    "st_review": ("待审核", "under review"),
    # overview
    "overview_title": ("今日总览", "Today"),
    "today_redeemed": ("今日核销", "Redeemed today"),
    "issued": ("已发放", "Issued"),
    "redeemed": ("已核销", "Redeemed"),
    "utilisation": ("使用率", "Utilisation"),
    "expiring": ("30 天内到期未用", "Unused, expiring within 30 days"),
    "under_review": ("待审核核销", "Redemptions under review"),
    "by_cinema": ("按影院和格式", "By cinema and format"),
    "total": ("合计", "Total"),
    "hourly": ("按小时", "By hour"),
    "latest": ("最新核销", "Latest redemptions"),
    "silent": ("超过 1 小时未联络的柜台", "Counters silent for more than an hour"),
    "never": ("从未联络", "never"),
    "none": ("无", "none"),
    "live": ("每 2 秒自动刷新", "refreshed every 2 s"),
    "last_contact": ("最后联络", "Last contact"),
    # issue
    "issue_title": ("发券", "Issue vouchers"),
    "issue_refused": (
        "未发券，文件或选项有问题",
        "Nothing issued: a problem with the file or options",
    ),
    "batches": ("已发批次", "Batches"),
    "count": ("张数", "Vouchers"),
    "downloads": ("下载", "Downloads"),
    "new_batch": ("新批次", "New batch"),
    "issue_confirm": ("确认按此名单发券？", "Issue one voucher per member of this file?"),
    "issuing": ("正在签发…", "Signing…"),
    "members_file": ("会员名单 CSV", "Members CSV"),
    "members_hint": (
        "两列：会员编号、姓名（首行为表头）；见 docs/members-csv.md",
        "two columns, member ref and name, with a header row; see docs/members-csv.md",
    ),
    "encoding": ("文件编码", "Encoding"),
    "chinese_excel": ("中文 Excel 另存的 CSV", "a Chinese Excel's CSV"),
    "valid_days": ("有效天数（至少 365）", "Valid days (at least 365)"),
    "issue_button": ("发券", "Issue"),
    "issued_batch": ("已发券，批次", "Issued: batch"),
    "act_batch.issue": ("发券", "batch issued"),
    "act_batch.download": ("下载批次", "batch downloaded"),
    # cinemas and counters
    "counters_title": ("影院与柜台", "Cinemas and counters"),
    "counters": ("柜台", "Counters"),
    "cinema_list": ("合作影院", "Partner cinemas"),
    "active_counters": ("在用柜台", "Active counters"),
    "new_code": ("生成注册码", "New enrolment code"),
    "code_for": ("柜台注册码 · 影院", "Enrolment code for cinema"),
    "code_text": (
        "24 小时内有效，只能使用一次。请在柜台电脑上输入：",
        "Valid for 24 hours, single use. Type it at the counter PC:",
    ),
    "add_cinema": ("添加影院", "Add a cinema"),
    "cinema_code": ("影院代码", "Cinema code"),
    "cinema_name": ("影院名称", "Cinema name"),
    "version": ("版本", "Version"),
    "pending": ("待上传", "Pending"),
    "clock_offset": ("时钟偏差（毫秒）", "Clock offset (ms)"),
    "last_error": ("最近错误", "Last error"),
    "revoke": ("停用", "Revoke"),
    "revoke_confirm": ("确定停用柜台", "Revoke counter"),
    "dev_active": ("在用", "active"),
    "dev_revoked": ("已停用", "revoked"),
    "done_revoked": ("柜台已停用，不能再上传或下载", "Counter revoked: it can no longer sync"),
    "done_cinema": ("影院已添加", "Cinema added"),
    "utc_note": ("最后联络时间为 UTC", "Last contact in UTC"),
    "act_device.code": ("生成柜台注册码", "enrolment code made"),
    "act_device.revoke": ("停用柜台", "counter revoked"),
    "act_cinema.add": ("添加影院", "cinema added"),
    # audit
    "audit_title": ("审计日志", "Audit log"),
    "actor": ("操作人", "Actor"),
    "action": ("操作", "Action"),
    "subject": ("对象", "Subject"),
    "before": ("之前", "Before"),
    "after": ("之后", "After"),
    "address": ("来源地址", "Address"),
    "from_day": ("起始日期", "From"),
    "to_day": ("截止日期", "To"),
    "filter": ("筛选", "Filter"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "no_rows": ("没有记录", "No rows"),
    "act_login": ("登录", "logged in"),
    "act_user.add": ("新建账户", "user added"),
    "act_user.passwd": ("修改密码", "password changed"),
    "act_user.disable": ("停用账户", "user disabled"),
    "act_user.totp": ("设置动态验证码", "second factor changed"),
    "act_user.locked": ("账户锁定", "account locked"),
    "act_voucher.freeze": ("冻结券", "voucher frozen"),
    "act_voucher.unfreeze": ("解除冻结", "voucher unfrozen"),
    "shown_max": ("最多显示 500 条，完整内容请导出", "At most 500 rows shown; export for all"),
    # settlement
    "settlement_title": ("月度结算", "Monthly settlement"),
    "month": ("月份", "Month"),
    "show": ("显示", "Show"),
    "valid_total": ("有效核销", "Valid"),
    "duplicates": ("重复", "Duplicates"),
    "voids": ("撤销", "Voids"),
    "rejected": ("拒绝", "Rejected"),
    "lines": ("明细", "Lines"),
    "record": ("记录", "Record"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "more_lines": (
        "页面只显示前 300 行，完整明细请下载",
        "The page shows the first 300 lines; download for all of them",
    ),
    "download_xlsx": ("下载 Excel", "Download Excel"),
    "download_statement": ("下载结算单 PDF", "Download statement (PDF)"),
    "format": ("格式", "Format"),
    "timezone_note": ("日期按北京时间", "Days in China Standard Time"),
}


def extend(more: dict[str, tuple[str, str]]) -> None:
    """Add one page family's labels (kept in its own ``labels_*.py`` module, so each
    family's words live beside each other); a key defined twice is a bug."""
    clash = LABELS.keys() & more.keys()
    if clash:
        raise KeyError(f"console labels defined twice: {sorted(clash)}")
    LABELS.update(more)


# One line per page family with its own labels module, e.g.
# ``from sync.console import labels_alerts`` then ``extend(labels_alerts.LABELS)``.


def translator_or(lang: str) -> Callable[[str, str], str]:
    """``t_or(key, fallback)``: for codes that may have no label yet (audit actions of
    other modules), shown as the code itself rather than failing the page."""
    index = 1 if lang == "en" else 0

    def t_or(key: str, fallback: str) -> str:
        return LABELS[key][index] if key in LABELS else fallback

    return t_or


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` for one language; an unknown key is a bug and raises ``KeyError``."""
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        return LABELS[key][index]

    return t


extend(labels_settlement.LABELS)
