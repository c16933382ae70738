"""``cinepass-kiosk --self-test``: does this installation have everything a counter needs?

Run by CI on the built executable in a clean environment (``env -i``), by
IT after installing, and by support over the phone. Each check exercises
the real part, not just its presence: the QR check decodes real pixels
with both bundled decoders, the voucher check verifies a real Ed25519
signature (and sees a tampered copy fail), the store check creates and
migrates a real SQLite file. That is what catches a PyInstaller bundle that
forgot a native library, a Qt plugin or the migration scripts, which an
``import`` alone would not.

The assets are in ``resources/selftest`` (made once by
``scripts/make_selftest_assets.py``): a demo issuer's *public* key, a
voucher it signed and its QR image. The demo private key does not exist
anywhere, and no store trusts the demo key.

Output: one line per check (``ok``/``FAIL``, name, detail); exit 0 when all
pass, else 3 (environment failure) after naming what is missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.errors import EXIT_ENV, EXIT_OK

IMPORTS = (
    "PySide6.QtCore",
    "PySide6.QtGui",
    "PySide6.QtWidgets",
    "PySide6.QtNetwork",
    "PySide6.QtMultimedia",
    "cv2",
    "numpy",
    "zxingcpp",
    "pyzbar.pyzbar",
    "cryptography",
    "cbor2",
    "sqlalchemy",
    "alembic",
    "platformdirs",
    "requests",
    "fpdf",
    "openpyxl",
    "zeroconf",
)


def selftest_dir() -> Path:
    from kiosk.ui.assets import resources_dir

    return resources_dir() / "selftest"


def check_imports() -> str:
    versions = []
    missing = []
    for name in IMPORTS:
        try:
            mod = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - report every failing import, not the first
            missing.append(f"{name} ({exc.__class__.__name__}: {exc})")
            continue
        top = name.split(".")[0]
        ver = getattr(sys.modules.get(top), "__version__", None) or getattr(mod, "__version__", "")
        if top in ("PySide6", "cv2", "zxingcpp", "cryptography", "sqlalchemy") and ver:
            versions.append(f"{top} {ver}")
    if missing:
        raise RuntimeError("cannot import " + "; ".join(missing))
    return ", ".join(dict.fromkeys(versions))


_app: object = None  # keeps the QApplication alive for the later checks


def check_qt() -> str:
    if sys.platform.startswith("linux") and not (
        os.environ.get("QT_QPA_PLATFORM")
        or os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
    ):
        # Without a display Qt would abort the process (qFatal), not raise.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QLibraryInfo
    from PySide6.QtGui import QFontDatabase, QGuiApplication
    from PySide6.QtWidgets import QApplication

    global _app
    _app = QGuiApplication.instance() or QApplication([sys.argv[0] if sys.argv else "cinepass"])
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    names = sorted(
        p.name.split(".")[0].removeprefix("lib").removeprefix("q")
        for p in plugins.glob("*")
        if p.suffix in (".so", ".dll", ".dylib")
    )
    wanted = {"offscreen", "windows"} if sys.platform == "win32" else {"offscreen", "xcb"}
    lacking = wanted - set(names)
    if lacking:
        raise RuntimeError(f"Qt platform plugins missing: {', '.join(sorted(lacking))}")
    from kiosk.ui.assets import font_path

    font = font_path()
    if font.exists() and QFontDatabase.addApplicationFont(str(font)) < 0:
        raise RuntimeError(f"the CJK font {font.name} cannot be loaded")
    return f"platform {QGuiApplication.platformName()}; plugins {', '.join(names)}; " + (
        "CJK font ok" if font.exists() else "no bundled CJK font"
    )


def _expected_text() -> str:
    return (selftest_dir() / "voucher.txt").read_text(encoding="ascii").strip()


def check_decode() -> str:
    from kiosk.engine.decode import decode_file, make_decoder

    image = selftest_dir() / "voucher.png"
    want = _expected_text()
    done = []
    for name in ("zxing", "pyzbar"):
        got = decode_file(image, make_decoder(name))
        if got != [want]:
            raise RuntimeError(f"{name} read {len(got)} code(s) from {image.name}, not the voucher")
        done.append(name)
    return f"{image.name} read by {' and '.join(done)}"


def check_verify() -> str:
    from sync.voucher import (
        PrivateKey,
        SignatureError,
        decode_and_verify,
        encode_voucher,
        keyring,
        load_public_key,
    )

    key = load_public_key(selftest_dir() / "demo-issuer.pem")
    voucher = decode_and_verify(_expected_text(), keyring(key))
    # The same claims signed by another key, presented under the demo key's
    # trust: must fail, which proves the signature check really runs.
    forger = PrivateKey.generate()
    forged = encode_voucher(voucher, forger)
    try:
        decode_and_verify(forged, {forger.public.kid: key})
    except SignatureError:
        pass
    else:
        raise RuntimeError("a voucher with a wrong signature was accepted")
    return f"voucher {voucher.short_code} signed by {key.kid.hex()}; a forged copy is refused"


def check_store() -> str:
    from kiosk.engine.db import HEAD_REVISION, current_revision
    from kiosk.engine.store import Store

    with tempfile.TemporaryDirectory(prefix="cinepass-selftest-") as tmp:
        path = Path(tmp) / "kiosk.sqlite3"
        store = Store.open(path)
        try:
            counts = store.counts()
        finally:
            store.close()
        rev = current_revision(path)
        if rev != HEAD_REVISION:
            raise RuntimeError(f"the new store is at schema {rev}, not {HEAD_REVISION}")
    return f"temporary store created and migrated to {rev} ({len(counts)} counters readable)"


def check_window() -> str:
    """Build the real window (the set-up wizard of an empty folder), then close it.

    Imports every widget module and the Qt modules they use (QtCharts,
    QtMultimedia...), and the start-up's Qt half (the raise server on
    QtNetwork, the crash dialog), which a bundle that left one out fails
    here instead of at the counter.
    """
    from kiosk.ui import startup_window  # noqa: F401 - imported to prove it is bundled
    from kiosk.ui.app import create_window

    with tempfile.TemporaryDirectory(prefix="cinepass-selftest-") as tmp:
        window = create_window(Path(tmp) / "home")
        try:
            title = str(window.windowTitle())  # type: ignore[attr-defined]
        finally:
            window.shutdown()  # type: ignore[attr-defined]
            window.deleteLater()  # type: ignore[attr-defined]
    return f"window {title!r} built and closed"


def check_resources() -> str:
    from kiosk.ui.assets import SOUNDS, resources_dir, sound_path, translations_dir

    missing = [f"sounds/{s}.wav" for s in SOUNDS if not sound_path(s).is_file()]
    qm = sorted(p.name for p in translations_dir().glob("*.qm"))
    if missing:
        raise RuntimeError(f"missing in {resources_dir()}: {', '.join(missing)}")
    return f"{len(SOUNDS)} sounds, translations: {', '.join(qm) or 'none'}"


def check_lan() -> str:
    from kiosk.peers.discovery import self_check  # LAN discovery: zeroconf's native parts

    return self_check()


CHECKS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("imports", check_imports),
    ("qt", check_qt),
    ("decode", check_decode),
    ("verify", check_verify),
    ("store", check_store),
    ("window", check_window),
    ("resources", check_resources),
    ("lan", check_lan),
)


def run_checks() -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    for name, check in CHECKS:
        started = time.monotonic()
        try:
            detail, ok = check(), True
        except Exception as exc:  # noqa: BLE001 - the self-test reports, it never crashes
            detail, ok = f"{exc.__class__.__name__}: {exc}", False
        results.append(
            {
                "check": name,
                "ok": ok,
                "detail": detail,
                "ms": round((time.monotonic() - started) * 1000),
            }
        )
    return results


def run_self_test(args: argparse.Namespace) -> int:
    """Run every check, print one line each (or one JSON object), exit 0 or 3."""
    from kiosk import __version__

    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    # QtMultimedia probes for PipeWire and says so on stderr when it is absent
    # (it then uses PulseAudio): noise in a report IT reads line by line.
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.symbolsresolver=false")
    results = run_checks()
    failed = [r for r in results if not r["ok"]]
    if getattr(args, "json", False):
        print(
            json.dumps(
                {"version": __version__, "ok": not failed, "checks": results}, ensure_ascii=False
            )
        )
    else:
        print(
            f"cinepass-kiosk {__version__} self-test ({'frozen' if getattr(sys, 'frozen', False) else 'source'})"
        )
        for r in results:
            print(f"{'ok  ' if r['ok'] else 'FAIL'}  {r['check']:<10} {r['detail']}")
        if failed:
            print(f"self-test FAILED: {', '.join(str(r['check']) for r in failed)}")
        else:
            print("self-test passed")
    sys.stdout.flush()
    return EXIT_ENV if failed else EXIT_OK
