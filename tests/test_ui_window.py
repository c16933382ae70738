"""The real counter window on a real KioskService in a temporary home.

Every test drives the window as a clerk would (video camera, keyboard-wedge
scanner bursts, the typed-code field, F2/F3, the undo bar, the PIN gate) and
checks what is painted and what the engine recorded. Vouchers are really
signed, QR frames are really decoded, the store is a real SQLite file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_qr import video_of_texts
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from ui_helpers import KioskHome, call, make_home

from kiosk.config import load_config
from kiosk.engine.verdict import Verdict
from kiosk.paths import KioskPaths
from kiosk.pin import verify_pin
from kiosk.ui.app import create_window
from kiosk.ui.main_window import MainWindow
from sync.voucher import PrivateKey

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def kiosk(tmp_path: Path, issuer_key: PrivateKey) -> KioskHome:
    return make_home(tmp_path, issuer_key)


@pytest.fixture
def open_window(qtbot: Any) -> Iterator[Callable[..., MainWindow]]:
    made: list[MainWindow] = []

    def factory(home: Path, *, ready: bool = True, **kw: Any) -> MainWindow:
        kw.setdefault("camera", "")
        w = create_window(home, **kw)
        assert isinstance(w, MainWindow)
        made.append(w)
        w.resize(1280, 800)
        w.show()
        if ready:
            qtbot.waitUntil(lambda: w.service_ready, timeout=5000)
        return w

    yield factory
    for w in made:
        w.shutdown()
        w.hide()
        w.deleteLater()
    QApplication.processEvents()


def wait_verdict(qtbot: Any, w: MainWindow, timeout: int = 5000) -> Verdict:
    with qtbot.waitSignal(w.verdict_shown, timeout=timeout) as blocker:
        pass
    v = blocker.args[0]
    assert isinstance(v, Verdict)
    return v


def scan_typed(qtbot: Any, w: MainWindow, text: str) -> Verdict:
    assert w.scan is not None
    w.scan.code.setText(text)
    with qtbot.waitSignal(w.verdict_shown, timeout=5000) as blocker:
        QTest.mouseClick(w.scan.code_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]  # type: ignore[no-any-return]


def focused(w: MainWindow, field: str) -> MainWindow:
    """``w`` made the active window, the keyboard on its scan view's ``field`` (``code``, the
    typed-code box, or ``verdict``): where a clerk may have left the cursor."""
    assert w.scan is not None
    w.activateWindow()
    getattr(w.scan, field).setFocus()
    return w


def today_tally(qtbot: Any, w: MainWindow) -> dict[str, Any]:
    return call(qtbot, w, lambda s: s.tally().to_json())  # type: ignore[return-value]


def test_video_scan_shows_verdict_and_updates_tally(
    qtbot: Any, open_window: Any, kiosk: KioskHome, tmp_path: Path
) -> None:
    video = video_of_texts(
        tmp_path / "cam.avi", [None, kiosk.text("valid"), None], frames_each=12, fps=25
    )
    w = open_window(kiosk.home, camera=str(video), staff="王芳")
    v = wait_verdict(qtbot, w)
    assert v.reason == "accepted"
    panel = w.scan.verdict
    assert panel.tone == "ok"
    assert panel.title.text() == "核销成功"
    assert panel.word.text() == "放行"
    assert "张*明" in panel.details.text()
    assert kiosk.code("valid") in panel.details.text()
    assert "2D" in panel.details.text()
    assert w.scan.preview.painted > 0  # the preview showed the video
    t = today_tally(qtbot, w)
    assert t["accepted"] == 1 and t["by_format"]["2D"] == 1 and t["by_staff"] == {"王芳": 1}
    # the manager's view shows the same tally (first visit sets the PIN)
    QTest.mouseClick(w.scan.manager_button, Qt.MouseButton.LeftButton)
    assert w.stack.currentWidget() is w.pin and w.pin.creating
    w.pin.pin.setText("2468")
    w.pin.confirm.setText("2468")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.manager, timeout=5000)
    qtbot.waitUntil(lambda: w.manager.cards["accepted"].text() == "1", timeout=5000)
    assert w.manager.cards["2D"].text() == "1"
    assert w.manager.staff_table.item(0, 0).text() == "王芳"


def test_already_used_is_amber_with_details_and_others_red(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    w = open_window(kiosk.home, staff="李雷")
    assert scan_typed(qtbot, w, kiosk.text("valid")).reason == "accepted"
    v = scan_typed(qtbot, w, kiosk.text("valid"))
    assert v.reason == "already_redeemed"
    panel = w.scan.verdict
    assert panel.tone == "warn" and panel.title.text() == "此券已使用"
    details = panel.details.text()
    assert "1号窗口" in details and "李雷" in details and "使用时间" in details
    v = scan_typed(qtbot, w, kiosk.text("expired"))
    assert v.reason == "expired"
    assert panel.tone == "bad" and panel.title.text() == "此券已过期"
    assert panel.word.text() == "禁止入场"
    assert "工会" in panel.next_step.text()
    v = scan_typed(qtbot, w, kiosk.text("elsewhere"))
    assert v.reason == "wrong_cinema" and panel.tone == "bad"
    t = today_tally(qtbot, w)
    assert t["accepted"] == 1
    assert t["rejected"] == {"already_redeemed": 1, "expired": 1, "wrong_cinema": 1}


def test_scanner_burst_with_enter_is_caught_wherever_focus_is(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    w = focused(open_window(kiosk.home), "code")  # the clerk left the cursor in the code field
    text = kiosk.text("valid")
    with qtbot.waitSignal(w.verdict_shown, timeout=5000) as blocker:
        QTest.keyClicks(w.scan.code, text)  # a burst: no pause between keys
        QTest.keyClick(w.scan.code, Qt.Key.Key_Return)
    assert blocker.args[0].reason == "accepted"
    assert w.scan.code.text() == ""  # the burst did not land in the field
    rows = call(qtbot, w, lambda s: s.store._read("SELECT source FROM attempts"))
    assert [r[0] for r in rows] == ["scanner"]


def test_scanner_without_enter_ends_by_idle_timeout(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    w = open_window(kiosk.home)
    with qtbot.waitSignal(w.verdict_shown, timeout=5000) as blocker:
        QTest.keyClicks(w.scan.verdict, kiosk.text("valid2"))  # a burst, no Enter
    # valid2 is 3D-only and the counter is on 2D: the scan went through the real verdict path
    assert blocker.args[0].reason == "wrong_format"


def test_human_typing_reaches_the_field_and_is_not_a_scan(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    w = focused(open_window(kiosk.home), "code")
    got: list[Verdict] = []
    w.verdict_shown.connect(got.append)
    QTest.keyClicks(w.scan.code, "ab3d", delay=90)  # people type ~100 ms a key
    qtbot.waitUntil(lambda: w.scan.code.text() == "ab3d", timeout=3000)
    QTest.qWait(200)
    assert got == [] and w.scan.fmt == "2D"  # "3" in a text field is text, not a hotkey


def test_typed_short_code_and_a_typo(qtbot: Any, open_window: Any, kiosk: KioskHome) -> None:
    w = open_window(kiosk.home)
    code = kiosk.code("valid").lower().replace("-", "")  # as a clerk types it
    v = scan_typed(qtbot, w, code)
    assert v.reason == "accepted" and w.scan.verdict.title.text() == "核销成功"
    bad = "0000-0000-0000-0000"
    v = scan_typed(qtbot, w, bad)
    assert v.reason == "unknown_code" and w.scan.verdict.tone == "bad"
    assert "券码不存在" == w.scan.verdict.title.text()
    rows = call(qtbot, w, lambda s: s.store._read("SELECT source FROM attempts ORDER BY id"))
    assert [r[0] for r in rows] == ["typed", "typed"]


def test_format_selector_is_sticky_and_has_shortcuts(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    w = focused(open_window(kiosk.home), "verdict")
    QTest.keyClick(w.scan.verdict, Qt.Key.Key_F3)
    assert w.scan.fmt == "3D" and w.scan.format_buttons["3D"].isChecked()
    QTest.keyClick(w.scan.verdict, "2")
    qtbot.waitUntil(lambda: w.scan.fmt == "2D", timeout=2000)
    v = scan_typed(qtbot, w, kiosk.text("valid2"))  # 3D only
    assert v.reason == "wrong_format" and "3D" in w.scan.verdict.details.text()
    QTest.keyClick(w.scan.code, Qt.Key.Key_F3)  # F3 works even in the field
    assert w.scan.fmt == "3D"
    v = scan_typed(qtbot, w, kiosk.text("valid2"))
    assert v.reason == "accepted"
    assert w.scan.fmt == "3D"  # sticky: stays for the next guest
    v = scan_typed(qtbot, w, kiosk.text("valid"))
    assert v.reason == "accepted"
    t = today_tally(qtbot, w)
    assert t["by_format"] == {"2D": 0, "3D": 2}


def test_undo_last_after_confirmation(qtbot: Any, open_window: Any, kiosk: KioskHome) -> None:
    w = open_window(kiosk.home)
    assert scan_typed(qtbot, w, kiosk.text("valid")).reason == "accepted"
    QTest.mouseClick(w.scan.undo_button, Qt.MouseButton.LeftButton)
    assert w.scan.undo_bar.isVisible()
    QTest.mouseClick(w.scan.undo_no, Qt.MouseButton.LeftButton)  # cancel changes nothing
    assert not w.scan.undo_bar.isVisible()
    assert today_tally(qtbot, w)["voided"] == 0
    QTest.mouseClick(w.scan.undo_button, Qt.MouseButton.LeftButton)
    QTest.mouseClick(w.scan.undo_yes, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "已撤销上一次核销" in w.scan.notice.text(), timeout=5000)
    assert kiosk.code("valid") in w.scan.notice.text()
    t = today_tally(qtbot, w)
    assert t["voided"] == 1 and t["accepted"] == 0
    QTest.mouseClick(w.scan.undo_button, Qt.MouseButton.LeftButton)
    QTest.mouseClick(w.scan.undo_yes, Qt.MouseButton.LeftButton)
    # a second undo finds nothing left to void (the engine says which) and changes nothing
    qtbot.waitUntil(
        lambda: any(m in w.scan.notice.text() for m in ("此核销已撤销", "没有可撤销的核销")),
        timeout=5000,
    )
    assert today_tally(qtbot, w)["voided"] == 1


def test_pin_gate(qtbot: Any, open_window: Any, kiosk: KioskHome) -> None:
    w = open_window(kiosk.home)
    QTest.mouseClick(w.scan.manager_button, Qt.MouseButton.LeftButton)
    assert w.pin.creating
    w.pin.pin.setText("12")
    w.pin.confirm.setText("12")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    assert "4 到 12 位数字" in w.pin.message.text() and w.stack.currentWidget() is w.pin
    w.pin.pin.setText("1357")
    w.pin.confirm.setText("1358")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    assert "不一致" in w.pin.message.text()
    assert load_config(KioskPaths(kiosk.home).config).pin_hash == ""
    w.pin.pin.setText("1357")
    w.pin.confirm.setText("1357")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.manager, timeout=5000)
    stored = load_config(KioskPaths(kiosk.home).config).pin_hash
    assert stored and "1357" not in stored and verify_pin("1357", stored)
    QTest.mouseClick(w.manager.back, Qt.MouseButton.LeftButton)
    assert w.stack.currentWidget() is w.scan
    QTest.mouseClick(w.scan.manager_button, Qt.MouseButton.LeftButton)
    assert not w.pin.creating and not w.pin.confirm.isVisible()
    w.pin.pin.setText("0000")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    assert w.pin.message.text() == "PIN 错误。" and w.stack.currentWidget() is w.pin
    # a scan while the PIN gate is open is not blocked: it goes to the scan screen
    w.submit_scan(kiosk.text("valid"), "scanner")
    assert wait_verdict(qtbot, w).reason == "accepted"
    assert w.stack.currentWidget() is w.scan
    QTest.mouseClick(w.scan.manager_button, Qt.MouseButton.LeftButton)
    w.pin.pin.setText("1357")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    assert w.stack.currentWidget() is w.manager


def test_camera_that_ends_shows_banner_and_other_inputs_work(
    qtbot: Any, open_window: Any, kiosk: KioskHome, tmp_path: Path
) -> None:
    video = video_of_texts(tmp_path / "short.avi", [None], frames_each=5, fps=25)
    w = open_window(kiosk.home, camera=str(video))
    qtbot.waitUntil(lambda: w.camera_state == "ended", timeout=5000)
    assert w.scan.preview.state == "ended"
    assert "摄像头不可用" in w.scan.preview.banner_text()
    qtbot.waitUntil(lambda: w.st["camera"].text() == "摄像头已停止", timeout=3000)
    assert "c62828" in w.st["camera"].styleSheet()  # shown as a warning
    assert scan_typed(qtbot, w, kiosk.code("valid")).reason == "accepted"


def test_missing_camera_reports_lost_and_keeps_retrying(
    qtbot: Any, open_window: Any, kiosk: KioskHome, tmp_path: Path
) -> None:
    w = open_window(kiosk.home, camera=str(tmp_path / "unplugged.avi"))
    qtbot.waitUntil(lambda: w.camera_state in ("lost", "reconnecting"), timeout=5000)
    assert w.scan.preview.banner_text() != ""
    assert scan_typed(qtbot, w, kiosk.code("valid")).reason == "accepted"


def test_engine_failure_is_shown_red_not_recorded(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    w = open_window(kiosk.home)
    call(qtbot, w, lambda s: s.store.close())  # the disk/store goes away under the window
    v = scan_typed(qtbot, w, kiosk.text("valid"))
    assert v.reason == "not_recorded"
    assert w.scan.verdict.tone == "bad"
    assert w.scan.verdict.title.text() == "未能记录，请勿放行"


def test_setup_wizard_standalone(
    qtbot: Any, open_window: Any, tmp_path: Path, issuer_key: PrivateKey
) -> None:
    home = tmp_path / "fresh"
    w = open_window(home, ready=False)
    assert w.wizard is not None and w.stack.currentWidget() is w.wizard
    wiz = w.wizard
    wiz.mode_alone.setChecked(True)
    wiz.cinema.setText("SH-001")
    wiz.key_file.setText(str(tmp_path / "nope.pem"))
    QTest.mouseClick(wiz.go, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wiz.go.isEnabled(), timeout=5000)
    assert "无法读取" in wiz.message.text() and "nope.pem" in wiz.message.text()
    assert not KioskPaths(home).config.exists()
    pem = tmp_path / "issuer.pem"
    pem.write_bytes(issuer_key.public.to_pem())
    wiz.key_file.setText(str(pem))
    wiz.counter.setText("2号窗口")
    QTest.mouseClick(wiz.go, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.service_ready, timeout=5000)
    assert w.stack.currentWidget() is w.scan
    assert load_config(KioskPaths(home).config).counter == "2号窗口"


def test_wizard_enrol_needs_url_and_code(open_window: Any, tmp_path: Path) -> None:
    w = open_window(tmp_path / "fresh", ready=False)
    QTest.mouseClick(w.wizard.go, Qt.MouseButton.LeftButton)
    assert "服务器地址" in w.wizard.message.text()


def test_layout_at_both_screen_sizes(qtbot: Any, open_window: Any, kiosk: KioskHome) -> None:
    w = open_window(kiosk.home)
    scan_typed(qtbot, w, kiosk.text("valid"))
    sizes = {}
    for size in ((1024, 768), (1920, 1080)):
        w.resize(*size)
        qtbot.waitUntil(lambda s=size: w.width() == s[0], timeout=2000)
        QApplication.processEvents()
        panel = w.scan.verdict
        assert panel.width() > w.width() * 0.5  # the verdict takes most of the screen
        assert panel.geometry().bottom() < w.height()
        sizes[size] = panel.title.font().pixelSize()
    assert sizes[(1024, 768)] >= 40 and sizes[(1920, 1080)] > sizes[(1024, 768)]


def test_kiosk_mode_needs_the_pin_to_leave(qtbot: Any, open_window: Any, kiosk: KioskHome) -> None:
    w = open_window(kiosk.home, fullscreen=True)
    assert w.kiosk
    w.close()
    assert w.isVisible() and w.stack.currentWidget() is w.pin
    w.pin.pin.setText("4321")
    w.pin.confirm.setText("4321")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.manager, timeout=5000)
    QTest.mouseClick(w.manager.quit, Qt.MouseButton.LeftButton)
    assert not w.isVisible()


def test_manager_exports_and_settings(
    qtbot: Any, open_window: Any, kiosk: KioskHome, tmp_path: Path
) -> None:
    w = open_window(kiosk.home)
    scan_typed(qtbot, w, kiosk.text("valid"))
    w.open_manager()
    w.pin.pin.setText("1111")
    w.pin.confirm.setText("1111")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.manager, timeout=5000)
    m = w.manager
    m.folder.setText(str(tmp_path / "out"))
    for button, suffix in (
        (m.export_csv, ".csv"),
        (m.export_xlsx, ".xlsx"),
        (m.export_pdf, ".pdf"),
    ):
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda s=suffix: m.export_result.text().endswith(s), timeout=10000)
    files = sorted(p.suffix for p in (tmp_path / "out").iterdir())
    assert files == [".csv", ".pdf", ".xlsx"]
    csv_text = next((tmp_path / "out").glob("*.csv")).read_text(encoding="utf-8-sig")
    assert "核销成功,1" in csv_text
    # settings: staff names and English
    m.s_staff.setPlainText("王芳\n李雷\n王芳")
    m.s_language.setCurrentIndex(m.s_language.findData("en"))
    QTest.mouseClick(m.s_save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.cfg is not None and w.cfg.language == "en", timeout=5000)
    cfg = load_config(KioskPaths(kiosk.home).config)
    assert cfg.language == "en" and cfg.staff_names == ["王芳", "李雷"]
    w.show_scan()
    assert w.scan.manager_button.text() == "Manager"
    assert [w.scan.staff.itemText(i) for i in range(w.scan.staff.count())][1:] == ["王芳", "李雷"]
    v = scan_typed(qtbot, w, kiosk.text("expired"))
    assert v.reason == "expired" and w.scan.verdict.title.text() == "Voucher expired"


def test_clock_behind_is_flagged_in_status_and_verdict(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    import time as _time

    from kiosk.engine.store import Store

    with Store.open(KioskPaths(kiosk.home).store) as store:  # the store saw a time a day ahead
        store.set_meta("newest_seen_ms", str(int(_time.time() * 1000) + 86_400_000))
    w = open_window(kiosk.home)
    qtbot.waitUntil(lambda: w.st["clock"].text() == "时钟落后！", timeout=5000)
    assert "c62828" in w.st["clock"].styleSheet()
    v = scan_typed(qtbot, w, kiosk.text("valid"))
    assert v.clock_warning
    assert "时钟落后" in w.scan.verdict.details.text()


def test_verdict_clears_after_the_configured_timeout(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    from kiosk.config import save_config

    paths = KioskPaths(kiosk.home)
    cfg = load_config(paths.config)
    cfg.verdict_timeout = 0.3
    save_config(paths.config, cfg)
    w = open_window(kiosk.home)
    scan_typed(qtbot, w, kiosk.text("valid"))
    assert w.scan.verdict.tone == "ok"
    qtbot.waitUntil(lambda: w.scan.verdict.tone == "idle", timeout=3000)
    assert w.scan.verdict.title.text() == "请扫描观影券"


def test_wrong_pins_lock_the_gate_for_a_while(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    from kiosk.config import save_config
    from kiosk.pin import hash_pin

    paths = KioskPaths(kiosk.home)
    cfg = load_config(paths.config)
    cfg.pin_hash = hash_pin("8642")
    save_config(paths.config, cfg)
    w = open_window(kiosk.home)
    w.open_manager()
    for _ in range(5):
        w.pin.pin.setText("1111")
        QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    w.pin.pin.setText("8642")  # even the right PIN waits out the lock
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    assert "等待一分钟" in w.pin.message.text() and w.stack.currentWidget() is w.pin


def test_broken_config_shows_the_reason_not_a_traceback(open_window: Any, kiosk: KioskHome) -> None:
    KioskPaths(kiosk.home).config.write_text('{"cinema": "SH-001", "verdict_timeout": "soon"}')
    w = open_window(kiosk.home, ready=False)
    assert w.stack.currentWidget() is w.error_page
    text = w.error_page.text()
    assert "本柜台无法启动" in text and "'verdict_timeout' has the wrong type" in text
    assert w.bridge is None  # nothing was started on a broken config


def test_scan_during_start_up_is_not_lost(qtbot: Any, open_window: Any, kiosk: KioskHome) -> None:
    w = open_window(kiosk.home, ready=False)
    w.submit_scan(kiosk.text("valid"), "scanner")  # possibly before the store is open
    assert wait_verdict(qtbot, w).reason == "accepted"


def test_duplicates_reported_by_the_server_show_both_sides(
    qtbot: Any, open_window: Any, kiosk: KioskHome
) -> None:
    import time as _time

    w = open_window(kiosk.home, staff="王芳")
    v = scan_typed(qtbot, w, kiosk.text("valid"))
    first_at = int(_time.time() * 1000) - 3_600_000
    detail = {
        "first_uuid": "r-1",
        "cinema": "SH-002",
        "device": "dev-9",
        "staff": "赵敏",
        "at": first_at,
    }
    # what the sync engine stores when the server answers "duplicate" for this record
    call(qtbot, w, lambda s: s.store.mark_synced({v.record_uuid: ("duplicate", detail)}))
    w.open_manager()
    w.pin.pin.setText("5555")
    w.pin.confirm.setText("5555")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.manager.dup_table.rowCount() == 1, timeout=5000)
    row = [w.manager.dup_table.item(0, c).text() for c in range(6)]
    assert row[0] == kiosk.code("valid") and row[2] == "王芳"
    assert row[3] == "SH-002 / dev-9" and row[5] == "赵敏"
    assert row[4] == dt.datetime.fromtimestamp(first_at / 1000).strftime("%Y-%m-%d %H:%M")
    assert w.manager.tabs.tabText(1) == "重复核销 (1)"
    assert w.manager.cards["synced"].text() == "1" and w.manager.cards["pending"].text() == "0"


def test_camera_comes_back_by_itself(
    qtbot: Any, open_window: Any, kiosk: KioskHome, tmp_path: Path
) -> None:
    late = tmp_path / "plugged-in-later.avi"
    w = open_window(kiosk.home, camera=str(late))
    qtbot.waitUntil(lambda: w.camera_state in ("lost", "reconnecting"), timeout=5000)
    assert w.scan.preview.banner_text()
    painted = w.scan.preview.painted
    # the "camera" is plugged in: the engine's source reopens it on its own
    video_of_texts(tmp_path / "tmp.avi", [None, kiosk.text("valid"), None], frames_each=15)
    (tmp_path / "tmp.avi").rename(late)
    v = wait_verdict(qtbot, w, timeout=15000)
    assert v.reason == "accepted"
    assert w.scan.preview.painted > painted


def test_switching_format_rechecks_the_voucher_still_under_the_camera(
    qtbot: Any, open_window: Any, kiosk: KioskHome, tmp_path: Path
) -> None:
    video = video_of_texts(tmp_path / "held.avi", [kiosk.text("valid2")], frames_each=100)
    w = open_window(kiosk.home, camera=str(video))  # 2D selected, the voucher is 3D-only
    assert wait_verdict(qtbot, w).reason == "wrong_format"
    QTest.keyClick(w.scan.verdict, Qt.Key.Key_F3)
    v = wait_verdict(qtbot, w, timeout=2500)  # well inside the 3 s hold-off
    assert v.reason == "accepted" and w.scan.verdict.tone == "ok"


def test_a_bug_is_logged_with_its_traceback_and_shown_in_general_words(
    qtbot: Any, open_window: Any, kiosk: KioskHome, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from kiosk.errors import EnvironmentFailure
    from kiosk.ui.failures import failure_text

    w = open_window(kiosk.home)

    def bug(_svc: Any) -> None:
        raise RuntimeError("internal detail")

    def refused(_svc: Any) -> None:
        raise EnvironmentFailure("disk_full", "the disk is full")

    with caplog.at_level(logging.WARNING, logger="kiosk.ui.bridge"):
        got = call(qtbot, w, bug)
        assert isinstance(got, RuntimeError)
        (rec,) = [r for r in caplog.records if r.name == "kiosk.ui.bridge"]
        assert rec.levelno == logging.ERROR and rec.exc_info is not None  # the traceback
        text = failure_text(got)
        assert "RuntimeError" in text and "internal detail" not in text and "日志" in text
        caplog.clear()
        got = call(qtbot, w, refused)
        assert isinstance(got, EnvironmentFailure) and failure_text(got) == "the disk is full"
        (rec,) = [r for r in caplog.records if r.name == "kiosk.ui.bridge"]
        assert rec.levelno == logging.WARNING and rec.exc_info is None  # expected: one line
    # the manager's export shows the engine's words, not a Python repr
    export_to = kiosk.home / "a-file"
    export_to.write_text("not a folder")
    w.open_manager()
    w.pin.pin.setText("5555")
    w.pin.confirm.setText("5555")
    QTest.mouseClick(w.pin.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.manager, timeout=5000)
    w.manager.set_export_folder(str(export_to))
    QTest.mouseClick(w.manager.export_csv, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.manager.export_result.text() != "", timeout=5000)
    assert "c62828" in w.manager.export_result.styleSheet(), w.manager.export_result.text()
    assert "Errno" not in w.manager.export_result.text()
    assert f"未保存：cannot create the folder {export_to}" in w.manager.export_result.text()
