"""Timing rules of the keyboard-wedge detector, with exact timestamps (no Qt)."""

from __future__ import annotations

from kiosk.ui.keywedge import BurstDetector


def feed(det: BurstDetector[str], text: str, start: float, gap: float) -> tuple[list, float]:
    out: list = []
    t = start
    for ch in text:
        out += det.press(ch, ch, False, t)
        t += gap
    return out, t


def test_fast_burst_with_enter_is_a_scan() -> None:
    det: BurstDetector[str] = BurstDetector()
    out, t = feed(det, "CP1:ABCDEFGH123", 0.0, 0.004)
    assert out == []
    assert det.press("\r", "", True, t) == [("scan", "CP1:ABCDEFGH123")]
    assert not det.holding


def test_burst_without_enter_ends_on_idle() -> None:
    det: BurstDetector[str] = BurstDetector()
    _, t = feed(det, "ABCD-EFGH-JKMN-PQRS", 0.0, 0.005)
    last = t - 0.005
    assert det.expire(last + 0.05) == []  # not idle long enough yet
    assert det.deadline() == last + det.idle_end
    assert det.expire(last + 0.2) == [("scan", "ABCD-EFGH-JKMN-PQRS")]


def test_human_keys_are_replayed_one_by_one() -> None:
    det: BurstDetector[str] = BurstDetector()
    out: list = []
    t = 0.0
    for ch in "ab12":
        out += det.press(ch, ch, False, t)
        t += 0.12
    out += det.expire(t)
    assert out == [("replay", ["a"]), ("replay", ["b"]), ("replay", ["1"]), ("replay", ["2"])]


def test_short_fast_pair_then_enter_is_not_a_scan() -> None:
    det: BurstDetector[str] = BurstDetector()
    det.press("a", "a", False, 0.0)
    det.press("b", "b", False, 0.01)  # key rollover of a fast typist
    assert det.press("ENTER", "", True, 0.02) == [("replay", ["a", "b", "ENTER"])]


def test_pause_splits_a_burst_from_later_typing() -> None:
    det: BurstDetector[str] = BurstDetector()
    feed(det, "12345678", 0.0, 0.003)
    # 0.5 s later a person presses "x": the burst is resolved first, as its idle timer would
    out = det.press("x", "x", False, 0.5)
    assert out == [("scan", "12345678")]
    assert det.holding  # "x" waits to see whether a burst follows
    assert det.expire(0.6) == [("replay", ["x"])]


def test_control_key_inside_burst_flushes() -> None:
    det: BurstDetector[str] = BurstDetector()
    det.press("a", "a", False, 0.0)
    out = det.press("TAB", "", False, 0.001)
    assert out == [("replay", ["a"]), ("replay", ["TAB"])]
