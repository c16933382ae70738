"""Issuing at scale: the time of each stage of one part beside the bare library calls.

    .venv/bin/python bench/issuing.py [-n 2000] [--smoke]
    .venv/bin/python bench/issuing.py --count 100000 [--workers 2] [--dir /dev/shm]

One part of ``-n`` vouchers is made stage by stage in this process, as
:func:`sync.batchparts.make_part` makes it, and each stage is timed in CPU
seconds (not wall: on a shared machine a neighbour's load stretches the wall
time, not the CPU a stage needs) and printed per voucher beside the bare call
of a library doing the same work on the same data:

    sign        sync.issuing.create_voucher   | Ed25519 sign (cryptography) of the same bytes
    QR          sync.qrfast.qr_matrices       | zxing-cpp create_barcode, its best mask
                                                | zxing-cpp with one fixed mask; segno.make_qr
    PNG         cards.png_bytes + the file    | zlib.compress of the same pixels
    card        CardSheet.add                 | (fpdf2 itself: no bare equivalent)
    PDF         CardSheet.save                | -
    font        the batch's font, loaded      | (the whole CJK font, loaded)
    file        writing the PNG files         | (the file system's cost: say which)

``--count N`` then runs the whole ``cinepass-admin issue --count N`` (CSV,
PNGs, PDF parts, database; ``bench/voucher.py``'s run, with the peak memory of
all processes together) and exits 1 if 100,000 miss the goal (60 s, 500 MB).
Say what else ran on the machine with the figures. ``--smoke`` is CI's run:
tiny sizes, every row printed, nothing held to the goal.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a file, Python puts bench/ first on sys.path, where bench/sync.py would
# shadow the ``sync`` package: look in the project root instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from sync import batchparts, cardfont, cards, issuing, qrfast  # noqa: E402
from sync.voucher import PrivateKey, decode_voucher  # noqa: E402


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(CPU seconds of this process, result) of one call."""
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def _png_pixels(matrix: Any) -> bytes:
    """The filtered scan lines cards.png_bytes compresses (8 px a module, 1 bit a pixel)."""
    import numpy as np

    packed = np.packbits(np.repeat(cards.light_modules(matrix), 8, axis=1), axis=1)
    lines = np.hstack([np.zeros((packed.shape[0], 1), np.uint8), packed])
    return bytes(np.repeat(lines, 8, axis=0).tobytes())


