"""Frame sources (files standing in for a webcam), reconnects, the pipeline, hold-off."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from helpers_qr import qr_png, video_of_texts
from waitfor import wait_for

from kiosk.engine.camera import CameraState, classify, open_source
from kiosk.engine.decode import Frame, ZxingDecoder
from kiosk.engine.pipeline import FrameInfo, HoldOff, ScanPipeline


def test_classify_specs() -> None:
    assert classify("0") == "camera" and classify(" 2 ") == "camera"
    assert classify("a/frame_%03d.png") == "sequence"
    assert classify("x.PNG") == "image" and classify("x.avi") == "video"


def test_single_image_repeats_at_about_ten_fps(tmp_path: Path) -> None:
    src = open_source(str(qr_png(tmp_path / "q.png", "CP1:IMG")))
    assert src.state is CameraState.OK and src.kind == "image"
    t0 = time.monotonic()
    frames = [src.read() for _ in range(6)]
    elapsed = time.monotonic() - t0
    assert all(f is not None for f in frames)
    assert 0.4 <= elapsed <= 1.5, elapsed  # 5 intervals of 0.1 s
    src.close()
    assert src.read() is None


def test_video_plays_at_its_frame_rate_then_ends(tmp_path: Path) -> None:
    avi = video_of_texts(tmp_path / "v.avi", ["CP1:V"], frames_each=10, fps=20.0)
    src = open_source(str(avi))
    assert src.fps == 20.0
    t0 = time.monotonic()
    n = 0
    while src.read() is not None:
        n += 1
    elapsed = time.monotonic() - t0
    assert n == 10 and src.state is CameraState.ENDED
    assert 0.4 <= elapsed <= 1.5, elapsed  # 9-10 intervals of 50 ms


def test_loop_restarts_a_video(tmp_path: Path) -> None:
    avi = video_of_texts(tmp_path / "v.avi", ["CP1:V"], frames_each=3, fps=100.0)
    src = open_source(str(avi), loop=True)
    assert sum(src.read() is not None for _ in range(8)) == 8
    assert src.state is CameraState.OK
    src.close()


def test_image_sequence_source(tmp_path: Path) -> None:
    for i in range(4):
        qr_png(tmp_path / f"frame_{i:03d}.png", f"CP1:S{i}")
    src = open_source(str(tmp_path / "frame_%03d.png"))
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    assert len(frames) == 4 and src.state is CameraState.ENDED


def test_missing_camera_is_lost_not_an_exception() -> None:
    src = open_source("97")  # no such device: VideoCapture does not raise
    assert src.state is CameraState.LOST
    t0 = time.monotonic()
    assert src.read() is None  # waits out the backoff, retries, still lost
    assert time.monotonic() - t0 < 2.0
    assert src.state is CameraState.LOST
    src.close()


def test_reconnects_by_itself_when_the_device_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "late.png"
    src = open_source(str(path))  # "unplugged" at start
    src.backoff_initial = 0.05
    assert src.state is CameraState.LOST
    qr_png(path, "CP1:BACK")
    deadline = time.monotonic() + 5
    frame = None
    while frame is None and time.monotonic() < deadline:
        frame = src.read()
    assert frame is not None and src.state is CameraState.OK
    src.close()


class SlowDecoder:
    """The real decoder on a slow machine: 300 ms per frame."""

    name = "slow"

    def __init__(self) -> None:
        self.inner = ZxingDecoder()
        self.frames: list[int] = []

    def decode(self, frame: Frame) -> list[str]:
        time.sleep(0.3)
        self.frames.append(int(frame[0, 0]))
        return self.inner.decode(frame)


def test_pipeline_keeps_only_the_newest_frame() -> None:
    dec = SlowDecoder()
    pipe = ScanPipeline(None, dec, hold_off=1.0)
    pipe.start()
    for i in range(1, 11):
        pipe.push(np.full((40, 40), i, dtype=np.uint8))
        time.sleep(0.01)
    assert pipe.wait_idle(5)
    pipe.stop()
    # 10 frames in ~0.1-0.2 s against 0.3 s per decode: most are dropped, none queue up
    assert len(dec.frames) <= 4
    assert pipe.stats.dropped == 10 - len(dec.frames)
    assert dec.frames[-1] == 10  # the newest frame is the one decoded last
    assert pipe.stats.captured == 10


def test_pipeline_reports_a_held_code_once(tmp_path: Path) -> None:
    src = open_source(str(qr_png(tmp_path / "q.png", "CP1:HELD")))
    calls: list[tuple[list[str], FrameInfo]] = []
    frames: list[int] = []
    states: list[CameraState] = []
    done = threading.Event()

    def on_texts(texts: list[str], info: FrameInfo) -> None:
        calls.append((texts, info))
        done.set()

    pipe = ScanPipeline(
        src,
        ZxingDecoder(),
        on_frame=lambda f: frames.append(1),
        on_texts=on_texts,
        on_state=states.append,
        hold_off=30.0,
    )
    pipe.start()
    assert done.wait(3)
    # the same code stays in view for several more decoded frames
    wait_for(lambda: len(frames) >= 6 and pipe.stats.decoded >= 6)
    pipe.stop()
    assert not pipe.running
    assert [c[0] for c in calls] == [["CP1:HELD"]]
    assert len(frames) >= 6 and pipe.stats.decoded >= 6
    assert calls[0][1].decode_ms < 500
    assert states[0] is CameraState.OK


def test_pipeline_over_a_video_reports_each_code(tmp_path: Path) -> None:
    avi = video_of_texts(
        tmp_path / "v.avi", ["CP1:ONE", None, "CP1:TWO", None], frames_each=4, fps=50.0
    )
    seen: list[str] = []
    states: list[CameraState] = []
    pipe = ScanPipeline(
        open_source(str(avi)),
        ZxingDecoder(),
        on_texts=lambda t, _i: seen.extend(t),
        on_state=states.append,
        hold_off=5.0,
    )
    pipe.start()
    wait_for(lambda: CameraState.ENDED in states)
    pipe.stop()
    assert seen == ["CP1:ONE", "CP1:TWO"]
    assert states[-1] is CameraState.ENDED


def test_hold_off_semantics() -> None:
    now = [0.0]
    h = HoldOff(3.0, clock=lambda: now[0])
    assert h.filter(["A"]) == ["A"]
    for t in (1.0, 2.5, 4.0, 6.5):  # held in view: never again
        now[0] = t
        assert h.filter(["A", "B"]) == (["B"] if t == 1.0 else [])
    now[0] = 9.6  # out of view for 3.1 s: reported again
    assert h.filter(["A"]) == ["A"]
    h.forget("A")
    assert h.filter(["A"]) == ["A"]
    h.forget()
    assert h.filter(["B"]) == ["B"]
