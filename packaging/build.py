"""Build the counter app with PyInstaller: ``python packaging/build.py [--onefile] [--report]``.

One-folder (the default) gives ``dist/cinepass-kiosk/cinepass-kiosk`` (``.exe``
on Windows): it starts faster than one-file (no unpacking to a temp folder on
every start, 1-2 s instead of 3-4 s) and the installer upgrades it in place.
``--onefile`` gives ``dist/cinepass-kiosk`` (a single file) for a USB stick.

Why a script and not just ``pyinstaller spec``: it picks the spec, the
work/dist folders and ``--noconfirm`` the same way on every machine and in
CI, and ``--report`` prints the folder size and its biggest parts, which is
what to look at when the 250 MB budget is exceeded.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "cinepass-kiosk.spec"
NAME = "cinepass-kiosk"


def executable_path(dist: Path, onefile: bool = False) -> Path:
    """Where the built executable lands (the contract scripts and docs rely on)."""
    suffix = ".exe" if sys.platform == "win32" else ""
    if onefile:
        return dist / f"{NAME}{suffix}"
    return dist / NAME / f"{NAME}{suffix}"


def folder_size(path: Path) -> int:
    """Bytes of every regular file below ``path`` (symlinks not followed twice)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def biggest_parts(path: Path, top: int = 15) -> list[tuple[int, str]]:
    """The largest files and first-level folders below ``path``, biggest first."""
    sizes: dict[str, int] = {}
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            rel = p.relative_to(path).as_posix()
            parts = rel.split("/")
            key = "/".join(parts[:3]) if len(parts) > 3 else rel
            sizes[key] = sizes.get(key, 0) + p.stat().st_size
    return sorted(((v, k) for k, v in sizes.items()), reverse=True)[:top]


# Never strip these: auditwheel/patchelf rewrote their program headers, and
# binutils' strip then produces "ELF load command address/offset not
# page-aligned" at import (numpy's OpenBLAS did exactly that here).
NO_STRIP = ("openblas",)


def has_symbol_table(path: Path) -> bool:
    """True if the ELF file still has a ``.symtab`` (i.e. it is not stripped yet).

    Stripping an already stripped, patchelf-ed library is what breaks it, so
    only files that have something to strip are touched.
    """
    with path.open("rb") as fh:
        head = fh.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit ELF only
            return False
        order = "<" if head[5] == 1 else ">"
        shoff = struct.unpack_from(order + "Q", head, 0x28)[0]
        shentsize, shnum = struct.unpack_from(order + "HH", head, 0x3A)
        if not shoff or not shnum:
            return False
        fh.seek(shoff)
        table = fh.read(shentsize * shnum)
    for i in range(shnum):
        if len(table) >= (i + 1) * shentsize:
            (sh_type,) = struct.unpack_from(order + "I", table, i * shentsize + 4)
            if sh_type == 2:  # SHT_SYMTAB
                return True
    return False


def strip_binaries(folder: Path) -> int:
    """Strip debug symbols from the bundle's shared libraries (Linux); returns bytes saved.

    PyInstaller's own ``strip`` option strips every file, including the
    patchelf-ed ones that break (see :data:`NO_STRIP`), so the spec turns
    it off and this does it selectively. libpython and the stdlib's
    extension modules alone carry ~25 MB of debug info. The executable
    itself is left alone: its archive is appended after the ELF image.
    """
    if not sys.platform.startswith("linux") or shutil.which("strip") is None:
        return 0
    before = folder_size(folder)
    targets = [
        p
        for p in (folder / "_internal").rglob("*.so*")
        if p.is_file()
        and not p.is_symlink()
        and not any(n in p.name for n in NO_STRIP)
        and has_symbol_table(p)
    ]
    for i in range(0, len(targets), 100):
        subprocess.run(
            ["strip", "--strip-unneeded", *map(str, targets[i : i + 100])],
            check=True,
            capture_output=True,
        )
    return before - folder_size(folder)