def stages(n: int, folder: Path) -> list[tuple[str, str, float]]:
    """(stage, what, CPU seconds per voucher) of one part of ``n`` members' vouchers."""
    import segno
    import zxingcpp

    key = PrivateKey.generate()
    options = issuing.make_options("ACFTU-SH", campaign="2027春节")
    members = [issuing.Member(f"M{i:07d}", "欧阳娜娜" if i % 2 else "张三明", i) for i in range(n)]
    now = int(time.time())
    rows: list[tuple[str, str, float]] = []

    def add(stage: str, what: str, seconds: float, count: int = n) -> None:
        rows.append((stage, what, seconds / count))

    t, issued = cpu(
        lambda: [issuing.create_voucher(key, options, member=m, now=now) for m in members]
    )
    add("sign", "create_voucher (claims, CBOR, COSE, sign, Base45)", t)
    bare = Ed25519PrivateKey.generate()
    msgs = [decode_voucher(i.token).signed_bytes() for i in issued]
    add("sign", "bare Ed25519 sign, same bytes", cpu(lambda: [bare.sign(m) for m in msgs])[0])

    texts = [i.token for i in issued]
    t, matrices = cpu(lambda: qrfast.qr_matrices(texts))
    add("QR", "qrfast.qr_matrices (best mask)", t)
    fmt = zxingcpp.BarcodeFormat.QRCode
    t, _ = cpu(lambda: [zxingcpp.create_barcode(x, fmt, ec_level="M") for x in texts])
    add("QR", "bare zxing-cpp create_barcode, best mask", t)
    t, _ = cpu(lambda: [zxingcpp.create_barcode(x, fmt, ec_level="M", data_mask=0) for x in texts])
    add("QR", "bare zxing-cpp, one fixed mask", t)
    few = texts[: max(1, n // 20)]  # segno is ~20 ms a code
    add(
        "QR",
        "bare segno.make_qr",
        cpu(lambda: [segno.make_qr(x, error="m") for x in few])[0],
        len(few),
    )

    codes = [i.short_code for i in issued]
    t, images = cpu(lambda: [cards.png_bytes(m) for m in matrices])
    add("PNG", "cards.png_bytes", t)
    raws = [_png_pixels(m) for m in matrices]
    add(
        "PNG",
        "bare zlib.compress of the same pixels",
        cpu(lambda: [zlib.compress(r, 1) for r in raws])[0],
    )

    def files() -> None:
        for code, image in zip(codes, images, strict=True):
            (folder / f"{code}.png").write_bytes(image)

    add("file", f"create and write the PNG files in {folder.parent}", cpu(files)[0])

    t, _ = cpu(lambda: cards.CardSheet(title="CinePass bench"))
    add("font", "(CardSheet() with the whole CJK font, once a part)", t)
    words = ["上海市总工会", options.campaign] + [m.name for m in members]
    chars = cardfont.batch_characters(words, None)
    (folder / "font.ttf").unlink(missing_ok=True)  # batch_font keeps one it finds
    t, font = cpu(lambda: cardfont.batch_font(chars, folder / "font.ttf"))
    add("font", "cardfont.batch_font, once a batch (here per 100,000)", t, 100_000)
    t, sheet = cpu(lambda: cards.CardSheet(title="CinePass bench", font=font))
    add("font", "CardSheet(font=the batch's font), once a part", t)
    arts = [cards.QRArt.of(m) for m in matrices]

    def draw() -> None:
        for item, art, code in zip(issued, arts, codes, strict=True):
            sheet.add(batchparts.card_of(item, "上海市总工会", art, code=code))

    add(
        "card",
        "QRArt.of + CardSheet.add",
        cpu(lambda: [cards.QRArt.of(m) for m in matrices])[0] + cpu(draw)[0],
    )
    add(
        "PDF",
        "CardSheet.save (fonts subset, pages written)",
        cpu(lambda: sheet.save(folder / "c.pdf"))[0],
    )

    def table() -> None:
        writer = csv.writer(io.StringIO())
        for item, code in zip(issued, codes, strict=True):
            writer.writerow(batchparts.csv_row(item, code=code))

    add("CSV", "the CSV rows", cpu(table)[0])
    return rows


def print_stages(n: int, folder: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="cinepass-bench-", dir=folder) as tmp:
        stages(min(n, 50), Path(tmp))  # warm: imports, the font cache of the OS
        rows = stages(n, Path(tmp))
    ours = sum(s for st, what, s in rows if not what.startswith(("bare", "(")))
    print(f"one part of {n} vouchers, CPU per voucher (this process, {os.cpu_count()} core(s))")
    print(f"{'stage':<6} {'what':<52} {'us':>8}")
    for stage, what, s in rows:
        print(f"{stage:<6} {what:<52} {s * 1e6:>8.1f}")
    print(f"{'all':<6} {'ours, all stages':<52} {ours * 1e6:>8.1f}")
    print(f"-> {ours * 100_000:.0f} s CPU for 100,000: {ours * 50_000:.0f} s on 2 free cores")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="vouchers in the part timed")
    parser.add_argument("--count", type=int, metavar="N", help="also issue N: time and memory")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()), help="work here")
    parser.add_argument("--workers", type=int, help="worker processes for --count")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes for CI (a few seconds)")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    sys.path.append(str(_HERE))  # after the project root: bench/sync.py shadows nothing
    from voucher import bench_count  # bench/voucher.py: the whole command, memory sampled

    if args.smoke:
        print_stages(40, args.dir)
        batchparts.PART_CARDS, batchparts.POOL_THRESHOLD = 20, 1  # parts on the pool, tiny
        bench_count(50, args.dir, 2)
        return 0
    print_stages(args.n, args.dir)
    if args.count:
        return 0 if bench_count(args.count, args.dir, args.workers) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
