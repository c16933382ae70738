"""Issue 10 in the real window: the counter's own refusals in red, held records for the manager."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_ui_window import open_window, scan_typed  # noqa: F401 (fixture)
from ui_helpers import KioskHome, call, make_home

from kiosk.engine.store import Store
from kiosk.paths import KioskPaths
from sync.voucher import PrivateKey

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def kiosk(tmp_path: Path, issuer_key: PrivateKey) -> KioskHome:
    return make_home(tmp_path, issuer_key)


def _meta(home: Path, **values: str) -> None:
    with Store.open(KioskPaths(home).store) as store:
        store.set_metas(values)


def refused_in_red(qtbot: Any, w: Any, kiosk: KioskHome, title: str) -> Any:
    """Scan a valid voucher in window ``w``: the counter's own refusal, shown in red as
    ``title`` and leaving no record; its verdict."""
    v = scan_typed(qtbot, w, kiosk.text("valid"))
    assert w.scan.verdict.title.text() == title
    assert w.scan.verdict.tone == "bad"
    assert call(qtbot, w, lambda s: s.store.counts()["records"]) == 0
    return v


def test_a_revoked_counter_shows_the_refusal_in_red(
    qtbot: Any,
    open_window: Any,  # noqa: F811
    kiosk: KioskHome,
) -> None:
    _meta(kiosk.home, device_revoked="1")  # as the sync client leaves it after a 403
    v = refused_in_red(qtbot, open_window(kiosk.home), kiosk, "本柜台已被停用，请联系 IT")
    assert v.reason == "device_revoked" and not v.accepted and v.record_uuid is None


def test_a_clock_behind_refuses_in_the_window(
    qtbot: Any,
    open_window: Any,  # noqa: F811
    kiosk: KioskHome,
) -> None:
    _meta(kiosk.home, newest_seen_ms=str(int(time.time() * 1000) + 86_400_000))
    v = refused_in_red(qtbot, open_window(kiosk.home), kiosk, "电脑时间不正确，请联系 IT")
    assert v.reason == "clock_behind" and v.clock_warning


def test_the_manager_sees_quarantined_and_review_lines_with_their_flags(
    qtbot: Any,
    open_window: Any,  # noqa: F811
    kiosk: KioskHome,
) -> None:
    kiosk.add("third", holder="孙*")
    w = open_window(kiosk.home)
    a = scan_typed(qtbot, w, kiosk.text("valid")).record_uuid
    b = scan_typed(qtbot, w, kiosk.text("only2d")).record_uuid
    c = scan_typed(qtbot, w, kiosk.text("third")).record_uuid
    answers = {  # the server's answers, stored as the sync client stores them
        a: ("rejected", {"problem": "bad_device_signature"}),
        b: ("review", {"flags": ["out_of_scope", "time_in_future"]}),
        c: ("valid", None),
    }
    call(qtbot, w, lambda s: s.store.mark_synced(answers))
    w.open_manager()
    w.pin.pin.setText("1111")
    w.pin.confirm.setText("1111")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.manager, timeout=5000)
    table = w.manager.held.table
    qtbot.waitUntil(lambda: table.rowCount() == 2, timeout=5000)
    rows = [[table.item(r, col).text() for col in range(table.columnCount())] for r in range(2)]
    assert rows[0][0] == kiosk.code("valid") and rows[1][0] == kiosk.code("only2d")
    assert rows[0][4] == "已隔离（不结算）" and rows[0][5] == "不是本柜台密钥签名的记录"
    assert rows[1][4] == "工会办公室审核中"
    assert rows[1][5] == "此券不适用于本影院；核销时间在未来"
    index = w.manager.tabs.indexOf(w.manager.held)
    assert w.manager.tabs.tabText(index) == "服务器暂扣（2）"
    assert call(qtbot, w, lambda s: s.status()["quarantined"]) == 1
