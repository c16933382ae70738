"""The member page ``/m/`` over HTTP (requests against the real server on loopback).

What a browser cannot show well: a wrong factor and an unknown code take the
same SQL path and get the same answer; the session cookie cannot be forged
or outlive its time; every POST needs its CSRF token; the counts live in the
database (a second server on it refuses too); ``--no-member-page``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from sqlalchemy import event, select
from syncsupport import Central

from sync.member import guard
from sync.server.embedded import EmbeddedServer
from sync.server.main import build_parser
from sync.server.models import AuditEntry, RateLimit, Voucher
from sync.voucher import decode_voucher

pytestmark = pytest.mark.timeout(120)
REF = "M-2026-0042"
FACTOR = "0042"


def member_voucher(central: Central, ref: str | None = REF, **kw: Any) -> tuple[str, str]:
    """(QR text, short code) of a voucher issued to member ``ref``."""
    [token] = central.issue(1, holder="张三丰", **kw)
    v = decode_voucher(token).voucher
    with central.session() as s:
        s.get(Voucher, v.cti.hex()).member_ref = ref
    return token, v.short_code


def hidden(html: str, name: str = "csrf") -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no hidden {name} in the page"
    return m.group(1)


def try_code(
    base: str, code: str, factor: str, s: requests.Session | None = None
) -> requests.Response:
    s = s or requests.Session()
    form = s.get(f"{base}/m/", timeout=10)
    data = {"code": code, "factor": factor, "csrf": hidden(form.text)}
    return s.post(f"{base}/m/", data=data, timeout=10, allow_redirects=False)


def error_of(r: requests.Response) -> str:
    m = re.search(r'id="error"[^>]*>([^<]*)<', r.text)
    return m.group(1) if m else ""


@contextmanager
def statements(central: Central) -> Iterator[list[str]]:
    seen: list[str] = []

    def log(_c: object, _cur: object, sql: str, *_a: object) -> None:
        seen.append(sql)

    event.listen(central.engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(central.engine, "before_cursor_execute", log)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_wrong_factor_and_unknown_code_take_one_path(central: Central) -> None:
    _, code = member_voucher(central)
    unknown = "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
    try_code(central.url, "YYYY-YYYY-YYYY-YYYY", "9999")  # this address is counted from now on
    with statements(central) as wrong_sql:
        wrong = try_code(central.url, code, "9999")
    with statements(central) as unknown_sql:
        nobody = try_code(central.url, unknown, "9999")
    with statements(central) as garbage_sql:
        garbage = try_code(central.url, "not a code", "9999")
    assert wrong.status_code == nobody.status_code == garbage.status_code == 401
    assert (
        error_of(wrong) == error_of(nobody) == error_of(garbage) == "券码或会员编号后四位不正确。"
    )
    assert wrong_sql == unknown_sql == garbage_sql  # the same statements, in the same order
    # a voucher issued without a member ref cannot be opened at all, and says the same
    _, no_ref = member_voucher(central, ref=None)
    assert error_of(try_code(central.url, no_ref, "")) == error_of(wrong)
    ok = try_code(central.url, code.lower().replace("-", " "), "0042")
    assert ok.status_code == 303 and ok.headers["location"] == "/m/v"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/m" in cookie


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_limits_are_rows_every_server_counts(central: Central) -> None:
    _, code = member_voucher(central)
    for _ in range(guard.PER_CODE):
        assert try_code(central.url, code, "0000").status_code == 401
    other = EmbeddedServer(central.engine).start()  # another process on the same database
    try:
        r = try_code(other.url, code, FACTOR)
        assert r.status_code == 429 and error_of(r) == "尝试次数过多，请 15 分钟后再试。"
    finally:
        other.stop()
    with central.session() as s:
        counts = {r.key.split(":")[0]: r.count for r in s.scalars(select(RateLimit))}
    assert counts == {"member-addr": guard.PER_CODE, "member-code": guard.PER_CODE}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_session_cookie_and_csrf(central: Central) -> None:
    token, code = member_voucher(central)
    s = requests.Session()
    assert try_code(central.url, code, FACTOR, s).status_code == 303
    page = s.get(f"{central.url}/m/v", timeout=10)
    assert page.status_code == 200 and code in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert s.get(f"{central.url}/m/qr.png", timeout=10).headers["content-type"] == "image/png"
    # no CSRF token: nothing frozen
    r = s.post(f"{central.url}/m/lost", data={"confirm": "yes"}, timeout=10, allow_redirects=False)
    assert r.headers["location"] == "/m/v?error=csrf_text"
    # no confirmation: nothing frozen either
    csrf = hidden(page.text)
    r = s.post(f"{central.url}/m/lost", data={"csrf": csrf}, timeout=10, allow_redirects=False)
    assert r.headers["location"] == "/m/v?error=lost_need_confirm"
    with central.session() as db:
        assert db.get(Voucher, decode_voucher(token).voucher.cti.hex()).status == "active"
    # a forged or expired cookie shows nothing
    cti, until, mac = s.cookies["cp_member"].split(".")
    for bad in (f"{cti}.{int(until) + 60}.{mac}", f"{cti}.{until}.{'0' * 64}", f"{cti}.1.{mac}"):
        r = requests.get(
            f"{central.url}/m/v", cookies={"cp_member": bad}, timeout=10, allow_redirects=False
        )
        assert r.headers["location"] == "/m/?over=1"
    with central.session() as db:
        v = db.get(Voucher, cti)
        stale = guard.open_session(v, now_s=1_000_000)
        assert guard.resume(db, stale) is None
    # the look-up form's own token
    r = requests.post(f"{central.url}/m/", data={"code": code, "factor": FACTOR}, timeout=10)
    assert r.status_code == 403
    # reported lost with both: frozen, audited with the address
    r = s.post(f"{central.url}/m/lost", data={"csrf": csrf, "confirm": "yes"}, timeout=10)
    assert "已冻结" in r.text and s.get(f"{central.url}/m/qr.png", timeout=10).status_code == 404
    with central.session() as db:
        v = db.get(Voucher, cti)
        assert (v.status, v.freeze_reason) == ("frozen", "lost")
        row = db.scalars(select(AuditEntry).where(AuditEntry.action == "voucher.freeze")).one()
        assert (row.actor, row.address, row.subject) == ("member", "127.0.0.1", code)


def test_no_member_page_flag(central_db: Central) -> None:
    assert build_parser().parse_args(["--no-member-page"]).no_member_page
    assert not build_parser().parse_args([]).no_member_page
    from sync.server.app import create_app

    app = create_app(central_db.engine, member_page=False)
    assert app.fastapi is not None
    assert not any(getattr(r, "path", "") == "/m" for r in app.fastapi.routes)
    app = create_app(central_db.engine)
    assert app.fastapi is not None
    assert any(getattr(r, "path", "") == "/m" for r in app.fastapi.routes)
