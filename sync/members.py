"""The members file: a CSV of member references and names, checked whole before issuing.

Moved here from :mod:`sync.issuing` (which signs; this reads) so the console
and ``cinepass-admin issue`` share one reader that reports *every* problem
of a file with its line number, not only the first: a clerk fixing a
20,000-line export in Excel wants the whole list at once. Each problem is
one :class:`Problem`; :class:`MembersError` carries them all, and its
``message`` stays one line (the first problem, and how many more), so every
place that shows one line of an error keeps working. What the file may hold
is docs/members-csv.md.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sync.issuing import MAX_BATCH, IssueError, Member, mask_name

__all__ = [
    "MAX_NAME_LEN",
    "MAX_REF_LEN",
    "MEMBER_REF_HEADERS",
    "NAME_HEADERS",
    "MembersError",
    "Problem",
    "members_from_rows",
    "parse_members",
    "read_members",
]

#: Accepted header spellings (compared after lower-casing and dropping spaces,
#: dashes and underscores), so Excel exports from different offices just work.
MEMBER_REF_HEADERS = frozenset(
    {
        "member",
        "memberref",
        "memberid",
        "membernumber",
        "memberno",
        "ref",
        "reference",
        "id",
        "会员编号",
        "会员号",
        "会员卡号",
        "编号",
        "工号",
        "会员id",
    }
)
NAME_HEADERS = frozenset({"name", "fullname", "holder", "membername", "姓名", "名字", "会员姓名"})
MAX_REF_LEN = 128
MAX_NAME_LEN = 100


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the members file: its line (0: the file as a whole)."""

    line: int
    reason: str
    message: str


class MembersError(IssueError):
    """The members file is refused (exit 2): ``problems`` lists every one, in line order.

    ``reason`` and the start of ``message`` are the first problem's, so a file
    with one problem reads exactly as before; ``message`` is one line.
    """

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        more = len(problems) - 1
        text = first.message
        if more:
            text += f" (+{more} 处问题 / more problem(s): lines " + ", ".join(
                str(p.line) for p in problems[1:11]
            )
            text += " …)" if more > 10 else ")"
        super().__init__(first.reason, text)
        self.problems = problems


def _header_key(text: str) -> str:
    return re.sub(r"[\s_\-]", "", unicodedata.normalize("NFKC", text)).lower()


