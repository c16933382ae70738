"""Issuing vouchers: member lists, name masking, signing, and the batch folder.

Pure logic with no database (the members file is read by :mod:`sync.members`):
``cinepass-admin issue`` (:mod:`sync.admin_issue`)
reads the issuer key and records the result centrally (:mod:`sync.office`);
``reissue`` reuses
:func:`create_voucher`. Everything that can be wrong with the input is
checked *before* the first voucher is signed, and raised as an
:class:`IssueError` with one line a union office clerk can act on.

A batch folder holds::

    vouchers.csv          short code, member, holder, valid from/until, QR text (UTF-8 with BOM:
                          Excel on a Chinese Windows opens it without mangling the names)
    XXXX-XXXX-XXXX-XXXX.png  one QR image per voucher, named by its short code
    cards.pdf             A4 sheets of 8 printable voucher cards (a batch of more than
                          sync.batchparts.PART_CARDS: cards-0001.pdf, cards-0002.pdf, ...)

It is written (by :mod:`sync.batchparts`, in parts on all cores) into a hidden
sibling folder and renamed into place only when complete, so a crash or an
error never leaves a half batch where people look; an interrupted batch is
continued by running the same command again (docs/issuing-at-scale.md).
"""

from __future__ import annotations

import functools
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple, TypedDict, Unpack

from sync.voucher.codec import Voucher, encode_voucher, make_voucher
from sync.voucher.errors import VoucherError
from sync.voucher.keys import PrivateKey

MIN_VALID_DAYS = 365  # members are promised vouchers valid at least 12 months
MAX_VALID_DAYS = 3660
#: A batch is written in parts (sync.batchparts), so memory does not grow with it; the
#: bound is the members list held in memory (~300 bytes a member) and one transaction
#: recording the batch: a million, a whole provincial federation, in one go.
MAX_BATCH = 1_000_000
KNOWN_FORMATS = ("2D", "3D")
#: Dates on cards and in the CSV are China Standard Time, where members live.
DISPLAY_TZ = timezone(timedelta(hours=8), "CST")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class IssueError(VoucherError):
    """Bad issuing input (exit code 2): ``reason`` is a code, ``message`` one line."""


class Member(NamedTuple):
    """One row of the members file (``line`` is the 1-based line number, for messages).

    A named tuple: a million of them are the largest thing a batch holds, and
    they are pickled to the worker processes a part at a time.
    """

    ref: str
    name: str
    line: int


@dataclass(frozen=True)
class IssueOptions:
    """What every voucher of a batch shares (validated by :func:`make_options`)."""

    iss: str
    valid_days: int = MIN_VALID_DAYS
    formats: tuple[str, ...] = KNOWN_FORMATS
    cinemas: tuple[str, ...] | None = None
    campaign: str | None = None
    admissions: int = 1


@dataclass(frozen=True)
class IssuedVoucher:
    """A signed voucher and who it is for."""

    voucher: Voucher
    token: str
    member_ref: str | None = None

    @property
    def short_code(self) -> str:
        return self.voucher.short_code

    @property
    def cti_hex(self) -> str:
        return self.voucher.cti.hex()


# -- options ------------------------------------------------------------------


def parse_list(text: str | None, what: str) -> tuple[str, ...] | None:
    """Split a comma list (``2D,3D``; Chinese commas too); None/empty -> None."""
    if text is None or not text.strip():
        return None
    items = [p.strip() for p in re.split(r"[,，、]", text)]
    if any(not p for p in items):
        raise IssueError("bad_list", f"{what}: empty item in {text!r}")
    if len(set(items)) != len(items):
        raise IssueError("bad_list", f"{what}: an item is listed twice in {text!r}")
    return tuple(items)


def make_options(
    iss: str,
    *,
    valid_days: int = MIN_VALID_DAYS,
    formats: str | None = None,
    cinemas: str | None = None,
    campaign: str | None = None,
) -> IssueOptions:
    """Validate command-line style options into :class:`IssueOptions`."""
    if valid_days < MIN_VALID_DAYS:
        raise IssueError(
            "valid_days_too_short",
            f"--valid-days {valid_days} refused: vouchers must be valid at least 12 months "
            f"({MIN_VALID_DAYS} days), as promised to members",
        )
    if valid_days > MAX_VALID_DAYS:
        raise IssueError("valid_days_too_long", f"--valid-days at most {MAX_VALID_DAYS} (10 years)")
    fmts = parse_list(formats, "--formats") or KNOWN_FORMATS
    fmts = tuple(f.upper() for f in fmts)
    bad = [f for f in fmts if f not in KNOWN_FORMATS]
    if bad:
        raise IssueError(
            "bad_format", f"--formats: unknown format {bad[0]!r} (use {','.join(KNOWN_FORMATS)})"
        )
    cins = parse_list(cinemas, "--cinemas")
    for c in cins or ():
        if not CODE_RE.match(c):
            raise IssueError(
                "bad_cinema",
                f"--cinemas: {c!r} is not a cinema code (letters, digits, - _ . ; max 32)",
            )
    camp = campaign.strip() if campaign else None
    if camp is not None and len(camp) > 128:
        raise IssueError("bad_campaign", "--campaign is longer than 128 characters")
    return IssueOptions(
        iss=iss, valid_days=valid_days, formats=fmts, cinemas=cins, campaign=camp or None
    )


