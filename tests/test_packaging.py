"""Packaging: the spec's inputs, the build helpers, the pyzbar runtime hook, installer and CI files.

The real build runs once in ``make test`` (scripts/build-and-selftest.sh, before
pytest); the build test then checks that executable, or builds its own when run
alone (a minute or two of both cores: deselect with ``-m "not slow"``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def build_mod() -> ModuleType:
    return _load("cinepass_build", PACKAGING / "build.py")


def test_packaging_folder_does_not_shadow_the_packaging_library():
    assert not (PACKAGING / "__init__.py").exists()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import packaging.version, sys; print(packaging.version.Version('1.2'))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "1.2", proc.stderr


def test_executable_path_contract(build_mod, tmp_path):
    suffix = ".exe" if sys.platform == "win32" else ""
    assert (
        build_mod.executable_path(tmp_path)
        == tmp_path / "cinepass-kiosk" / f"cinepass-kiosk{suffix}"
    )
    assert build_mod.executable_path(tmp_path, onefile=True) == tmp_path / f"cinepass-kiosk{suffix}"


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not shutil.which("strip"), reason="ELF/binutils"
)
def test_strip_only_touches_unstripped_libraries(build_mod, tmp_path):
    import _sqlite3

    lib = tmp_path / "_internal" / Path(_sqlite3.__file__).name
    lib.parent.mkdir()
    shutil.copy2(_sqlite3.__file__, lib)
    keep = tmp_path / "_internal" / "libopenblas-test.so"
    shutil.copy2(_sqlite3.__file__, keep)
    had_symbols = build_mod.has_symbol_table(lib)
    saved = build_mod.strip_binaries(tmp_path)
    assert not build_mod.has_symbol_table(lib)
    assert build_mod.has_symbol_table(keep) == had_symbols  # NO_STRIP names are never touched
    assert (saved > 0) == had_symbols
    assert build_mod.strip_binaries(tmp_path) == 0  # idempotent: nothing left to strip
    not_elf = tmp_path / "x.so"
    not_elf.write_bytes(b"hello")
    assert build_mod.has_symbol_table(not_elf) is False


def test_icu_items_kept_are_the_kiosks_languages_and_the_shared_data(build_mod):
    dropped = build_mod.icu_item_dropped
    for item in ("de.res", "coll/de.res", "coll/de__PHONEBOOK.res", "zone/fr_CA.res",
                 "curr/ja.res", "brkitr/cjdict.dict", "brkitr/zh.res", "translit/el_Latn.res"):  # fmt: skip
        assert dropped(item), item
    for item in ("root.res", "en.res", "en_GB.res", "zh_Hans_CN.res", "coll/zh.res",
                 "coll/root.res", "coll/ucadata.icu", "zone/zh_Hant.res", "zone/pool.res",
                 "curr/res_index.res", "res_index.res", "pool.res", "supplementalData.res",
                 "zoneinfo64.res", "metaZones.res", "gb18030.cnv", "cnvalias.icu",
                 "nfkc.nrm", "uts46.nrm", "unames.icu", "curr/supplementalData.res"):  # fmt: skip
        assert not dropped(item), item


_ICU_PROBE = """
from PySide6.QtCore import QCollator, QLocale, QStringDecoder, QTimeZone
c = QCollator(QLocale("zh_CN"))
print(sorted(["张三", "北京", "赵六"], key=c.sortKey))
print(QStringDecoder("GB18030").isValid(), QStringDecoder("Shift_JIS").isValid())
tz = QTimeZone(b"Asia/Shanghai")
print(tz.displayName(QTimeZone.StandardTime, QTimeZone.LongName, QLocale("zh_CN")))
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or not all(shutil.which(t) for t in ("icupkg", "objcopy", "nm", "readelf", "cc")),
    reason="ELF, icu-devtools, binutils, cc",
)
def test_trimmed_icu_data_still_serves_what_qt_asks_for(build_mod, tmp_path):
    """Trim a copy of Qt's libicudata, load it in place of the original, ask Qt for zh/en data."""
    import PySide6

    qt_lib = Path(PySide6.__file__).parent / "Qt" / "lib"
    (original,) = qt_lib.glob("libicudata.so.*")
    lib_dir = tmp_path / "_internal" / "PySide6" / "Qt" / "lib"
    lib_dir.mkdir(parents=True)
    shutil.copy2(original, lib_dir / original.name)
    saved = build_mod.trim_icu_data(tmp_path)
    assert saved > 15_000_000
    assert build_mod.trim_icu_data(tmp_path) < 100_000  # trimming the trimmed changes ~nothing

    def probe(lib: Path) -> str:
        env = dict(os.environ, LD_PRELOAD=str(lib), QT_QPA_PLATFORM="offscreen")
        proc = subprocess.run([sys.executable, "-c", _ICU_PROBE], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    out = probe(lib_dir / original.name)
    assert out == probe(original)
    assert out.splitlines() == ["['北京', '张三', '赵六']", "True True", "中国标准时间"]


def test_biggest_parts_and_size(build_mod, tmp_path):
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "big.bin").write_bytes(b"x" * 5000)
    (tmp_path / "small.txt").write_bytes(b"y" * 10)
    assert build_mod.folder_size(tmp_path) == 5010
    parts = build_mod.biggest_parts(tmp_path)
    assert parts[0] == (5000, "a/b/c") and parts[-1] == (10, "small.txt")