# ICU locale data the kiosk can use: the app speaks zh_CN and en (Qt's own CLDR
# tables format numbers and dates; ICU serves only QCollator, the non-UTF text
# codecs and time zone names). Everything else in Qt's 32 MB libicudata goes.
ICU_KEEP_LOCALES = ("root", "en", "zh")
# Trees whose ``LOCALE.res`` items are per-locale data (top level = ""); their
# ``pool.res``/``res_index.res`` and the non-locale items (``supplementalData``,
# ``zoneinfo64``, converters ``*.cnv``, normalization ``*.nrm``...) stay.
ICU_LOCALE_TREES = ("", "coll", "curr", "lang", "region", "unit", "zone", "rbnf")
_ICU_LOCALE_ITEM = re.compile(r"^[a-z]{2,3}(_[A-Za-z0-9]*)*\.res$")
_ICU_DATA_SYMBOL = re.compile(r"^([0-9a-f]+)\s+([0-9a-f]+)\s+[RrDd]\s+(icudt\d+_dat)$")


def icu_item_dropped(item: str) -> bool:
    """True for ICU data items the kiosk never reads (see :data:`ICU_KEEP_LOCALES`).

    Qt imports no ICU break iterator or transliterator (only ``ucol_*``,
    ``ucnv_*``, ``ucal_*`` and case mapping; it breaks text itself), so the
    break rules and dictionaries and the transliteration rules go too.
    """
    tree, _, name = item.rpartition("/")
    if tree in ("brkitr", "translit"):
        return True
    if tree not in ICU_LOCALE_TREES or not _ICU_LOCALE_ITEM.match(name):
        return False
    if name in ("pool.res", "res_index.res"):
        return False
    locale = name[: -len(".res")]
    return not any(locale == k or locale.startswith(k + "_") for k in ICU_KEEP_LOCALES)


def trim_icu_data(folder: Path) -> int:
    """Rebuild Qt's ``libicudata.so.NN`` with only :func:`icu_item_dropped`-free items (Linux).

    The library is nothing but one symbol, ``icudtNN_dat``, holding an ICU
    data package: it is taken out (objcopy), thinned with ICU's ``icupkg``
    and linked back into a library of the same soname. Needs ``icupkg``
    (icu-devtools), ``objcopy``/``nm``/``readelf`` (binutils) and ``cc``; without them, or if any
    step fails, the library is left as it is. Returns bytes saved.
    """
    if not sys.platform.startswith("linux"):
        return 0
    tools = [shutil.which(t) for t in ("icupkg", "objcopy", "nm", "readelf", "cc")]
    libs = sorted((folder / "_internal" / "PySide6" / "Qt" / "lib").glob("libicudata.so.*"))
    if not all(tools) or len(libs) != 1 or libs[0].is_symlink():
        return 0
    lib = libs[0]
    with tempfile.TemporaryDirectory(prefix="cinepass-icu-") as tmp:
        t = Path(tmp)
        try:
            return _trim_icu(lib, t)
        except (subprocess.CalledProcessError, OSError, ValueError) as exc:
            print(f"build.py: ICU data left untrimmed ({exc})", file=sys.stderr)
            return 0


def _run(*cmd: str | Path, cwd: Path | None = None) -> str:
    return subprocess.run(
        [str(c) for c in cmd], check=True, capture_output=True, text=True, cwd=cwd
    ).stdout


