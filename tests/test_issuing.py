"""Issuing logic: member lists, masking, options, validity dates, PNGs and the card sheet."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from sync import batchdir, cards, issuing
from sync.issuing import DISPLAY_TZ, IssueError, mask_name
from sync.members import members_from_rows, read_members
from sync.voucher import PrivateKey, decode_and_verify, keyring


def pdf_text(pdf: Path, *flags: str) -> str:
    """What poppler's pdftotext reads in ``pdf`` (``-raw``: in the order it was drawn)."""
    return subprocess.run(
        ["pdftotext", *flags, str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout


def read_qr(image: np.ndarray) -> list[str]:
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain
    )
    return [b.text for b in found]


# -- masking ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三明", "张*明"),
        ("李四", "李*"),
        ("欧阳娜娜", "欧**娜"),
        ("王", "王*"),
        ("  张三明 ", "张*明"),
        ("张 三明", "张*明"),  # a stray space inside a Chinese name
        ("买买提·艾力", "买*提·艾*"),
        ("John Smith", "John S."),
        ("Anna Maria Lopez", "Anna M. L."),
        ("Madonna", "M*****a"),
        ("Li", "L*"),
        ("ＡＢＣ", "A*C"),  # full-width letters are normalised first
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_never_shows_a_whole_multi_character_name() -> None:
    for name in ("张三明", "李四", "Smith", "Jo", "欧阳娜娜", "John Smith"):
        assert mask_name(name) != name
        assert "*" in mask_name(name) or "." in mask_name(name)


def test_mask_empty_name_is_refused() -> None:
    with pytest.raises(IssueError):
        mask_name("   ")


# -- members CSV --------------------------------------------------------------


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "m.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


@pytest.mark.parametrize(
    "header",
    ["member_ref,name", "会员编号,姓名", "Member ID,Full Name", "姓名,会员号", "REF,Holder"],
)
def test_members_header_spellings(tmp_path: Path, header: str) -> None:
    first, second = header.split(",")
    name_first = first in ("姓名", "Full Name", "Holder")
    rows = ["张三明,M001", "李四,M002"] if name_first else ["M001,张三明", "M002,李四"]
    p = write(tmp_path, "\n".join([header, *rows]) + "\n")
    members = read_members(p)
    assert [(m.ref, m.name) for m in members] == [("M001", "张三明"), ("M002", "李四")]
    assert [m.line for m in members] == [2, 3]


def test_members_bom_semicolons_blank_lines_and_gb18030(tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeff会员编号;姓名\r\nM1;张三明\r\n\r\nM2;李四\r\n".encode())
    assert [m.ref for m in read_members(p)] == ["M1", "M2"]
    g = write(tmp_path, "会员编号,姓名\nM1,张三明\n", encoding="gb18030", name="g.csv")
    assert read_members(g, "gb18030")[0].name == "张三明"
    with pytest.raises(IssueError) as e:  # the default is UTF-8, and says what to do
        read_members(g)
    assert e.value.reason == "bad_encoding" and "gb18030" in e.value.message


@pytest.mark.parametrize(
    ("text", "reason", "needle"),
    [
        ("", "empty_members", "empty"),
        ("\n\n", "empty_members", "empty"),
        ("member_ref,name\n", "empty_members", "no members"),
        ("member_ref,name,email\nM1,张三明,a@b\n", "unknown_column", "'email'"),
        ("member_ref,nmae\nM1,张三明\n", "unknown_column", "'nmae'"),
        ("member_ref\nM1\n", "missing_column", "name"),
        ("name\n张三明\n", "missing_column", "member reference"),
        ("member_ref,name\nM1,张三明\nM2,李四\nM1,王五\n", "duplicate_member", "line 4"),
        ("member_ref,name\nM1,\n", "bad_row", "line 2"),
        ("member_ref,name\n,张三明\n", "bad_row", "line 2"),
        ("member_ref,name\nM1,张三明,extra\n", "bad_row", "more cells"),
        ("member_ref,name\nM1,张三明\x00\n", "bad_encoding", "NUL"),
        ("member_ref,name\n\nM1,张三明\n\nM1,李四\n", "duplicate_member", "line 5"),
        ("member_ref,name\nM1,张\x1b三\n", "bad_row", "control"),
        ("member_ref,name\nM1,·\n", "bad_row", "line 2"),
        ('member_ref,name\nM1,"张三\n', "bad_csv", "line"),
    ],
)
def test_members_bad_input(tmp_path: Path, text: str, reason: str, needle: str) -> None:
    with pytest.raises(IssueError) as e:
        read_members(write(tmp_path, text))
    assert e.value.reason == reason
    assert needle in e.value.message
    assert "\n" not in e.value.message  # one line


def test_members_latin1_bytes_are_a_bad_encoding_with_the_line(tmp_path: Path) -> None:
    p = tmp_path / "l.csv"
    p.write_bytes(b"member_ref,name\nM1,Anna\nM2,M\xfcller\n")
    with pytest.raises(IssueError) as e:
        read_members(p)
    assert e.value.reason == "bad_encoding" and "line 3" in e.value.message


def test_members_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IssueError) as e:
        read_members(tmp_path / "nope.csv")
    assert e.value.reason == "members_unreadable"


# -- options and dates --------------------------------------------------------


def test_options_defaults_and_normalisation() -> None:
    o = issuing.make_options("ACFTU-SH", formats="2d，3d", cinemas="SH-001, SH-002")
    assert o.formats == ("2D", "3D")
    assert o.cinemas == ("SH-001", "SH-002")
    assert issuing.make_options("X").formats == ("2D", "3D")
    assert issuing.make_options("X").cinemas is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"valid_days": 364}, "valid_days_too_short"),
        ({"valid_days": 0}, "valid_days_too_short"),
        ({"valid_days": 100_000}, "valid_days_too_long"),
        ({"formats": "IMAX"}, "bad_format"),
        ({"formats": "2D,,3D"}, "bad_list"),
        ({"formats": "2D,2D"}, "bad_list"),
        ({"cinemas": "SH 001"}, "bad_cinema"),
        ({"campaign": "x" * 129}, "bad_campaign"),
    ],
)
def test_options_refused(kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(IssueError) as e:
        issuing.make_options("X", **kwargs)  # type: ignore[arg-type]
    assert e.value.reason == reason


def test_short_validity_is_explained() -> None:
    with pytest.raises(IssueError) as e:
        issuing.make_options("X", valid_days=300)
    assert "12 months" in e.value.message and "365" in e.value.message


@pytest.mark.parametrize("now", [1_800_000_000, 1_798_761_600, 1_798_761_600 - 1, 1_830_297_599])
def test_expiry_covers_the_whole_printed_day(now: int) -> None:
    exp = issuing.expiry_for(now, 365)
    assert exp - now >= 365 * 86400
    assert exp - now < 366 * 86400 + 86400
    end = datetime.fromtimestamp(exp, DISPLAY_TZ)
    assert (end.hour, end.minute, end.second) == (0, 0, 0)  # midnight China time
    printed = issuing.valid_until_date(exp)
    expected = (datetime.fromtimestamp(now, DISPLAY_TZ) + timedelta(days=365)).strftime("%Y-%m-%d")
    assert printed == expected


def test_create_voucher_masks_and_signs(issuer_key: PrivateKey) -> None:
    opts = issuing.make_options("ACFTU-SH", cinemas="SH-001", campaign="2027春节")
    member = issuing.Member(ref="M-7", name="张三明", line=2)
    item = issuing.create_voucher(issuer_key, opts, member=member, now=1_800_000_000)
    v = decode_and_verify(item.token, keyring(issuer_key.public))
    assert v == item.voucher
    assert (v.holder, v.sub, v.cinemas, v.campaign) == ("张*明", "M-7", ("SH-001",), "2027春节")
    assert "张三明" not in item.token and item.member_ref == "M-7"


def test_create_batch_of_anonymous_vouchers(issuer_key: PrivateKey) -> None:
    done: list[int] = []
    batch = issuing.create_batch(
        issuer_key, issuing.make_options("X"), count=250, progress=done.append
    )
    assert len({b.voucher.cti for b in batch}) == 250
    assert sum(done) == 250
    assert all(b.voucher.holder is None and b.voucher.sub is None for b in batch)
    with pytest.raises(IssueError):
        issuing.create_batch(issuer_key, issuing.make_options("X"), count=0)


# -- PNG and PDF --------------------------------------------------------------


def test_png_decodes_back_to_the_token(tmp_path: Path, issuer_key: PrivateKey) -> None:
    item = issuing.create_voucher(
        issuer_key, issuing.make_options("ACFTU-SH"), member=issuing.Member("M1", "李四", 2)
    )
    m = cards.qr_matrix(item.token)
    assert m.shape[0] == m.shape[1] and m.shape[0] >= 21 and m.shape[0] % 4 == 1  # full QR
    path = tmp_path / "q.png"
    path.write_bytes(cards.png_bytes(m))
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert img.shape == ((m.shape[0] + 8) * cards.PNG_SCALE,) * 2
    assert read_qr(img) == [item.token]
    from pyzbar import pyzbar  # the kiosk's other decoder reads it too

    assert [d.data.decode() for d in pyzbar.decode(img)] == [item.token]


def test_wrap_cjk_keeps_punctuation_off_line_starts() -> None:
    sheet = cards.CardSheet()
    pdf = sheet._pdf
    pdf.add_page()
    pdf.set_font("cjk", size=6.5)
    lines = cards.wrap_cjk(pdf, cards.RULES_ZH * 3, 30)
    assert "".join(lines) == cards.RULES_ZH * 3
    assert all(line[0] not in cards.NO_LINE_START for line in lines)
    assert all(pdf.get_string_width(line[:-1]) <= 30 for line in lines)


def test_card_sheet_renders_with_readable_qr_codes(tmp_path: Path, issuer_key: PrivateKey) -> None:
    opts = issuing.make_options("ACFTU-SH", campaign="2027春节观影")
    items = [
        issuing.create_voucher(issuer_key, opts, member=issuing.Member(f"M{i}", "张三明", i))
        for i in range(10)
    ]
    cs = [
        cards.Card(
            token=i.token,
            short_code=i.short_code,
            holder=i.voucher.holder,
            valid_from="2026-12-01",
            valid_until="2027-12-01",
            formats=("2D", "3D"),
            cinemas=None,
            campaign=opts.campaign,
            issuer="ACFTU-SH 上海市总工会",
        )
        for i in items
    ]
    pdf = tmp_path / "cards.pdf"
    assert cards.write_cards_pdf(cs, pdf) == 10
    text = pdf_text(pdf).replace("\n", "")  # the rules wrap across lines
    for needle in (
        "周末及法定节假日通用",
        "2D、3D",
        "合作影院",
        "张*明",
        "有效期至：2027-12-01",
        "2027春节观影",
    ):
        assert needle in text, needle
    for i in items:
        assert i.short_code in text
    subprocess.run(
        ["pdftoppm", "-r", "150", "-gray", "-png", str(pdf), str(tmp_path / "p")], check=True
    )
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) == 2  # 8 cards per A4 page
    found = []
    for page in pages:
        found += read_qr(cv2.imread(str(page), cv2.IMREAD_GRAYSCALE))
    assert sorted(found) == sorted(i.token for i in items)