def test_pyzbar_runtime_hook_points_find_library_at_the_bundle(tmp_path):
    """Run the hook as PyInstaller would (sys._MEIPASS set) and ask ctypes for zbar."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    fake = bundle / "libzbar.so.0"
    fake.write_bytes(b"")
    code = (
        "import sys, ctypes.util, runpy;"
        f"sys._MEIPASS = {str(bundle)!r};"
        f"runpy.run_path({str(PACKAGING / 'hooks' / 'rthook_pyzbar.py')!r});"
        "print(ctypes.util.find_library('zbar')); print(ctypes.util.find_library('c'))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    zbar, libc = proc.stdout.split("\n")[:2]
    if sys.platform.startswith("linux"):
        assert zbar == str(fake)
        assert libc and libc != str(fake)  # every other name goes to the original


def test_spec_bundles_what_a_counter_needs():
    spec = (PACKAGING / "cinepass-kiosk.spec").read_text(encoding="utf-8")
    for needed in (
        'tomllib.load(fh)["project"]',  # name/version from pyproject
        '"resources"',
        '"kiosk/engine/migrations"',
        "libzbar.so.0",
        "rthook_pyzbar.py",
        'collect_submodules("kiosk")',
        'copy_metadata("cinepass")',
        "PySide6.QtWebEngineCore",  # excluded
        "CINEPASS_ONEFILE",
    ):
        assert needed in spec, needed
    for folder in (
        "resources/selftest",
        "resources/sounds",
        "resources/fonts",
        "kiosk/engine/migrations",
    ):
        assert (ROOT / folder).is_dir(), folder
    assert (ROOT / "resources/selftest/voucher.png").is_file()
    assert "PRIVATE" not in (ROOT / "resources/selftest/demo-issuer.pem").read_text()


def test_selftest_assets_are_consistent():
    from kiosk.engine.decode import decode_file
    from sync.voucher import decode_and_verify, keyring, load_public_key

    d = ROOT / "resources" / "selftest"
    text = (d / "voucher.txt").read_text().strip()
    assert decode_file(d / "voucher.png") == [text]
    v = decode_and_verify(text, keyring(load_public_key(d / "demo-issuer.pem")))
    assert v.iss == "SELFTEST" and v.exp > 4_000_000_000  # valid for the life of any install


def test_version_is_the_package_version():
    from kiosk import __version__

    with open(ROOT / "pyproject.toml", "rb") as fh:
        assert tomllib.load(fh)["project"]["version"] == __version__


def test_installer_and_windows_workflow_cover_the_issue():
    iss = (PACKAGING / "windows" / "installer.iss").read_text(encoding="utf-8")
    for needed in (
        "PrivilegesRequired=admin",  # per-machine
        "AppId={{",  # a fixed id: upgrades in place
        '{autodesktop}\\CinePass"',  # desktop shortcut
        "CurrentVersion\\Run",  # start with Windows
        "--self-test",
        "{param:PROVISION|}",
    ):
        assert needed in iss, needed
    code = "\n".join(line for line in iss.splitlines() if not line.lstrip().startswith(";"))
    assert "localappdata" not in code.lower()  # the data folder is never touched
    assert "[UninstallDelete]" not in code
    wf = (ROOT / ".github" / "workflows" / "windows.yml").read_text(encoding="utf-8")
    for needed in (
        "windows-latest",
        "packaging/build.py",
        "--self-test",
        "installer.iss",
        "/VERYSILENT",
    ):
        assert needed in wf, needed
    script = (ROOT / "scripts" / "build-and-selftest.sh").read_text()
    assert "env -i PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen" in script
    assert "bash scripts/build-and-selftest.sh" in (ROOT / "Makefile").read_text()


def test_self_test_from_source_passes(capsys):
    import argparse

    from kiosk.selftest import run_self_test

    assert run_self_test(argparse.Namespace(json=False)) == 0
    out = capsys.readouterr().out
    for check in ("imports", "qt", "decode", "verify", "store", "window", "resources"):
        assert f"ok    {check}" in out
    assert out.strip().endswith("self-test passed")


def test_self_test_names_what_is_missing(tmp_path, capsys, monkeypatch):
    """With the bundled assets gone, the self-test fails on exactly those checks, exit 3."""
    import argparse
    import json

    from kiosk import selftest

    monkeypatch.setattr(selftest, "CHECKS", tuple(c for c in selftest.CHECKS if c[0] != "window"))
    monkeypatch.setenv("CINEPASS_RESOURCES", str(tmp_path / "nothing"))
    assert selftest.run_self_test(argparse.Namespace(json=True)) == 3
    report = json.loads(capsys.readouterr().out)
    failed = {c["check"] for c in report["checks"] if not c["ok"]}
    assert failed == {"decode", "verify", "resources"} and report["ok"] is False


@pytest.mark.slow
def test_build_and_self_test(tmp_path, build_mod):
    """The packaged executable passes its self-test in a clean environment.

    ``make test`` builds once (scripts/build-and-selftest.sh) and names the
    result in CINEPASS_BUILT_EXE; without it this test builds its own copy.
    """
    built = os.environ.get("CINEPASS_BUILT_EXE")
    if built:
        exe = Path(built).resolve()
        assert exe.is_file(), f"CINEPASS_BUILT_EXE={built} does not exist"
    else:
        exe = build_mod.build(dist=tmp_path / "dist", work=tmp_path / "work")
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [str(exe), "--self-test"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert build_mod.folder_size(exe.parent) < 600_000_000
    if sys.platform.startswith("linux"):
        qt = exe.parent / "_internal" / "PySide6" / "Qt"
        assert not (qt / "plugins" / "multimedia").exists()  # sound needs no FFmpeg backend
        assert not list((qt / "lib").glob("libavcodec*"))
        if shutil.which("icupkg") and shutil.which("cc"):
            (icudata,) = (qt / "lib").glob("libicudata.so.*")
            assert icudata.stat().st_size < 15_000_000
