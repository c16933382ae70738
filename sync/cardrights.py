"""What a voucher card promises the member, in words (no PDF here).

The buyer's requirement is that every card states the member's rights
plainly: 影片通兑范围 (which films: the formats), 使用影院 (the cinemas, by name,
with addresses), 有效期 (validity, weekends and public holidays included),
核销方式 (how to redeem: show the QR code or say the short code at the box
office) and 售后规则 (the rules: no resale, no cash, how to report a loss,
how a lost voucher is replaced). :class:`CardRights` carries the facts a
union office or a batch adds (cinema names, addresses, phones, a hotline, its
own after-sales text); the functions below turn them into the sentences
:mod:`sync.cards` lays out. Without any of them the card still states every
right in general words, so the issuing code works unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

#: Where the card sends the member for what does not fit on it: an appended page.
SEE_APPENDIX = "见附页"
#: How a lost or damaged voucher is handled when the issuer gives no text of its own.
DEFAULT_AFTER_SALES = "核实后补发新券，原券同时作废。"


class CinemaEntry(NamedTuple):
    """One cinema where the voucher can be used, as printed for the member."""

    name: str
    address: str = ""
    phone: str = ""


@dataclass(frozen=True)
class CardRights:
    """The facts behind a card's rights text, shared by a batch (all optional).

    ``cinemas`` are the cinemas the vouchers are valid at, by name (plain
    ``(name, address, phone)`` tuples are accepted); empty means the card names
    the cinemas by the codes in the voucher, or "所有合作影院". ``hotline`` is
    the number members call to report a loss; ``after_sales`` replaces
    :data:`DEFAULT_AFTER_SALES` (the replacement rule).
    """

    cinemas: tuple[CinemaEntry, ...] = ()
    hotline: str | None = None
    after_sales: str | None = None

    def __post_init__(self) -> None:
        # accept plain tuples and lists; keep the value hashable (a key of the card cache)
        entries = tuple(CinemaEntry(*c) for c in self.cinemas)
        object.__setattr__(self, "cinemas", entries)
        object.__setattr__(self, "hotline", (self.hotline or "").strip() or None)
        object.__setattr__(self, "after_sales", (self.after_sales or "").strip() or None)


def formats_line(formats: Sequence[str]) -> str:
    """适用：2D / 3D 影片 (the films the voucher is good for)."""
    return f"适用：{' / '.join(formats)} 影片"


def validity_note(valid_from: str) -> str:
    """When it can be used besides the last day (the card prints that day above)."""
    return f"（{valid_from} 起，含当日；周末及法定节假日通用）"


def where_codes(codes: Sequence[str] | None) -> str:
    """The cinemas when only their codes are known (no :class:`CardRights` names)."""
    return "影院：所有合作影院" if codes is None else "影院：" + "、".join(codes)


def redeem_text(formats: Sequence[str]) -> str:
    """核销方式: how the member uses the voucher at the box office."""
    return (
        f"核销方式：在适用影院售票处出示本券二维码扫码，或告知券码，"
        f"兑换 {'、'.join(formats)} 电影票一张；一经核销即失效。"
    )


def rules_text(rights: CardRights) -> str:
    """售后规则: no resale, no cash, report a loss, how it is replaced."""
    call = f"请致电客服热线 {rights.hotline} " if rights.hotline else "请联系发券工会"
    return f"本券不可转售，不可兑现。遗失或损坏{call}挂失冻结，{rights.after_sales or DEFAULT_AFTER_SALES}"


def hotline_line(rights: CardRights) -> str | None:
    """The hotline printed on its own line (None when the issuer gave none)."""
    return f"客服热线：{rights.hotline}" if rights.hotline else None


def cinema_detail(c: CinemaEntry) -> str:
    """Address and phone of one cinema, as one line of text ("" if neither is known)."""
    parts = [c.address.strip(), f"电话 {c.phone.strip()}" if c.phone.strip() else ""]
    return " ".join(p for p in parts if p)