def _trim_icu(lib: Path, t: Path) -> int:
    symbols = _run("nm", "-D", "-S", "--defined-only", lib).splitlines()
    syms = [m for m in map(_ICU_DATA_SYMBOL.match, symbols) if m]
    if len(syms) != 1:
        raise ValueError(f"{lib.name}: expected one icudtNN_dat symbol")
    addr, size, symbol = int(syms[0][1], 16), int(syms[0][2], 16), syms[0][3]
    _run("objcopy", "-O", "binary", "--only-section=.rodata", lib, t / "rodata.bin")
    sections = _run("readelf", "-SW", lib)
    m = re.search(r"\.rodata\s+PROGBITS\s+([0-9a-f]+)", sections)
    if not m:
        raise ValueError(f"{lib.name}: no .rodata")
    start = addr - int(m[1], 16)
    blob = (t / "rodata.bin").read_bytes()[start : start + size]
    if len(blob) != size:
        raise ValueError(f"{lib.name}: {symbol} is not inside .rodata")
    full = t / f"{symbol[:-4]}l.dat"
    full.write_bytes(blob)
    items = _run("icupkg", "-l", full).split()
    # icupkg names the package (the prefix of every item) after the output file
    trimmed = t / "out" / full.name
    trimmed.parent.mkdir()
    drop = {i for i in items if icu_item_dropped(i)}
    for _ in range(5):  # put back what a kept item depends on (icupkg names it)
        (t / "drop.txt").write_text("".join(f"{i}\n" for i in sorted(drop)))
        proc = subprocess.run(
            ["icupkg", "-r", str(t / "drop.txt"), str(full), str(trimmed)],
            capture_output=True, text=True,
        )  # fmt: skip
        missing = set(re.findall(r"depends on missing item (\S+)", proc.stdout + proc.stderr))
        if proc.returncode == 0 and not missing:
            break
        if not missing & drop:
            raise ValueError(f"icupkg failed: {(proc.stdout + proc.stderr).strip()[-300:]}")
        drop -= missing
    else:
        raise ValueError("icupkg: dependencies did not settle")
    kept = _run("icupkg", "-l", trimmed).split()
    if len(kept) != len(items) - len(drop):
        raise ValueError("icupkg wrote an unexpected package")
    (t / "data.S").write_text(
        f"    .section .rodata\n    .globl {symbol}\n    .type {symbol}, @object\n"
        f'    .balign 16\n{symbol}:\n    .incbin "out/{full.name}"\n'
        f"    .size {symbol}, . - {symbol}\n"
        '    .section .note.GNU-stack,"",@progbits\n'
    )
    _run("cc", "-shared", "-nostdlib", f"-Wl,-soname,{lib.name}", "-Wl,-z,noexecstack",
         "-o", t / lib.name, "data.S", cwd=t)  # fmt: skip
    before = lib.stat().st_size
    shutil.copyfile(t / lib.name, lib)
    return before - lib.stat().st_size


def build(*, onefile: bool = False, dist: Path | None = None, work: Path | None = None) -> Path:
    """Run PyInstaller on the spec and return the executable's path."""
    dist = dist or ROOT / "dist"
    work = work or ROOT / "build" / ("pyinstaller-onefile" if onefile else "pyinstaller")
    env = dict(os.environ)
    env["CINEPASS_ONEFILE"] = "1" if onefile else "0"
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level",
        "WARN",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        str(SPEC),
    ]
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    exe = executable_path(dist, onefile)
    if not exe.exists():
        raise SystemExit(f"build finished but {exe} is missing")
    if not onefile:
        strip_binaries(exe.parent)
        trim_icu_data(exe.parent)
    return exe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onefile", action="store_true", help="one file instead of a folder")
    parser.add_argument("--report", action="store_true", help="print size and biggest parts")
    parser.add_argument("--dist", type=Path, help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        exe = build(onefile=args.onefile, dist=args.dist)
    except subprocess.CalledProcessError as exc:
        print(f"build.py: PyInstaller failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    built = exe if args.onefile else exe.parent
    size = folder_size(built)
    print(f"built {exe} in {time.monotonic() - started:.0f} s, {size / 1e6:.0f} MB")
    if args.report:
        for n, part in biggest_parts(built):
            print(f"{n / 1e6:8.1f} MB  {part}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