def read_members(path: Path, encoding: str = "utf-8") -> list[Member]:
    """Read a members CSV (member reference + name; header row required).

    UTF-8 with or without BOM by default; ``encoding="gb18030"`` reads what
    a Chinese Excel saves as plain "CSV". Refuses (:class:`MembersError`,
    every problem with its line number): undecodable bytes, unknown or
    missing columns, empty cells, duplicate member references, and a file
    with no members.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IssueError("members_unreadable", f"cannot read {path}: {exc.strerror}") from exc
    return parse_members(data, path.name, encoding)


def _decode(data: bytes, name: str, encoding: str) -> str:
    """The file's text, or every line that is not valid ``encoding`` (GB18030 and UTF-8
    never use the newline byte inside a character, so lines decode on their own)."""
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(enc)
    except LookupError as exc:
        raise IssueError("bad_encoding", f"unknown encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        bad = []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                raw.decode(enc if number == 1 else enc.replace("-sig", ""))
            except UnicodeDecodeError:
                bad.append(number)
        if not bad:  # a character cut by the newline split: the first bad byte's line
            bad = [data[: exc.start].count(b"\n") + 1]
        raise MembersError(
            [
                Problem(
                    n,
                    "bad_encoding",
                    f"{name} line {n} is not valid {encoding} text: save it as 'CSV UTF-8' "
                    "(or pass --encoding gb18030 for a Chinese Excel CSV)",
                )
                for n in bad
            ]
        ) from exc


def _columns(cells: list[str], name: str) -> tuple[int | None, int | None, list[Problem]]:
    """(member reference column, name column, the header's problems)."""
    ref_col = name_col = None
    problems: list[Problem] = []
    for i, h in enumerate(_header_key(c) for c in cells):
        if h in MEMBER_REF_HEADERS and ref_col is None:
            ref_col = i
        elif h in NAME_HEADERS and name_col is None:
            name_col = i
        else:
            problems.append(
                Problem(
                    1,
                    "unknown_column",
                    f"{name}: unknown or repeated column {cells[i].strip()!r} (expected a member "
                    "reference column such as member_ref/会员编号 and a name column such as "
                    "name/姓名)",
                )
            )
    for col, missing in (
        (ref_col, "member reference (member_ref/会员编号)"),
        (name_col, "name (name/姓名)"),
    ):
        if col is None:
            problems.append(
                Problem(1, "missing_column", f"{name}: no {missing} column in the header")
            )
    return ref_col, name_col, problems


def _row_problem(row: list[str], width: int, ref: str, person: str) -> tuple[str, str] | None:
    """What is wrong with one member row: (reason, text), or None."""
    if len(row) > width and any(c.strip() for c in row[width:]):
        return "bad_row", "more cells than columns"
    if not ref or not person:
        return "bad_row", f"the {'member reference' if not ref else 'name'} is empty"
    if len(ref) > MAX_REF_LEN or len(person) > MAX_NAME_LEN:
        return "bad_row", "value too long"
    if any(unicodedata.category(c).startswith("C") for c in ref + person):
        return "bad_row", "control characters in a cell"
    try:
        mask_name(person)  # fail here, with the line number, not halfway through signing
    except IssueError as exc:
        return "bad_row", exc.message
    return None


def parse_members(data: bytes, name: str = "members.csv", encoding: str = "utf-8") -> list[Member]:
    """The members in ``data`` (the bytes of a members CSV called ``name``), or
    :class:`MembersError` with every problem; see :func:`read_members`."""
    text = _decode(data, name, encoding)
    if "\x00" in text:
        raise IssueError("bad_encoding", f"{name} contains NUL bytes: not a text CSV")
    first = text.split("\n", 1)[0]
    delimiter = ","  # Excel in some locales writes ; or tab: decide from the header line
    if "," not in first:
        delimiter = "\t" if "\t" in first else ";" if ";" in first else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:  # (physical line number, cells) of every non-blank row
        numbered = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise IssueError(
            "bad_csv", f"{name} line {reader.line_num}: not a valid CSV ({exc})"
        ) from exc
    if not numbered:
        raise IssueError("empty_members", f"{name} is empty: expected a header row and members")
    header = numbered[0][1]
    ref_col, name_col, problems = _columns(header, name)
    if ref_col is None or name_col is None:
        raise MembersError(problems)
    members: list[Member] = []
    seen: dict[str, int] = {}
    for line, row in numbered[1:]:
        cells = row + [""] * (len(header) - len(row))
        ref, person = cells[ref_col].strip(), cells[name_col].strip()
        wrong = _row_problem(row, len(header), ref, person)
        if wrong is not None:
            problems.append(Problem(line, wrong[0], f"{name} line {line}: {wrong[1]}"))
        elif ref in seen:
            problems.append(
                Problem(
                    line,
                    "duplicate_member",
                    f"{name} line {line}: member {ref!r} is already on line {seen[ref]}",
                )
            )
        else:
            seen[ref] = line
            members.append(Member(ref=ref, name=person, line=line))
    if problems:
        raise MembersError(problems)
    if not members:
        raise IssueError("empty_members", f"{name} has a header but no members")
    if len(members) > MAX_BATCH:
        raise IssueError(
            "batch_too_large",
            f"{len(members)} members: at most {MAX_BATCH} vouchers per batch, split the file",
        )
    return members


def members_from_rows(rows: Iterable[tuple[str, str]]) -> list[Member]:
    """Members from (ref, name) pairs (tests and the demo), line numbers from 2."""
    return [Member(ref=r, name=n, line=i) for i, (r, n) in enumerate(rows, start=2)]
