"""The fast issuing path draws what the slow one drew (issue 16, issuing at scale).

A part is made by :func:`sync.batchparts.make_part` as a worker makes it: QR
symbols from :mod:`sync.qrfast`, the card's QR as an inline image, the
batch's small font (:mod:`sync.cardfont`). Its PDF pages, rendered with
poppler, must read back (zxing-cpp) to exactly the voucher texts of the CSV,
and its PNGs too; a card drawn with the small font must be the same to the
pixel as with the whole font; and a part whose small font lacks a character
is drawn with the whole font, not with a missing glyph.
"""

from __future__ import annotations

import csv
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from test_issuing import pdf_text

from sync import batchparts, cardfont, cards, issuing
from sync.cardrights import CardRights
from sync.voucher import PrivateKey

RIGHTS = CardRights(
    cinemas=[
        ("上海影城", "长宁区新华路160号", "021-62806088"),
        ("国泰电影院", "淮海中路870号", ""),
    ],
    hotline="400-820-8820",
)
NAMES = ("张三明", "欧阳娜娜", "John Smith", "买买提·艾力", "ＡＢＣ", "司马懿")


def read_all(image: np.ndarray) -> list[str]:
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain
    )
    return sorted(b.text for b in found)


def render(pdf: Path, page: int, out: Path) -> np.ndarray:
    subprocess.run(
        ["pdftoppm", "-r", "150", "-gray", "-png", "-f", str(page), "-l", str(page)]
        + ["-singlefile", str(pdf), str(out)],
        check=True,
    )
    image = cv2.imread(f"{out}.png", cv2.IMREAD_GRAYSCALE)
    assert image is not None
    return image


def make(tmp: Path, key: PrivateKey, *, font: Path | None, names: tuple[str, ...] = NAMES) -> Path:
    stage = tmp / "stage"
    (stage / batchparts.WORK).mkdir(parents=True)
    members = tuple(issuing.Member(f"M{i:03d}", names[i % len(names)], i + 2) for i in range(16))
    job = batchparts.PartJob(
        stage=stage,
        part=0,
        key_pem=key.to_pem(),
        options=issuing.make_options("ACFTU-SH", campaign="2027春节"),
        members=members,
        count=len(members),
        now=int(time.time()),
        label="上海市总工会",
        rights=RIGHTS,
        font=font,
    )
    assert batchparts.make_part(job)[0] == 16
    return stage


def small_font(tmp: Path, names: tuple[str, ...]) -> Path:
    chars = cardfont.batch_characters(["上海市总工会", "2027春节", *names], RIGHTS)
    return cardfont.batch_font(chars, tmp / "font.ttf")


def test_pdf_pages_and_pngs_read_back_to_the_voucher_texts(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    stage = make(tmp_path, issuer_key, font=small_font(tmp_path, NAMES))
    work = stage / batchparts.WORK
    with (work / "part-00001.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 16
    pdf = work / "part-00001.pdf"
    for page in (1, 2):
        seen = read_all(render(pdf, page, tmp_path / f"p{page}"))
        assert seen == sorted(r[-1] for r in rows[(page - 1) * 8 : page * 8])
    for r in rows[::3]:
        png = cv2.imread(str(stage / f"{r[0]}.png"), cv2.IMREAD_GRAYSCALE)
        assert read_all(png) == [r[-1]]
    text = pdf_text(pdf, "-raw")
    for holder in ("张*明", "欧**娜", "John S.", "买*提·艾*", "A*C", "司*懿"):
        assert f"持券人：{holder}" in text
    assert "本券不可转售，不可兑现" in text and "客服热线：400-820-8820" in text


def test_the_small_font_draws_the_card_the_whole_font_draws(
    tmp_path: Path, issuer_key: PrivateKey
) -> None:
    font = small_font(tmp_path, NAMES)
    options = issuing.make_options("ACFTU-SH", campaign="2027春节")
    images = []
    for name, which in (("whole", None), ("small", font)):
        sheet = cards.CardSheet(rights=RIGHTS, font=which)
        for i, holder in enumerate(NAMES):
            member = issuing.Member(f"M{i}", holder, i + 2)
            item = issuing.create_voucher(
                issuer_key, options, member=member, now=1_800_000_000, cti=bytes([i]) * 10
            )
            sheet.add(batchparts.card_of(item, "上海市总工会"))
        assert sheet.missing == []
        sheet.save(tmp_path / f"{name}.pdf")
        images.append(render(tmp_path / f"{name}.pdf", 1, tmp_path / name))
    assert np.array_equal(images[0], images[1])
    assert font.stat().st_size < cards.find_font().stat().st_size // 20


def test_a_character_the_small_font_lacks_falls_back_to_the_whole_font(
    tmp_path: Path, issuer_key: PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    font = small_font(tmp_path, ())  # no member's name in it
    assert not {"诸", "亮"} & cardfont.batch_characters(["上海市总工会", "2027春节"], RIGHTS)
    stage = make(tmp_path, issuer_key, font=font, names=("诸葛亮",))
    text = pdf_text(stage / batchparts.WORK / "part-00001.pdf", "-raw")
    assert "持券人：诸*亮" in text
    assert "missing the following glyphs" not in caplog.text