# -- masking ------------------------------------------------------------------


def _is_wide(ch: str) -> bool:
    """True for CJK and other scripts written without spaces between names."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _mask_word(word: str) -> str:
    if len(word) <= 1:
        return word + "*"
    if len(word) == 2:
        return word[0] + "*"
    return word[0] + "*" * (len(word) - 2) + word[-1]


def mask_name(name: str) -> str:
    """The holder name printed on the voucher: enough to recognise, not to identify.

    Chinese names keep the first and (from three characters) the last
    character: 张三明 -> 张*明, 李四 -> 李*, 欧阳娜娜 -> 欧**娜. Names
    written with spaces (Latin scripts) keep the first word and the initials
    of the others: "John Smith" -> "John S.", "Anna Maria Lopez" -> "Anna M. L.";
    a single word is masked like a Chinese name ("Madonna" -> "M*****a").
    Minority names joined by a middle dot are masked per part:
    "买买提·艾力" -> "买*提·艾*".
    """
    clean = " ".join(unicodedata.normalize("NFKC", name).split())
    if not clean:
        raise IssueError("bad_name", "empty name")
    if "·" in clean or "•" in clean:
        parts = [p for p in re.split(r"\s*[·•]\s*", clean) if p]
        if not parts:
            raise IssueError("bad_name", f"{name!r} is not a name")
        return "·".join(_mask_word(p) for p in parts)[:64]
    words = clean.split(" ")
    if len(words) == 1:
        return _mask_word(words[0])[:64]
    if all(_is_wide(c) for c in "".join(words)):
        return _mask_word("".join(words))[:64]
    return " ".join([words[0][:40]] + [w[0] + "." for w in words[1:]])[:64]


# -- vouchers -----------------------------------------------------------------


def expiry_for(now: int, valid_days: int) -> int:
    """``exp``: the end of the CST day ``valid_days`` after ``now``.

    The card says "valid until <date>", so the voucher must work that whole
    day; it is therefore valid a little more than ``valid_days`` days.
    """
    last = datetime.fromtimestamp(now, DISPLAY_TZ) + timedelta(days=valid_days)
    end = datetime(last.year, last.month, last.day, tzinfo=DISPLAY_TZ) + timedelta(days=1)
    return int(end.timestamp())


@functools.lru_cache(maxsize=64)
def display_date(ts: int) -> str:
    """YYYY-MM-DD in China Standard Time (the date printed on cards).

    Cached: a batch prints the same two dates on every card and CSV row.
    """
    return datetime.fromtimestamp(ts, DISPLAY_TZ).strftime("%Y-%m-%d")


def valid_until_date(exp: int) -> str:
    """The last day a voucher with this ``exp`` is accepted (exp is exclusive)."""
    return display_date(exp - 1)


class Replacing(TypedDict, total=False):
    """What a replacement keeps of the voucher it replaces (``reissue``): all optional."""

    cti: bytes | None
    exp: int | None
    holder: str | None
    sub: str | None


def create_voucher(
    key: PrivateKey,
    options: IssueOptions,
    now: int | None = None,
    *,
    member: Member | None = None,
    **replacing: Unpack[Replacing],
) -> IssuedVoucher:
    """Build and sign one voucher (also used by ``reissue`` for a replacement).

    A new ``member`` has their name masked here. A replacement passes instead
    the old voucher's (already masked) ``holder``, its ``sub`` and its ``exp``
    (:class:`Replacing`): it replaces a lost card and must not extend the benefit.
    """
    holder, sub, exp = replacing.get("holder"), replacing.get("sub"), replacing.get("exp")
    if member is not None:
        holder, sub = mask_name(member.name), member.ref
    t = int(time.time()) if now is None else now
    voucher = make_voucher(
        options.iss,
        now=t,
        cti=replacing.get("cti"),
        exp=expiry_for(t, options.valid_days) if exp is None else exp,
        formats=options.formats,
        cinemas=options.cinemas,
        holder=holder,
        admissions=options.admissions,
        campaign=options.campaign,
        sub=sub,
    )
    return IssuedVoucher(
        voucher=voucher, token=encode_voucher(voucher, key), member_ref=voucher.sub
    )


def create_batch(
    key: PrivateKey,
    options: IssueOptions,
    *,
    members: Sequence[Member] | None = None,
    count: int | None = None,
    now: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[IssuedVoucher]:
    """Sign one voucher per member, or ``count`` anonymous ones (all with the same times)."""
    t = int(time.time()) if now is None else now
    if members is None and (count is None or not 1 <= count <= MAX_BATCH):
        raise IssueError("bad_count", f"--count must be between 1 and {MAX_BATCH}")
    who: Sequence[Member | None] = members if members is not None else [None] * (count or 0)
    out: list[IssuedVoucher] = []
    for i, member in enumerate(who):
        out.append(create_voucher(key, options, member=member, now=t))
        if progress is not None and (i % 100 == 99 or i == len(who) - 1):
            progress(100 if i % 100 == 99 else (i % 100) + 1)
    if len({v.voucher.cti for v in out}) != len(out):  # 80 random bits: never, but cheap
        raise IssueError("cti_collision", "random voucher ids collided; run again")
    return out
