"""``cinepass-kiosk --demo``: the whole system on one machine, for a newcomer.

Everything here is the real product wired together in a temporary folder:
the central database and server (on loopback), the union's issuer key, a
batch of vouchers with the files ``cinepass-admin issue`` writes (PNG, PDF
sheet, CSV), one voucher frozen as lost, one redeemed at a second counter,
one expired and one forged, a kiosk enrolled with a one-time code, and a demo
video of those codes standing in for the webcam. Nothing is mocked; only the
camera is a video file, read through the same OpenCV capture path as a webcam.

The central side is set up through :mod:`sync.office` and :mod:`sync.issuing`,
the functions ``cinepass-admin`` itself calls, not through the admin CLI: a
command line is a front end, and the demo is another one. The window is
opened through :func:`kiosk.ui.app.run_window_for`; the UI never imports this
module (:mod:`kiosk.cli` chooses between the demo and a counter).

With a display the counter window opens (the demo video loops as the
camera, or a real webcam if one is plugged in). Without one, the demo plays
the video through the engine and prints each verdict, the day's tally and
the sync result in the terminal, then exits.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.voucher.keys import PrivateKey

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

ISSUER = "DEMO-UNION"
CINEMA = "DEMO01"
OTHER_CINEMA = "DEMO02"
STAFF = "演示员"
MEMBERS = (
    ("M0001", "张三明"),
    ("M0002", "李四"),
    ("M0003", "王小红"),
    ("M0004", "赵大伟"),
    ("M0005", "陈静"),
    ("M0006", "Alice Wong"),
)


@dataclass
class DemoSetup:
    """What :func:`prepare_demo` built: folders, the running server, the demo codes."""

    root: Path
    db_url: str
    server_url: str
    home: Path
    batch_dir: Path
    video: Path
    # (label, QR text) in the order the video shows them
    codes: list[tuple[str, str]] = field(default_factory=list)
    server: Any = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def _forge(token: str) -> str:
    """The same voucher claims, signed by a stranger's key but naming the union's kid."""
    import cbor2

    from sync.voucher import PREFIX, PrivateKey, decode_voucher
    from sync.voucher.base45 import b45encode

    decoded = decode_voucher(token)
    signature = PrivateKey.generate().sign(decoded.signed_bytes())
    cose = cbor2.dumps(cbor2.CBORTag(18, [decoded.protected, {}, decoded.payload, signature]))
    return PREFIX + b45encode(bytes(cose))


def _expired(key: PrivateKey) -> str:
    """A genuine voucher of the demo union, issued 400 days ago for 365 days."""
    from sync.issuing import create_voucher, make_options

    options = make_options(ISSUER, campaign="2025 demo")
    now = int(time.time()) - 400 * 86400
    return create_voucher(key, options, now=now).token


def _setup_central(
    db_url: str, root: Path, members: Path, log: Any
) -> tuple[Engine, PrivateKey, Path]:
    """The union's office, as ``cinepass-admin init``/``cinema add``/``issue`` leave it.

    Returns the migrated engine, the issuer's signing key and the batch folder
    (``vouchers.csv``, one PNG per voucher, ``cards.pdf``).
    """
    from sync import batchdir
    from sync.issuing import create_batch, make_options
    from sync.members import read_members
    from sync.office.batches import record_batch
    from sync.office.cinemas import add_cinema
    from sync.office.issuers import add_signing_key, issuer_label, key_dir_for
    from sync.server.db import migrate, session_scope
    from sync.voucher.keys import save_private_key

    log("· 创建工会签发密钥 / creating the union's issuer key")
    engine = migrate(db_url)
    key = PrivateKey.generate()
    kid = key.public.kid.hex()
    path = key_dir_for(db_url) / f"{ISSUER}-{kid}.pem"
    save_private_key(path, key)
    with session_scope(engine) as s:
        add_signing_key(s, ISSUER, "示范工会 Demo Union", key, path)
        add_cinema(s, CINEMA, "示范影院 Demo Cinema")
        add_cinema(s, OTHER_CINEMA, "第二影院 Second Cinema")
        label = issuer_label(s, ISSUER)
    log("· 签发示范观影券 / issuing demo vouchers (PNG, PDF, CSV)")
    options = make_options(ISSUER, campaign="2027 示范")
    issued = create_batch(key, options, members=read_members(members))
    batch = root / "batch"
    batch.mkdir()
    batchdir.write_batch(batch, issued, label)
    with session_scope(engine) as s:
        record_batch(s, issued, kid, batchdir.batch_id())
    return engine, key, batch


def _qr_frame(text: str | None, caption: str, size: tuple[int, int] = (1280, 720)) -> Any:
    """A 720p camera-like frame: a phone screen showing ``text`` as QR, and a caption."""
    import cv2
    import numpy as np

    from sync.cards import qr_matrix  # the one QR encoder the project uses

    w, h = size
    frame = np.full((h, w, 3), (70, 62, 55), np.uint8)  # a counter top
    cv2.rectangle(frame, (w // 2 - 210, 40), (w // 2 + 210, h - 40), (25, 25, 25), -1)  # phone
    cv2.rectangle(frame, (w // 2 - 190, 80), (w // 2 + 190, h - 80), (245, 245, 245), -1)
    if text is not None:
        matrix = np.where(qr_matrix(text), 0, 255).astype(np.uint8)
        module = max(1, 340 // (matrix.shape[0] + 8))
        img = cv2.resize(matrix, None, fx=module, fy=module, interpolation=cv2.INTER_NEAREST)
        img = cv2.copyMakeBorder(
            img, 4 * module, 4 * module, 4 * module, 4 * module, cv2.BORDER_CONSTANT, value=255
        )
        qh, qw = img.shape
        y, x = (h - qh) // 2, (w - qw) // 2
        frame[y : y + qh, x : x + qw] = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    cv2.putText(frame, caption, (30, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    return frame


def write_demo_video(path: Path, codes: list[tuple[str, str]], *, fps: float = 10.0) -> Path:
    """An MJPG .avi: each code held up for 2.5 s, then 2 s of an empty phone screen."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (1280, 720))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write the demo video {path}")
    try:
        for i, (label, text) in enumerate(codes, 1):
            shown = _qr_frame(text, f"CinePass demo {i}/{len(codes)}: {label}")
            blank = _qr_frame(None, "CinePass demo: next customer...")
            for _ in range(int(fps * 2.5)):
                writer.write(shown)
            for _ in range(int(fps * 2)):
                writer.write(blank)
    finally:
        writer.release()
    return path


