"""The web console over HTTP against the real server on loopback (no browser).

Login and lockout, cookie flags, CSRF, roles (403 pages), the idle timeout,
freeze/unfreeze with their audit rows, every page in both languages, and
``--no-console``. The browser tests are in test_console_browser.py.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select, update
from syncsupport import Central

from sync.office import users
from sync.office.signoff_models import LineChange, record_adjustments
from sync.server.embedded import EmbeddedServer
from sync.server.models import AuditEntry, Device, Redemption, Voucher, now_ms
from sync.voucher import decode_voucher

pytestmark = pytest.mark.timeout(180)
PW = "office pass 1"


def make_user(central: Central, name: str, role: str, cinema: str | None = None) -> None:
    with central.session() as s:
        users.add_user(s, name, role, PW, cinema=cinema, actor="test")


def hidden(html: str, name: str = "csrf") -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no hidden {name} in page"
    return m.group(1)


def submit(
    s: requests.Session, url: str, page: requests.Response, **fields: str
) -> requests.Response:
    """POST a console form with the CSRF token of the ``page`` it was on."""
    return s.post(url, data={**fields, "csrf": hidden(page.text)}, timeout=10)


def login(base: str, name: str, password: str = PW) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    page = s.get(f"{base}/console/login", timeout=10)
    r = s.post(
        f"{base}/console/login",
        data={"username": name, "password": password, "csrf": hidden(page.text)},
        timeout=10,
        allow_redirects=False,
    )
    return s, r


def logged_in(base: str, name: str) -> requests.Session:
    s, r = login(base, name)
    assert r.status_code == 303, r.text[:500]
    return s


def redeem_row(central: Central, token: str, cinema: str = "CIN-A", status: str = "valid") -> None:
    """A stored redemption as ingest leaves it (the overview and trace read these rows)."""
    cti = decode_voucher(token).voucher.cti.hex()
    with central.session() as s:
        line = Redemption(
            uuid=str(uuid.uuid4()),
            v=1,
            device="dev-test",
            seq=1,
            kind="redeem",
            voucher=cti,
            token=token,
            cinema=cinema,
            format="2D",
            staff="小王",
            at=now_ms(),
            voids="",
            prev="0" * 64,
            hash="0" * 64,
            sig="0" * 128,
            status=status,
            received_at=now_ms(),
        )
        s.add(line)
        # what ingest does with every line it stores (the running counts, a signed month)
        change = LineChange(line.uuid, cinema, line.at, "redeem", "2D", None, status, cti)
        record_adjustments(s, [change])


@pytest.fixture
def office(central: Central) -> Iterator[Central]:
    make_user(central, "op", "operator")
    make_user(central, "boss", "admin")
    make_user(central, "aud", "auditor")
    make_user(central, "cina", "cinema", "CIN-A")
    yield central


def test_login_page_labels_and_cookie_flags(office: Central) -> None:
    base = office.url
    page = requests.get(f"{base}/console/login", timeout=10)
    assert page.status_code == 200
    for label in ("用户名", "密码", "登录"):
        assert label in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    s = requests.Session()
    s.cookies.set("cp_lang", "en")
    en = s.get(f"{base}/console/login", timeout=10).text
    for label in ("Username", "Password", "Log in"):
        assert label in en
    _s, r = login(base, "op")
    assert r.status_code == 303 and r.headers["location"].endswith("/console/overview")
    cookie = r.headers["set-cookie"]
    assert "cp_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/console" in cookie and "Secure" not in cookie  # plain HTTP here
    with office.session() as db:
        assert db.scalar(select(AuditEntry.action).where(AuditEntry.action == "login")) == "login"


def test_not_logged_in_redirects_to_login(office: Central) -> None:
    r = requests.get(f"{office.url}/console/vouchers?q=x", timeout=10, allow_redirects=False)
    assert r.status_code == 303 and "/console/login?next=" in r.headers["location"]


def test_five_wrong_passwords_lock_the_account(office: Central) -> None:
    for _ in range(4):
        _s, r = login(office.url, "op", "wrong password")
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    _s, r = login(office.url, "op", "wrong password")
    assert r.status_code == 429 and "锁定 15 分钟" in r.text
    _s, r = login(office.url, "op")  # the right password, but locked
    assert r.status_code == 429
    _s, r = login(office.url, "nobody", "wrong password")
    assert r.status_code == 401  # the same words as a wrong password: no user enumeration
    with office.session() as db:
        users.set_password(db, "op", PW, actor="test")
    assert login(office.url, "op")[1].status_code == 303


def test_posts_without_csrf_are_refused(office: Central) -> None:
    [token] = office.issue(1)
    cti = decode_voucher(token).voucher.cti.hex()
    s = logged_in(office.url, "op")
    for data in ({"reason": "lost"}, {"reason": "lost", "csrf": "forged"}):
        r = s.post(f"{office.url}/console/vouchers/{cti}/freeze", data=data, timeout=10)
        assert r.status_code == 403 and "CSRF" in r.text
    r = requests.post(  # the login form too (no double-submit cookie)
        f"{office.url}/console/login", data={"username": "op", "password": PW}, timeout=10
    )
    assert r.status_code == 403
    with office.session() as db:
        assert db.get(Voucher, cti).status == "active"


def test_freeze_unfreeze_audited_and_trace(office: Central) -> None:
    [token] = office.issue(1, holder="张三")
    v = decode_voucher(token).voucher
    with office.session() as db:  # the member ref comes from the members CSV at issue
        db.get(Voucher, v.cti.hex()).member_ref = "M-001"
    redeem_row(office, token)
    s = logged_in(office.url, "op")
    sloppy = v.short_code.lower().replace("-", " ").replace("1", "l").replace("0", "o")
    page = s.get(f"{office.url}/console/vouchers", params={"q": sloppy}, timeout=10)
    assert page.status_code == 200 and v.short_code in page.text and "已核销" in page.text
    assert "原因" in page.text and "确认冻结" in page.text and "小王" in page.text
    r = submit(
        s,
        f"{office.url}/console/vouchers/{v.cti.hex()}/freeze",
        page,
        reason="stolen",
        note="热线来电",
    )
    assert r.status_code == 200 and "已冻结" in r.text and "热线来电" in r.text
    again = submit(s, f"{office.url}/console/vouchers/{v.cti.hex()}/freeze", page, reason="lost")
    assert again.status_code == 400 and "already frozen" in again.text
    r = submit(s, f"{office.url}/console/vouchers/{v.cti.hex()}/unfreeze", page)
    assert r.status_code == 200 and "已冻结" not in r.text.split("<h2>")[0]
    with office.session() as db:
        log = [
            (a.actor, a.action, a.subject, a.address)
            for a in db.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("voucher.%"))
                .order_by(AuditEntry.id)
            )
        ]
        assert db.get(Voucher, v.cti.hex()).status == "active"
    assert log == [
        ("op", "voucher.freeze", v.short_code, "127.0.0.1"),
        ("op", "voucher.unfreeze", v.short_code, "127.0.0.1"),
    ]
    for q, expect in (("M-001", v.short_code), ("张", v.short_code), ("nobody-here", "没有找到")):
        assert expect in s.get(f"{office.url}/console/vouchers", params={"q": q}, timeout=10).text


def test_roles_get_403_pages(office: Central) -> None:
    [token] = office.issue(1)
    cti = decode_voucher(token).voucher.cti.hex()
    aud = logged_in(office.url, "aud")
    r = aud.get(f"{office.url}/console/vouchers/{cti}", timeout=10)
    assert r.status_code == 200 and "确认冻结" not in r.text  # reads, cannot change
    r = aud.post(
        f"{office.url}/console/vouchers/{cti}/freeze",
        data={"reason": "lost", "csrf": hidden(r.text)},
        timeout=10,
    )
    assert r.status_code == 403 and "无权访问" in r.text
    cin = logged_in(office.url, "cina")
    for path in (
        "/console/settlement/CIN-B",
        f"/console/vouchers/{cti}",
        "/console/audit",
        "/console/settlement/CIN-B/csv",
        "/console/settlement/CIN-B/xlsx",
        "/console/settlement/CIN-B/pdf",
        "/console/audit.csv",
    ):
        r = cin.get(f"{office.url}{path}", timeout=10)
        assert r.status_code == 403 and "无权访问" in r.text, path
    r = cin.get(f"{office.url}/console/settlement", timeout=10)
    assert r.status_code == 200 and r.url.split("?")[0].endswith("/settlement/CIN-A")
    op = logged_in(office.url, "op")
    assert op.get(f"{office.url}/console/audit", timeout=10).status_code == 403


def test_idle_session_expires(office: Central) -> None:
    s = logged_in(office.url, "op")
    assert s.get(f"{office.url}/console/overview", timeout=10).status_code == 200
    with office.session() as db:
        db.execute(
            update(users.ConsoleSession).values(last_seen=now_ms() - users.IDLE_S * 1000 - 1000)
        )
    r = s.get(f"{office.url}/console/overview", timeout=10, allow_redirects=False)
    assert r.status_code == 303 and "expired=1" in r.headers["location"]
    assert "长时间未操作" in s.get(f"{office.url}{r.headers['location']}", timeout=10).text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_renders(office: Central, lang: str) -> None:
    [token] = office.issue(1, holder="李四")
    v = decode_voucher(token).voucher
    redeem_row(office, token)
    s = logged_in(office.url, "boss")
    s.cookies.set("cp_lang", lang, path="/")
    month = time.strftime("%Y-%m")
    for path in (
        "/console/overview",
        "/console/overview/live",
        "/console/vouchers",
        f"/console/vouchers?q={v.short_code}",
        "/console/audit",
        "/console/audit?actor=boss",
        "/console/counters",
        f"/console/settlement?month={month}",
        f"/console/settlement/CIN-A?month={month}",
    ):
        r = s.get(f"{office.url}{path}", timeout=10)
        assert r.status_code == 200, (path, r.text[:800])
    live = s.get(f"{office.url}/console/overview/live", timeout=10).text
    assert 'id="live-body"' in live and "CIN-A" in live
    csv_text = s.get(f"{office.url}/console/audit.csv", timeout=10).text
    assert csv_text.startswith("\ufefftime,actor,action") and "login" in csv_text
    assert (
        "valid"
        in s.get(f"{office.url}/console/settlement/CIN-A/csv?month={month}", timeout=10).text
    )
    xlsx = s.get(f"{office.url}/console/settlement/CIN-A/xlsx?month={month}", timeout=10)
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    pdf = s.get(f"{office.url}/console/settlement/CIN-A/pdf?month={month}", timeout=30)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert s.get(f"{office.url}/console/nothing", timeout=10).status_code == 404
    assert s.get(f"{office.url}/console/static/console.css", timeout=10).status_code == 200
    csrf = hidden(s.get(f"{office.url}/console/overview", timeout=10).text)
    r = s.post(
        f"{office.url}/console/logout", data={"csrf": csrf}, timeout=10, allow_redirects=False
    )
    assert r.status_code == 303
    assert (
        s.get(f"{office.url}/console/overview", timeout=10, allow_redirects=False).status_code
        == 303
    )


def test_no_console_leaves_it_out(central_db: Central) -> None:
    from sync.server.app import create_app
    from sync.server.main import build_parser

    assert build_parser().parse_args(["--no-console"]).no_console is True
    app = create_app(central_db.engine, console=False)
    assert app.fastapi is not None
    assert not any(getattr(r, "path", "") == "/console" for r in app.fastapi.routes)
    srv = EmbeddedServer(central_db.engine).start()
    try:
        assert requests.get(f"{srv.url}/console/login", timeout=10).status_code == 200
    finally:
        srv.stop()


def test_totp_login(office: Central) -> None:
    import pyotp

    with office.session() as db:
        secret = users.set_totp(db, "boss", True, actor="test")
    assert secret
    s, r = login(office.url, "boss")
    assert r.status_code == 401 and "请输入动态验证码" in r.text
    page = s.get(f"{office.url}/console/login", timeout=10)
    r = s.post(
        f"{office.url}/console/login",
        data={
            "username": "boss",
            "password": PW,
            "totp": pyotp.TOTP(secret).now(),
            "csrf": hidden(page.text),
            "next": "/console/audit",
        },
        timeout=10,
        allow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/audit"
    s2 = requests.Session()
    page = s2.get(f"{office.url}/console/login", timeout=10)
    r = s2.post(  # a "next" outside the console is ignored (no open redirect)
        f"{office.url}/console/login",
        data={
            "username": "op",
            "password": PW,
            "csrf": hidden(page.text),
            "next": "//evil.example/x",
        },
        timeout=10,
        allow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/overview"


def test_cinemas_and_counters(office: Central, tmp_path) -> None:
    from kiosk.enrollment import enroll

    s = logged_in(office.url, "op")
    page = s.get(f"{office.url}/console/counters", timeout=10)
    assert page.status_code == 200 and "影院与柜台" in page.text and "CIN-B" in page.text
    r = submit(s, f"{office.url}/console/counters/cinema", page, code="SH-09", name="上海九号")
    assert r.status_code == 200 and "SH-09" in r.text and "影院已添加" in r.text
    r = submit(s, f"{office.url}/console/counters/code", page, cinema="SH-09")
    code = re.search(r'id="enrol-code">([^<]+)<', r.text).group(1)
    assert r.status_code == 200 and len(code) == 14
    enroll(tmp_path / "k", office.url, code)  # the code shown works at a counter
    page = s.get(f"{office.url}/console/counters", timeout=10)
    with office.session() as db:
        [device] = db.scalars(select(Device).where(Device.cinema == "SH-09")).all()
        assert code not in str([(a.before, a.after) for a in db.scalars(select(AuditEntry))])
    assert device.id in page.text
    r = submit(s, f"{office.url}/console/counters/{device.id}/revoke", page)
    assert r.status_code == 200 and "柜台已停用" in r.text
    with office.session() as db:
        assert db.get(Device, device.id).status == "revoked"
        actions = [a.action for a in db.scalars(select(AuditEntry).where(AuditEntry.actor == "op"))]
    assert actions == ["login", "cinema.add", "device.code", "device.revoke"]
    aud = logged_in(office.url, "aud")
    page = aud.get(f"{office.url}/console/counters", timeout=10)
    assert page.status_code == 200 and "生成注册码" not in page.text
    r = aud.post(
        f"{office.url}/console/counters/code",
        data={"cinema": "SH-09", "csrf": hidden(page.text)},
        timeout=10,
    )
    assert r.status_code == 403
    cin = logged_in(office.url, "cina")
    assert cin.get(f"{office.url}/console/counters", timeout=10).status_code == 403


def test_reissue_and_card_downloads(office: Central) -> None:
    import cv2
    import numpy as np
    import zxingcpp

    [token] = office.issue(1, holder="王*")
    old = decode_voucher(token).voucher
    s = logged_in(office.url, "op")
    page = s.get(f"{office.url}/console/vouchers/{old.cti.hex()}", timeout=10)
    png = s.get(f"{office.url}/console/vouchers/{old.cti.hex()}/qr.png", timeout=10)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    img = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert [b.text for b in zxingcpp.read_barcodes(img)] == [token]
    r = submit(s, f"{office.url}/console/vouchers/{old.cti.hex()}/reissue", page, note="卡片遗失")
    assert r.status_code == 200 and "已换发" in r.text and "有效" in r.text
    new_cti = r.url.split("/vouchers/")[1].split("?")[0]
    assert new_cti != old.cti.hex()
    with office.session() as db:
        assert db.get(Voucher, old.cti.hex()).replaced_by == new_cti
        new_short = db.get(Voucher, new_cti).short_code
        row = db.scalar(select(AuditEntry).where(AuditEntry.action == "voucher.reissue"))
        assert row.subject == old.short_code and row.after["replaced_by"] == new_short
    assert old.short_code in r.text  # the trace links back to the card it replaces
    pdf = s.get(f"{office.url}/console/vouchers/{new_cti}/card.pdf", timeout=30)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    r = s.get(f"{office.url}/console/vouchers/{old.cti.hex()}/card.pdf", timeout=10)
    assert r.status_code == 400 and "frozen" in r.text  # no card for the replaced voucher
    aud = logged_in(office.url, "aud")
    assert aud.get(f"{office.url}/console/vouchers/{new_cti}/qr.png", timeout=10).status_code == 403
    with office.session() as db:
        cards = list(
            db.scalars(select(AuditEntry.after).where(AuditEntry.action == "voucher.card"))
        )
    assert cards == [{"download": "png"}, {"download": "pdf"}]


def test_overview_counts_expiring_and_review(office: Central) -> None:
    soon = office.issue(2, valid_days=10)
    office.issue(1)  # a year: not expiring
    redeem_row(office, soon[1])  # used: no longer a worry
    redeem_row(office, office.issue(1)[0], status="review")
    s = logged_in(office.url, "aud")
    live = s.get(f"{office.url}/console/overview/live", timeout=10).text
    assert re.search(r"30 天内到期未用</span><b>1</b>", live), live
    assert re.search(r"待审核核销</span><b>1</b>", live)
    assert re.search(r"今日核销</span><b[^>]*>1</b>", live)  # review is not (yet) a valid use
    cin = logged_in(office.url, "cina")
    live = cin.get(f"{office.url}/console/overview/live", timeout=10).text
    assert "30 天内到期未用" not in live and "已发放" not in live  # the union's figures only


def test_session_cookie_is_secure_under_https(central_db: Central, tmp_path) -> None:
    from test_sync_https import make_ca_and_cert

    ca, cert, key = make_ca_and_cert(tmp_path, ["localhost"])
    make_user(central_db, "op", "operator")
    srv = EmbeddedServer(central_db.engine, ssl=(str(cert), str(key))).start()
    try:
        s = requests.Session()
        page = s.get(f"{srv.url}/console/login", timeout=10, verify=str(ca))
        assert "Secure" in page.headers["set-cookie"]  # the login form's CSRF cookie
        r = s.post(
            f"{srv.url}/console/login",
            data={"username": "op", "password": PW, "csrf": hidden(page.text)},
            timeout=10,
            allow_redirects=False,
            verify=str(ca),
        )
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert "cp_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    finally:
        srv.stop()


def test_issue_a_batch_from_an_upload(office: Central) -> None:
    import csv
    import io
    import zipfile

    s = logged_in(office.url, "op")
    page = s.get(f"{office.url}/console/issue", timeout=10)
    assert page.status_code == 200 and "会员名单 CSV" in page.text
    bad = "会员编号,姓名\nM-1,张三\nM-1,李四\n".encode()
    r = s.post(
        f"{office.url}/console/issue",
        data={"csrf": hidden(page.text), "valid_days": "365", "formats": ["2D", "3D"]},
        files={"members": ("members.csv", bad, "text/csv")},
        timeout=30,
    )
    assert r.status_code == 400 and "line 3" in r.text and "M-1" in r.text
    with office.session() as db:
        assert db.scalar(select(Voucher).where(Voucher.member_ref == "M-1")) is None
    r = s.post(  # a validity under 12 months is refused before reading the file
        f"{office.url}/console/issue",
        data={"csrf": hidden(page.text), "valid_days": "30"},
        files={"members": ("members.csv", bad, "text/csv")},
        timeout=30,
    )
    assert r.status_code == 400 and "12 months" in r.text
    good = "会员编号,姓名\nM-1,张三\nM-2,李四\nM-3,王五\n".encode("gb18030")
    r = s.post(
        f"{office.url}/console/issue",
        data={
            "csrf": hidden(page.text),
            "encoding": "gb18030",
            "valid_days": "400",
            "formats": ["2D"],
            "cinemas": "CIN-A",
            "campaign": "2027春节",
        },
        files={"members": ("members.csv", good, "text/csv")},
        timeout=60,
    )
    assert r.status_code == 200 and "已发券" in r.text
    batch = re.search(r'id="issued">[^<]*<span class="code">([^<]+)<', r.text).group(1)
    with office.session() as db:
        rows = list(db.scalars(select(Voucher).where(Voucher.batch == batch)))
        row = db.scalar(select(AuditEntry).where(AuditEntry.action == "batch.issue"))
    assert sorted(v.member_ref for v in rows) == ["M-1", "M-2", "M-3"]
    assert {tuple(v.formats) for v in rows} == {("2D",)} and rows[0].cinemas == ["CIN-A"]
    assert rows[0].campaign == "2027春节" and rows[0].holder == "张*"
    assert row.subject == batch and row.after["count"] == 3
    text = s.get(f"{office.url}/console/batches/{batch}/vouchers.csv", timeout=10).text
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert lines[0][0] == "short_code" and len(lines) == 4
    assert {line[5] for line in lines[1:]} == {v.token for v in rows}
    pdf = s.get(f"{office.url}/console/batches/{batch}/cards.pdf", timeout=60)
    assert pdf.content.startswith(b"%PDF")
    z = zipfile.ZipFile(
        io.BytesIO(s.get(f"{office.url}/console/batches/{batch}/qr.zip", timeout=30).content)
    )
    assert sorted(z.namelist()) == sorted(f"{v.short_code}.png" for v in rows)
    aud = logged_in(office.url, "aud")
    assert aud.get(f"{office.url}/console/issue", timeout=10).status_code == 200
    assert aud.get(f"{office.url}/console/batches/{batch}/qr.zip", timeout=10).status_code == 403
    assert s.get(f"{office.url}/console/batches/nope/qr.zip", timeout=10).status_code == 404


def test_admin_totp_required_by_the_deployment(
    central_db: Central, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync.console import ADMIN_TOTP_ENV

    make_user(central_db, "boss", "admin")
    monkeypatch.setenv(ADMIN_TOTP_ENV, "1")
    srv = EmbeddedServer(central_db.engine).start()
    try:
        _s, r = login(srv.url, "boss")
        assert r.status_code == 401 and "cinepass-admin user totp" in r.text
    finally:
        srv.stop()


def test_settlement_summary_matches_the_monthly_report(office: Central) -> None:
    from sync.console.queries import settlement_summary
    from sync.office import reports

    tokens = office.issue(5)
    for tok, cinema, status in zip(
        tokens,
        ("CIN-A", "CIN-A", "CIN-B", "CIN-B", "CIN-B"),
        ("valid", "duplicate", "valid", "void", "rejected"),
        strict=True,
    ):
        redeem_row(office, tok, cinema, status)
    month = time.strftime("%Y-%m", time.gmtime(time.time() + 8 * 3600))
    with office.session() as db:
        full = reports.monthly(db, month)["cinemas"]
        summary = settlement_summary(db, month)
    assert summary == [
        {
            "cinema": c["cinema"],
            "name": c["name"],
            "valid_total": c["valid_total"],
            "valid_by_format": c["valid_by_format"],
            "duplicates": len(c["duplicates"]),
            "voids": len(c["voids"]),
            "rejected": len(c["rejected"]),
        }
        for c in full
    ]
    assert [r["valid_total"] for r in summary] == [1, 1]
