"""The window with the real sync engine: enrolment from the wizard, online/offline status.

A real central server runs on loopback (the sync tests' ``central`` fixture);
the window enrols through its wizard, redeems a voucher the union issued,
and its status bar follows the sync engine: online, unsynced count back to
0 once uploaded. A server that is not there shows offline and a stale
revocation list, in red, while scanning keeps working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from syncsupport import Central
from test_ui_window import open_window, scan_typed  # noqa: F401 (fixture)
from ui_helpers import KioskHome, make_home

from kiosk.config import load_config, save_config
from kiosk.paths import KioskPaths
from sync.voucher import PrivateKey
from sync.voucher.keys import write_secret_file

pytestmark = pytest.mark.timeout(90)


def unreachable_home(tmp_path: Path, issuer_key: PrivateKey) -> KioskHome:
    """A counter enrolled (as far as it knows) with a server that is not there."""
    k = make_home(tmp_path, issuer_key)
    paths = KioskPaths(k.home)
    cfg = load_config(paths.config)
    cfg.server_url, cfg.device_id, cfg.sync_interval = "http://127.0.0.1:9", "dev-x", 0.5
    save_config(paths.config, cfg)
    write_secret_file(paths.token, b"not-a-real-token")
    return k


def test_wizard_enrols_then_syncs(
    qtbot: Any,
    open_window: Any,  # noqa: F811 (the fixture imported above)
    central: Central,
    tmp_path: Path,
) -> None:
    tokens = central.issue(2)
    home = tmp_path / "counter"
    w = open_window(home, ready=False)
    wiz = w.wizard
    wiz.server.setText(central.url)
    wiz.code.setText("WRONG-CODE")
    QTest.mouseClick(wiz.go, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wiz.go.isEnabled(), timeout=10000)
    assert "注册码错误" in wiz.message.text() and not KioskPaths(home).config.exists()
    wiz.code.setText(central.code("CIN-A"))
    wiz.counter.setText("3号窗口")
    QTest.mouseClick(wiz.go, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.service_ready, timeout=15000)
    cfg = load_config(KioskPaths(home).config)
    assert cfg.cinema == "CIN-A" and cfg.counter == "3号窗口" and cfg.device_id
    assert scan_typed(qtbot, w, tokens[0]).reason == "accepted"
    qtbot.waitUntil(lambda: w.syncer is not None, timeout=5000)
    qtbot.waitUntil(lambda: w.st["online"].text() == "在线", timeout=15000)
    qtbot.waitUntil(lambda: w.st["pending"].text() == "未同步：0", timeout=15000)
    assert "从未" not in w.st["last_sync"].text()
    assert "分钟前" in w.st["revocations"].text()
    # the roster came from the server: the other voucher's short code can be typed
    from sync.voucher import decode_voucher

    code = decode_voucher(tokens[1]).voucher.short_code
    assert scan_typed(qtbot, w, code).reason == "accepted"


def test_unreachable_server_shows_offline_and_stale_list(
    qtbot: Any,
    open_window: Any,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    issuer_key: PrivateKey,
) -> None:
    k = unreachable_home(tmp_path, issuer_key)
    w = open_window(k.home)
    qtbot.waitUntil(lambda: w.st["online"].text() == "离线", timeout=15000)
    assert "c62828" in w.st["online"].styleSheet()
    assert w.st["revocations"].text() == "冻结名单：从未更新"
    assert "c62828" in w.st["revocations"].styleSheet()
    assert scan_typed(qtbot, w, k.text("valid")).reason == "accepted"  # offline-first
    qtbot.waitUntil(lambda: w.st["pending"].text() == "未同步：1", timeout=5000)


def test_the_window_is_told_of_sync_state_on_its_own_thread(
    qtbot: Any,
    open_window: Any,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    issuer_key: PrivateKey,
) -> None:
    """The sync engine calls its listener from its own thread; the window paints on the UI thread.

    No timer asks ``syncer.status()``: the status bar changes because the
    engine reported a cycle.
    """
    import threading

    from PySide6.QtCore import QThread, QTimer

    k = unreachable_home(tmp_path, issuer_key)
    told: list[tuple[dict[str, Any], bool, bool]] = []
    w = open_window(k.home)
    gui = QThread.currentThread()
    w.sync_link.changed.connect(
        lambda st: told.append(
            (st, QThread.currentThread() is gui, threading.current_thread().name == "cinepass-sync")
        )
    )
    qtbot.waitUntil(lambda: len(told) >= 2, timeout=15000)
    assert all(on_gui and not on_syncer for _st, on_gui, on_syncer in told)
    assert told[-1][0]["online"] is False and told[-1][0]["last_error"]
    assert w.sync_link.findChildren(QTimer) == []  # told, not asking: no timer to poll with
    qtbot.waitUntil(lambda: w.st["online"].text() == "离线", timeout=5000)


def test_the_link_tells_the_status_it_starts_with_before_the_first_cycle(
    qtbot: Any, tmp_path: Path, issuer_key: PrivateKey
) -> None:
    """The first news is ``status()`` read at set-up, so the bar is right before any cycle ends.

    The counter was online when it last ran and has one redemption queued; the
    server is gone now. The link reports that state first (online, 1 queued,
    no error yet), then the failed cycle (offline, with its error).
    """
    from kiosk.engine.service import KioskService
    from kiosk.ui.bridge import ServiceThread
    from kiosk.ui.sync_link import SyncLink

    k = unreachable_home(tmp_path, issuer_key)
    svc = KioskService.open(k.home)
    try:
        assert svc.redeem(k.text("valid"), fmt="2D", staff="t").accepted
        svc.store.set_meta("online", "1")
    finally:
        svc.close()
    bridge = ServiceThread(lambda: KioskService.open(k.home))
    link = SyncLink()
    told: list[dict[str, Any]] = []
    link.changed.connect(told.append)
    bridge.start()
    try:
        qtbot.waitUntil(lambda: bridge.service is not None, timeout=5000)
        link.start(bridge)
        qtbot.waitUntil(lambda: any(st["last_error"] for st in told), timeout=15000)
    finally:
        link.stop()
        bridge.stop()
    first = told[0]
    assert first["online"] is True and first["pending"] == 1 and first["last_error"] is None
    assert first["failures"] == 0
    last = told[-1]
    assert last["online"] is False and last["pending"] == 1 and last["last_error"]
