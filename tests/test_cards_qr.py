"""The fast QR path (sync.qrfast) makes zxing-cpp's own best-mask symbol, bit for bit.

Real voucher texts of every length a batch can have (anonymous, long member
names, long campaigns) and plain alphanumeric texts of versions 1 to 11;
each matrix from :func:`sync.qrfast.qr_matrices` must equal
:func:`sync.cards.qr_matrix` (zxing-cpp choosing the mask itself) and decode
back to its text. Symbols wider than 64 modules take zxing-cpp's own path.
"""

from __future__ import annotations

import random

import numpy as np
import zxingcpp

from sync import cards, issuing, qrfast
from sync.voucher import PrivateKey

NAMES = ("张三明", "欧阳娜娜", "John Smith", "买买提·艾力", "李四")


def texts(key: PrivateKey) -> list[str]:
    rnd = random.Random(16)
    out = [issuing.create_voucher(key, issuing.make_options("ACFTU-SH")).token for _ in range(60)]
    for i in range(60):
        options = issuing.make_options("ACFTU-SH", campaign="2027春节" * rnd.randint(0, 5))
        member = issuing.Member(f"M{i:07d}" * rnd.randint(1, 3), rnd.choice(NAMES) * 4, i)
        out.append(issuing.create_voucher(key, options, member=member).token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 $%*+-./:"
    out += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 330))) for _ in range(80)]
    return out


def test_the_fast_symbols_are_zxing_cpps_best_mask_symbols(issuer_key: PrivateKey) -> None:
    sample = texts(issuer_key)
    fast = qrfast.qr_matrices(sample)
    assert len(fast) == len(sample)
    sizes = set()
    for text, matrix in zip(sample, fast, strict=True):
        ref = cards.qr_matrix(text)
        assert matrix.dtype == np.bool_
        assert np.array_equal(matrix, ref), (len(text), ref.shape)
        sizes.add(matrix.shape[0])
    assert len(sizes) >= 8  # many versions, each derived and checked on its own


def test_fast_symbols_decode_to_their_text(issuer_key: PrivateKey) -> None:
    sample = texts(issuer_key)[::10]
    for text, matrix in zip(sample, qrfast.qr_matrices(sample), strict=True):
        image = np.where(np.pad(matrix, 4), 0, 255).astype(np.uint8)
        image = np.kron(image, np.ones((4, 4), np.uint8))
        found = zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain
        )
        assert [b.text for b in found] == [text]
        assert found[0].ec_level == "M"


def test_symbols_over_64_modules_take_zxing_cpps_path() -> None:
    long = ["A" * 400, "B" * 500]  # versions 12 and 14: 65 and 73 modules, wider than 64
    out = qrfast.qr_matrices(long)
    assert [m.shape[0] for m in out] == [65, 73]
    assert all(np.array_equal(m, cards.qr_matrix(t)) for t, m in zip(long, out, strict=True))
    assert qrfast.qr_matrices([]) == []


def test_the_data_region_is_what_every_mask_flips() -> None:
    for n in (21, 45, 49, 57):
        region = qrfast.data_region(n)
        version = (n - 17) // 4
        function = 3 * 64 + 2 * 15 + 1 + 2 * (n - 16) + (36 if version >= 7 else 0)
        assert n * n - region.sum() >= function  # finders, format, timing at the least
        assert not region[:9, :9].any() and not region[6].any() and not region[:, 6].any()