def prepare_demo(root: Path, *, log: Any = print) -> DemoSetup:
    """Build the demo world in ``root`` and start its server; the caller must ``stop()`` it."""
    from kiosk.engine.service import KioskService
    from kiosk.enrollment import enroll
    from kiosk.syncer import SyncEngine
    from sync.office.devices import device_code
    from sync.office.vouchers import find_voucher, freeze
    from sync.server.db import session_scope
    from sync.server.embedded import EmbeddedServer

    root.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{root / 'central.sqlite3'}"
    members = root / "members.csv"
    with members.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["member_ref", "name"])
        w.writerows(MEMBERS)
    engine, key, batch = _setup_central(db_url, root, members, log)
    with (batch / "vouchers.csv").open(encoding="utf-8-sig") as fh:
        tokens = [row["qr_text"] for row in csv.DictReader(fh)]
    valid1, valid2, frozen, used_elsewhere, valid3 = tokens[:5]
    with session_scope(engine) as s:
        freeze(s, find_voucher(s, frozen), "lost")
        code_here = device_code(s, CINEMA)
        code_other = device_code(s, OTHER_CINEMA)

    log("· 启动中心服务器 / starting the central server on loopback")
    server = EmbeddedServer(engine).start()
    home = root / "kiosk"
    other = root / "other-counter"
    log("· 登记本柜台 / enrolling this counter with a one-time code")
    enroll(home, server.url, code_here, name="1号窗口 demo counter")
    enroll(other, server.url, code_other, name="second cinema counter")
    svc = KioskService.open(other)
    try:
        svc.redeem(used_elsewhere, fmt="2D", staff="王经理")
        SyncEngine(svc).sync_now()
    finally:
        svc.close()
    svc = KioskService.open(home)
    try:
        SyncEngine(svc).sync_now()  # learns the freeze and the use at the second cinema
    finally:
        svc.close()

    codes = [
        ("valid voucher", valid1),
        ("expired voucher", _expired(key)),
        ("frozen (lost) voucher", frozen),
        ("forged voucher", _forge(valid2)),
        ("already used at another cinema", used_elsewhere),
        ("not a voucher", "https://example.com/not-a-voucher"),
        ("valid voucher", valid2),
        ("valid voucher", valid3),
    ]
    log("· 生成示范视频 / writing the demo video (stands in for the webcam)")
    video = write_demo_video(root / "demo-camera.avi", codes)
    return DemoSetup(
        root=root,
        db_url=db_url,
        server_url=server.url,
        home=home,
        batch_dir=batch,
        video=video,
        codes=codes,
        server=server,
    )


