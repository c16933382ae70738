"""The member's card states the rights, and nothing on it overlaps (issue 11, item 2).

Real vouchers, the real card sheet, rendered to PNG with poppler. For short and
very long cinema names, member names and codes, every card must carry the
rights the buyer requires (films, cinemas by name and address or "见附页" with
an appendix page that lists them, validity incl. weekends and holidays, how to
redeem, no resale / no cash / loss, freeze and replacement, the hotline); the
text boxes the sheet recorded must not meet each other or the QR, nor leave the
card; and the rendered ink must lie inside those boxes (so the boxes are true).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_issuing import pdf_text

from sync import cards, issuing
from sync.cardlayout import Box
from sync.cardrights import CardRights
from sync.voucher import PrivateKey

DPI = 150
PX_PER_MM = DPI / 25.4

LONG_NAME = "上海永华电影城（徐汇区港汇恒隆广场店）国际巨幕IMAX激光厅及杜比全景声影厅"
LONG_ADDRESS = "上海市徐汇区虹桥路1号港汇恒隆广场办公楼一座6楼601-608室（地铁1/9/11号线徐家汇站）"
RIGHTS = {
    "none": None,
    "short": CardRights(
        cinemas=[
            ("上海影城", "长宁区新华路160号", "021-62806088"),
            ("国泰电影院", "黄浦区淮海中路870号", "021-54042095"),
        ],
        hotline="400-820-8820",
    ),
    "long": CardRights(
        cinemas=[(LONG_NAME, LONG_ADDRESS, "021-64076622 转 8008")] * 3,
        hotline="400-820-8820 转 3（工作日 9:00-17:00，节假日 10:00-16:00）",
        after_sales="凭会员卡及本人身份证到所属基层工会办公室申请补发，补发券的有效期与原券相同，原券即时作废。",
    ),
    "many": CardRights(
        cinemas=[(f"第{i}号合作影城", f"某区某路{i}号", "") for i in range(1, 15)],
        hotline="12351",
    ),
}
LONG_HOLDER = "欧" + "*" * 62 + "娜"  # the longest masked name (64 characters)


@dataclass
class Rendered:
    out: Path  # the folder holding cards.pdf
    made: list[tuple[str, cards.Card]]  # (rights case, card) in card order
    boxes: list[Box]  # every box the sheet recorded

    def card_boxes(self) -> list[list[Box]]:
        """The recorded boxes per card, in card order (8 cards to a page, row by row)."""
        by_area: dict[tuple[int, tuple[float, ...]], list[Box]] = defaultdict(list)
        for b in self.boxes:
            by_area[(b.page, b.area)].append(b)
        per_card = [v for (_p, area), v in by_area.items() if area[2] - area[0] < 100]
        return sorted(per_card, key=lambda v: (v[0].page, v[0].area[1], v[0].area[0]))

    def appendix_text(self) -> str:
        return "".join(b.text for b in self.boxes if b.area[2] - b.area[0] > 100)


def a_card(token: str, short_code: str, holder: str | None, issuer: str, **more: Any) -> cards.Card:
    """A card valid from 2026-12-01 to 2027-12-01, 2D and 3D, at every cinema, of no
    campaign, unless ``more`` says otherwise (the fields of :class:`sync.cards.Card`)."""
    fields: dict[str, Any] = {
        "valid_from": "2026-12-01",
        "valid_until": "2027-12-01",
        "formats": ("2D", "3D"),
        "cinemas": None,
        "campaign": None,
    }
    return cards.Card(token, short_code, holder, issuer=issuer, **(fields | more))


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """One PDF with every combination: rights x holder length x code length x formats."""
    key = PrivateKey.generate()
    made: list[tuple[str, cards.Card]] = []
    out = tmp_path_factory.mktemp("cards")
    sheet = cards.CardSheet(record_boxes=True)
    for case, rights in RIGHTS.items():
        for holder in ("李*", LONG_HOLDER):
            for long_code in (False, True):
                fmts = ("2D",) if long_code else ("2D", "3D")
                opts = issuing.make_options("ACFTU-SH", formats=",".join(fmts), campaign="2027春节")
                v = issuing.create_voucher(key, opts)
                card = a_card(
                    v.token,
                    v.short_code * 3 if long_code else v.short_code,
                    holder,
                    "ACFTU-SH 上海市总工会（职工文化服务中心）",
                    formats=fmts,
                    cinemas=("SH01", "SH02") if case == "none" and long_code else None,
                    campaign=opts.campaign if holder == LONG_HOLDER else None,
                    rights=rights,
                )
                sheet.add(card)
                made.append((case, card))
    sheet.save(out / "cards.pdf")
    assert sheet.boxes is not None
    return Rendered(out, made, list(sheet.boxes))


def test_no_two_boxes_meet_and_none_leaves_its_card(sheet: Rendered) -> None:
    assert len(sheet.card_boxes()) == 16
    by_page: dict[int, list[Box]] = defaultdict(list)
    for b in sheet.boxes:
        assert b.inside(), f"{b.text!r} leaves its area: {b}"
        assert b.x1 > b.x0 and b.y1 > b.y0
        by_page[b.page].append(b)
    for boxes in by_page.values():
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not a.meets(b), f"{a.text!r} meets {b.text!r}"


def test_every_card_states_the_rights(sheet: Rendered) -> None:
    appendix = sheet.appendix_text()
    for (case, card), boxes in zip(sheet.made, sheet.card_boxes(), strict=True):
        text = "".join(b.text.strip() for b in boxes)
        rights = card.rights or CardRights()
        needles = [
            "周末及法定节假日通用",
            "有效期至：2027-12-01",
            " / ".join(card.formats),
            f"兑换 {'、'.join(card.formats)} 电影票一张",
            "售票处出示本券二维码扫码，或告知券码",
            "不可转售",
            "不可兑现",
            "挂失冻结",
            card.short_code,  # whole, even when it wraps: clerks type it
        ]
        if rights.hotline:
            needles.append(f"客服热线：{rights.hotline}")  # whole, on the card itself
        if rights.after_sales is None:
            needles.append("补发新券")
        if case == "none":
            needles.append("SH01、SH02" if card.cinemas else "所有合作影院")
        if case == "short":  # names, addresses and phones fit on the card
            for c in rights.cinemas:
                needles += [c.name, c.address, c.phone]
        if case in ("long", "many"):
            needles.append("见附页")
            for c in rights.cinemas:  # ... and the appendix lists them all, in full
                assert c.name in appendix.replace("\n", "")
                assert c.address in appendix
        for needle in needles:
            assert needle.replace(" ", "") in text.replace(" ", ""), (case, needle, text)
        assert any(b.text.startswith("持券人：") for b in boxes)
    for rights in RIGHTS.values():
        if rights is not None and rights.after_sales:
            assert rights.after_sales[:20] in appendix.replace(" ", "")
    pdftext = pdf_text(sheet.out / "cards.pdf")
    flat = pdftext.replace("\n", "").replace(" ", "")
    for needle in ("有效（未核销）",):  # the card never says what the counter says
        assert needle not in flat
    for needle in ("不可转售", "周末及法定节假日通用", "附页：适用影院及使用规则", "上海影城"):
        assert needle in flat


def test_rendered_pages_read_and_ink_stays_in_the_boxes(sheet: Rendered) -> None:
    out = sheet.out
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-gray", "-png", str(out / "cards.pdf"), str(out / "p")],
        check=True,
    )
    pages = sorted(out.glob("p-*.png"))
    assert len(pages) >= 3  # 16 cards on 2 pages, then the appendix
    found: list[str] = []
    slack = int(round(0.45 * PX_PER_MM))  # glyphs may overshoot the font's ascent a hair
    for n, page in enumerate(pages, 1):
        img = cv2.imread(str(page), cv2.IMREAD_GRAYSCALE)
        found += [
            b.text for b in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
        ]
        allowed = np.zeros(img.shape, np.uint8)
        for b in sheet.boxes:
            if b.page == n:
                x0, y0 = int(b.x0 * PX_PER_MM) - slack, int(b.y0 * PX_PER_MM) - slack
                x1, y1 = int(b.x1 * PX_PER_MM) + slack + 1, int(b.y1 * PX_PER_MM) + slack + 1
                allowed[max(0, y0) : y1, max(0, x0) : x1] = 1
        ink = img < 128  # the grey cutting frame (170) is not ink
        stray = ink & (allowed == 0)
        ys, xs = np.nonzero(stray)
        where = list(zip((xs / PX_PER_MM).round(1), (ys / PX_PER_MM).round(1), strict=True))[:5]
        assert len(ys) == 0, f"page {n}: ink outside every recorded box at (mm) {where}"
    assert sorted(found) == sorted(c.token for _case, c in sheet.made)


def test_the_default_card_keeps_the_old_call_and_adds_no_page(tmp_path: Path) -> None:
    """Issuing passes no CardRights: the card still states every right in general words."""
    key = PrivateKey.generate()
    v = issuing.create_voucher(key, issuing.make_options("ACFTU-SH"))
    card = a_card(v.token, v.short_code, None, "ACFTU-SH")
    assert cards.write_cards_pdf([card], tmp_path / "c.pdf") == 1
    info = subprocess.run(
        ["pdfinfo", str(tmp_path / "c.pdf")], capture_output=True, check=True, text=True
    ).stdout
    assert "Pages:           1" in info
    text = pdf_text(tmp_path / "c.pdf").replace("\n", "")
    for needle in ("不记名", "所有合作影院", "不可转售", "不可兑现", "挂失冻结", "补发新券"):
        assert needle in text.replace(" ", ""), needle


CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
TEXT = st.text(alphabet=st.one_of(CJK, st.sampled_from("ABCXYZ0189-（）、，· ")), max_size=90)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    holder=st.text(alphabet=st.one_of(CJK, st.just("*")), min_size=1, max_size=64),
    code=st.text(alphabet="ABCDEFGHJKMNPQRSTVWXYZ0123456789-", min_size=1, max_size=90),
    names=st.lists(st.tuples(TEXT.filter(str.strip), TEXT, TEXT), max_size=20),
    hotline=TEXT,
    after_sales=TEXT,
    campaign=st.one_of(st.none(), TEXT.filter(str.strip)),
    issuer=TEXT.filter(str.strip),
)
def test_no_overlap_at_any_length(
    holder: str,
    code: str,
    names: list[tuple[str, str, str]],
    hotline: str,
    after_sales: str,
    campaign: str | None,
    issuer: str,
) -> None:
    """Random lengths of every text on the card: the boxes never meet nor leave the card."""
    sheet = cards.CardSheet(
        record_boxes=True, rights=CardRights(names, hotline=hotline, after_sales=after_sales)
    )
    sheet.add(a_card("CP1:TEST", code, holder, issuer, campaign=campaign))
    with tempfile.TemporaryDirectory() as tmp:  # save() lays out the appendix pages too
        sheet.save(Path(tmp) / "c.pdf")
    boxes = sheet.boxes or []
    assert boxes
    for i, a in enumerate(boxes):
        assert a.inside(), a
        for b in boxes[i + 1 :]:
            assert not a.meets(b), (a, b)
    text = "".join(b.text for b in boxes).replace(" ", "")
    assert code in text  # the short code is never cut
