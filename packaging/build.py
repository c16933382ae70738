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
import subprocess
import sys
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