def _has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        return False
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _webcam_present() -> bool:
    import cv2

    cap = cv2.VideoCapture(0)
    try:
        return bool(cap.isOpened())
    finally:
        cap.release()


def run_headless(setup: DemoSetup, *, out: Any = print) -> int:
    """Play the demo video through the engine and print what the counter would show."""

    from kiosk.engine.decode import decode_file
    from kiosk.engine.service import KioskService
    from kiosk.syncer import SyncEngine

    out("")
    out("没有显示器：在终端里演示柜台核销 / no display: the counter's answers, in the terminal")
    texts = decode_file(setup.video)
    svc = KioskService.open(setup.home)
    try:
        for i, text in enumerate(texts, 1):
            verdict = svc.redeem(text, fmt="2D", staff=STAFF, source="camera")
            mark = "✔" if verdict.accepted else "✘"
            who = ""
            if verdict.voucher is not None:
                who = f"  {verdict.voucher.id}  {verdict.voucher.holder or ''}"
            out(f"{i:2d}. {mark} {verdict.message('zh_CN')} / {verdict.message('en')}{who}")
            out(f"      {verdict.next_step('zh_CN')}")
        result = SyncEngine(svc).sync_now()
        tally = svc.tally()  # the current business day (sync.businessday)
        out("")
        out(f"今日统计 / today's tally: {tally.to_json()}")
        out(f"同步 / sync: {result.to_json()}")
    finally:
        svc.close()
    out("")
    out(f"示范券 / demo vouchers: {setup.batch_dir} (cards.pdf, one PNG per voucher, vouchers.csv)")
    out("有显示器时运行 `make demo` 会打开柜台窗口 / with a display, `make demo` opens the window")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """Entry point of ``cinepass-kiosk --demo``."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # no "can't open camera" noise
    root = Path(tempfile.mkdtemp(prefix="cinepass-demo-"))
    print(f"CinePass 示范 / demo in {root}")
    setup: DemoSetup | None = None
    try:
        setup = prepare_demo(root)
        if not _has_display():
            return run_headless(setup)
        from kiosk.ui.app import run_window_for
        from kiosk.ui.options import WindowOptions

        asked = WindowOptions.from_args(args)
        camera = asked.camera or ("0" if _webcam_present() else str(setup.video))
        options = replace(asked, camera=camera, staff=asked.staff or STAFF, loop_video=True)
        return run_window_for(setup.home, options)
    finally:
        if setup is not None:
            setup.stop()
        if os.environ.get("CINEPASS_DEMO_CLEANUP"):
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"示范文件夹 / demo folder (safe to delete): {root}")