def test_no_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cards, "FONT_CANDIDATES", (tmp_path / "none.ttc",))
    with pytest.raises(cards.CardError) as e:
        cards.find_font()
    assert e.value.reason == "no_cjk_font" and "fonts-wqy-microhei" in e.value.message


def test_write_batch_with_the_process_pool_keeps_everything_in_order(
    tmp_path: Path, issuer_key: PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big batches encode QR codes in worker processes; results must stay in voucher order."""
    monkeypatch.setattr(batchdir, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(batchdir, "CHUNK", 3)
    members = members_from_rows((f"M{i:02d}", f"会员{i:02d}号") for i in range(17))
    issued = issuing.create_batch(issuer_key, issuing.make_options("ACFTU-SH"), members=members)
    done: list[int] = []
    batchdir.write_batch(tmp_path, issued, "ACFTU-SH", progress=done.append, workers=2)
    assert sum(done) == 17
    import csv

    with (tmp_path / "vouchers.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["short_code"] for r in rows] == [i.short_code for i in issued]
    assert [r["member_ref"] for r in rows] == [f"M{i:02d}" for i in range(17)]
    for r in rows:
        img = cv2.imread(str(tmp_path / f"{r['short_code']}.png"), cv2.IMREAD_GRAYSCALE)
        assert read_qr(img) == [r["qr_text"]]
    text = pdf_text(tmp_path / "cards.pdf", "-raw")
    positions = [text.index(i.short_code) for i in issued]
    assert positions == sorted(positions)  # card order = CSV order
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "150",
            "-gray",
            "-png",
            str(tmp_path / "cards.pdf"),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    px = 150 / 25.4  # pixels per mm
    for p, page in enumerate(sorted(tmp_path.glob("p-*.png"))):
        img = cv2.imread(str(page), cv2.IMREAD_GRAYSCALE)
        codes = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
        assert len(codes) == min(8, 17 - 8 * p)
        for code in codes:
            x_mm, y_mm = code.position.top_left.x / px, code.position.top_left.y / px
            col = int((x_mm - cards.MARGIN_X) // cards.CARD_W)
            row = int((y_mm - cards.MARGIN_Y) // cards.CARD_H)
            # the QR on card slot (row, col) of page p is voucher 8p + 2row + col
            assert code.text == issued[8 * p + row * cards.COLS + col].token


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=80).filter(lambda s: s.strip()))
def test_mask_name_is_total_and_short(name: str) -> None:
    try:
        masked = mask_name(name)
    except IssueError as exc:  # only for something that is no name at all
        assert exc.reason == "bad_name"
        assert not re.sub(r"[\s·•]", "", name)
        return
    assert 1 <= len(masked) <= 64
    clean = " ".join(name.split())
    if len(clean) >= 2 and " " not in clean and "*" not in clean:
        assert masked != clean


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8")))
def test_read_members_refuses_junk_only_with_issue_errors(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "junk.csv"
    p.write_bytes(data)
    try:
        members = read_members(p)
    except IssueError as exc:
        assert exc.reason and exc.message and "\n" not in exc.message
    else:
        assert members and all(m.ref and m.name for m in members)
