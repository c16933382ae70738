"""QR codes by the thousand: zxing-cpp's encoder with one mask, the best mask chosen in numpy.

:func:`sync.cards.qr_matrix` asks zxing-cpp for the best of the 8 QR masks,
which costs ~0.5 ms a code on this project's machine: ~0.09 ms to encode,
the rest to build and score the 8 masked symbols one module at a time. The
mask is worth keeping (it measurably helps scanning, see :mod:`sync.cards`),
so :func:`qr_matrices` makes the very same symbol faster for a whole part:

* each text is encoded once by zxing-cpp with mask 0 (C++, ~0.09 ms);
* the 7 other masked symbols follow without encoding again: a data module
  of mask ``k`` is that of mask 0 XOR the two mask patterns; the modules
  outside the data (finders, timing, alignment, format and version
  information) are taken from zxing-cpp's own symbols of the first text of
  that version with each mask (8 encodes once per version and process);
* the ISO/IEC 18004 penalty (rules N1-N4, as zxing-cpp scores them, the
  first lowest wins) is computed for all codes and masks at once on rows and
  columns packed into 64-bit integers (one integer a row), so numpy's cost
  per call is shared by a whole batch.

The result is bit for bit zxing-cpp's best-mask symbol (the tests compare
hundreds), with the same error correction (M), version and payload. Each
version's derivation is checked against zxing-cpp once per process (the
8 symbols, and the best mask of its first text); a symbol wider than 64
modules (version 12 and up: far longer texts than a voucher) or a failed
check falls back to :func:`sync.cards.qr_matrix`, so this is only ever faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BoolMatrix = npt.NDArray[np.bool_]
Packed = npt.NDArray[np.uint64]
MASKS = 8
CHUNK = 256  # codes scored together: numpy's per-call cost shared, arrays small

_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def _encode(text: str, mask: int | None) -> BoolMatrix:
    import zxingcpp

    from sync.cards import CardError

    kwargs = {} if mask is None else {"data_mask": mask}
    try:
        code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M", **kwargs)
    except Exception as exc:  # noqa: BLE001 - the C++ writer raises its own types
        raise CardError("qr_failed", f"cannot encode this text as a QR code: {exc}") from exc
    return np.asarray(np.asarray(code.to_image(scale=1, add_quiet_zones=False)) == 0)


def mask_pattern(mask: int, n: int) -> BoolMatrix:
    """Where mask ``mask`` flips a module of an ``n`` x ``n`` symbol (row i, column j)."""
    i, j = np.indices((n, n))
    return np.asarray(
        (
            (i + j) % 2 == 0,
            i % 2 == 0,
            j % 3 == 0,
            (i + j) % 3 == 0,
            (i // 2 + j // 3) % 2 == 0,
            (i * j) % 2 + (i * j) % 3 == 0,
            ((i * j) % 2 + (i * j) % 3) % 2 == 0,
            ((i + j) % 2 + (i * j) % 3) % 2 == 0,
        )[mask]
    )


def data_region(n: int) -> BoolMatrix:
    """True where an ``n`` x ``n`` symbol holds data (what a mask flips).

    Everything else is a function pattern: the finders with their separators
    and the format information beside them, the timing lines, the alignment
    patterns and, from version 7, the version information.
    """
    import segno.consts

    version = (n - 17) // 4
    free = np.ones((n, n), dtype=np.bool_)
    free[:9, :9] = free[:9, n - 8 :] = free[n - 8 :, :9] = False  # finders, format, dark module
    free[6, :] = free[:, 6] = False  # timing
    if version >= 2:
        pos = segno.consts.ALIGNMENT_POS[version - 2]
        corners = {(pos[0], pos[0]), (pos[0], pos[-1]), (pos[-1], pos[0])}  # on the finders
        for r in pos:
            for c in pos:
                if (r, c) not in corners:
                    free[r - 2 : r + 3, c - 2 : c + 3] = False
    if version >= 7:
        free[:6, n - 11 : n - 8] = free[n - 11 : n - 8, :6] = False
    return free


def pack(matrices: npt.NDArray[np.bool_]) -> Packed:
    """(..., n, n) bools -> (..., n) uint64: row r's module j is bit j of element r."""
    bits = np.packbits(matrices, axis=-1, bitorder="little")
    wide = np.zeros((*bits.shape[:-1], 8), dtype=np.uint8)
    wide[..., : bits.shape[-1]] = bits
    return wide.view("<u8")[..., 0].astype(np.uint64)


def _ones(n: int) -> np.uint64:
    return np.uint64((1 << n) - 1)


def _count(x: Packed) -> npt.NDArray[np.int64]:
    """Set bits summed over the last axis."""
    return np.asarray(np.bitwise_count(x).sum(axis=-1, dtype=np.int64))


def _lines_penalty(r: Packed, n: int) -> npt.NDArray[np.int64]:
    """Rules N1 (runs of 5+ alike: 3 + the excess) and N3 (1:1:3:1:1 with 4 light
    beside, 40 each) over packed lines (rows, or columns)."""
    s = [r >> np.uint64(k) for k in range(11)]
    eq = ~(r ^ s[1]) & _ones(n - 1)  # bit j: module j == module j+1
    five = eq & (eq >> np.uint64(1)) & (eq >> np.uint64(2)) & (eq >> np.uint64(3))
    starts = five & ~(five << np.uint64(1))
    n1 = _count(five) + 2 * _count(starts)  # a run of L >= 5 has L-4 windows: L-2 = 3 + (L-5)
    core = r & ~s[1] & s[2] & s[3] & s[4] & ~s[5] & s[6]
    left = ~((r << np.uint64(1)) | (r << np.uint64(2)) | (r << np.uint64(3)) | (r << np.uint64(4)))
    right = ~(s[7] | s[8] | s[9] | s[10])  # outside the symbol counts as light
    n3 = 40 * _count(core & (left | right))
    return n1 + n3


def penalties(rows: Packed, cols: Packed, n: int) -> npt.NDArray[np.int64]:
    """The mask penalty of each symbol (rows and columns packed), as zxing-cpp scores it."""
    a, b = rows[..., :-1], rows[..., 1:]
    same = ~(a ^ b)
    n2 = 3 * _count(same & (same >> np.uint64(1)) & ~(a ^ (a >> np.uint64(1))) & _ones(n - 1))
    total = n * n
    dark = _count(rows)
    n4 = np.abs(2 * dark - total) * 10 // total * 10
    return np.asarray(_lines_penalty(rows, n) + _lines_penalty(cols, n) + n2 + n4)


@dataclass(frozen=True)
class _Version:
    """What makes every mask's symbol of one size from its mask-0 symbol."""

    region: BoolMatrix  # data modules
    flips: npt.NDArray[np.bool_]  # (8, n, n): mask 0 XOR mask k, on data modules
    fixed: npt.NDArray[np.bool_]  # (8, n, n): the function patterns with mask k's format

    def packed(self, transpose: bool) -> tuple[Packed, Packed, Packed]:
        """Region, flips and fixed modules packed by rows (or by columns)."""
        if transpose:
            return (
                pack(self.region.T),
                pack(self.flips.swapaxes(1, 2)),
                pack(self.fixed.swapaxes(1, 2)),
            )
        return pack(self.region), pack(self.flips), pack(self.fixed)


_VERSIONS: dict[int, _Version | None] = {}


def _version(n: int, text: str, first: BoolMatrix) -> _Version | None:
    """The templates of size ``n``, derived from ``text`` and checked against zxing-cpp."""
    if n in _VERSIONS:
        return _VERSIONS[n]
    made: _Version | None = None
    if n <= 64:
        region = data_region(n)
        p0 = mask_pattern(0, n)
        flips = np.stack([(p0 ^ mask_pattern(k, n)) & region for k in range(MASKS)])
        symbols = np.stack([first] + [_encode(text, k) for k in range(1, MASKS)])
        fixed = symbols & ~region
        made = _Version(region, flips, fixed)
        derived = np.where(region, first ^ flips, fixed)
        if not np.array_equal(derived, symbols) or not np.array_equal(
            _best(made, first[None])[0], _encode(text, None)
        ):
            made = None  # not what zxing-cpp makes: leave it to zxing-cpp
    _VERSIONS[n] = made
    return made


def _best(v: _Version, zeros: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The best-mask symbols of mask-0 symbols ``zeros`` (B, n, n) of one version.

    Masks are applied to the packed lines (one XOR and one OR per line and
    mask), so only the chosen symbol is ever built module by module.
    """
    n = zeros.shape[-1]
    lines = []
    for transpose, z in ((False, zeros), (True, zeros.swapaxes(1, 2))):
        region, flips, fixed = v.packed(transpose)
        lines.append(((pack(z) & region)[:, None] ^ flips) | fixed)  # (B, 8, n)
    pick = np.argmin(penalties(lines[0], lines[1], n), axis=1)  # the first lowest, as zxing
    return np.asarray(np.where(v.region, zeros ^ v.flips[pick], v.fixed[pick]))


def qr_matrices(texts: Sequence[str]) -> list[BoolMatrix]:
    """The best-mask QR symbol (error correction M, no quiet zone) of each text, in order.

    The same matrices as ``[sync.cards.qr_matrix(t) for t in texts]``, ~4x faster.
    """
    from sync.cards import qr_matrix

    zeros = [_encode(t, 0) for t in texts]
    out: list[BoolMatrix | None] = [None] * len(texts)
    by_size: dict[int, list[int]] = {}
    for i, m in enumerate(zeros):
        by_size.setdefault(m.shape[0], []).append(i)
    for n, idx in by_size.items():
        v = _version(n, texts[idx[0]], zeros[idx[0]])
        if v is None:
            for i in idx:
                out[i] = qr_matrix(texts[i])
            continue
        for start in range(0, len(idx), CHUNK):
            part = idx[start : start + CHUNK]
            for i, m in zip(part, _best(v, np.stack([zeros[i] for i in part])), strict=True):
                out[i] = m
    return [m for m in out if m is not None]
