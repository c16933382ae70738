"""A revocation snapshot kept a page to a row, searched in memory (docs/feeds.md, "The store").

Why: inserting a million B-tree rows is by itself slower than the 3 s a
counter has to load a million revocations (issue 16), so a packed snapshot
page is not unpacked into rows at all. It is kept as ONE row of
``revocation_pages`` (kiosk migration 0005): its ids as one blob of 10-byte
ids in strictly ascending order, the first and the last id, and what a hit
needs (the page's texts once, its numbers as packed arrays: :func:`pack_ints`).
A lookup finds the page by its first id, searches the page's blob in memory
(loaded on first touch: ~12 MB for a million ids with the sparse keys) and
reads the row's details only on a hit.

What keeps this as safe as the B-tree:

* the ids of a run of pages are strictly ascending and its pages do not
  overlap (checked on load, :mod:`kiosk.snapshots`: a search over an unsorted
  page would miss a frozen voucher); a kind has at most :data:`MAX_RUNS`
  runs, the server's sections;
* the row tables (events applied after the snapshot's cursor, small pages,
  an old server's one answer) win over the pages, and ``revocation_removed``
  (an unfreeze, a cancelled redemption after the snapshot) hides an id's page
  entry;
* every swap changes meta ``revocation_pages_gen`` in its transaction: each
  lookup reads it in the same statement as its rows, and a :class:`PageIndex`
  of another generation (another process or connection swapped) is reloaded;
  a page read checks it again, so one lookup never mixes two lists.
"""

from __future__ import annotations

import json
import struct
import sys
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kiosk.engine.db import StoreError

#: meta key changed by every swap of the revocation list
GEN_KEY = "revocation_pages_gen"
ID = 10
#: the ids of the row table each kind of page row stands beside
ROW_IDS_SQL = {"f": "SELECT cti FROM revocations", "r": "SELECT cti FROM remote_redemptions"}
#: ascending runs a snapshot may hold per kind: the server's sections
#: (frozen, then online holds: both "f"; redeemed: "r"), each in id order
MAX_RUNS = {"f": 2, "r": 1}
#: every STRIDE-th id of a page is kept as a key for the in-memory search
STRIDE = 16

Read = Callable[[str, Sequence[Any]], list[Any]]


class StalePages(StoreError):
    """The list was swapped while a lookup read it: the lookup starts again."""


class PagePiece(NamedTuple):
    """One ``revocation_pages`` row, in the column order of :data:`INSERT_PAGE`."""

    kind: str
    run: int
    first: bytes
    last: bytes
    size: int  # column "count"
    ctis: bytes
    strings: str
    reason: bytes
    at: bytes
    cinema: bytes
    device: bytes
    staff: bytes


INSERT_PAGE = (
    "INSERT INTO revocation_pages_stage(kind, run, first, last, count, ctis, strings, reason,"
    " at, cinema, device, staff) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# the generation ("" if the meta row is missing), in the statement that reads pages
_DIRECTORY_SQL = (
    "SELECT 0, coalesce((SELECT value FROM meta WHERE key = 'revocation_pages_gen'), ''),"
    " 0, NULL, NULL, 0 UNION ALL SELECT id, kind, run, first, last, count FROM revocation_pages"
    " ORDER BY 1"
)
_CTIS_SQL = (
    "SELECT ctis FROM revocation_pages WHERE id = ? AND"
    " coalesce((SELECT value FROM meta WHERE key = 'revocation_pages_gen'), '') = ?"
)
_DETAIL_SQL = (
    "SELECT strings, reason, at, cinema, device, staff FROM revocation_pages WHERE id = ? AND"
    " coalesce((SELECT value FROM meta WHERE key = 'revocation_pages_gen'), '') = ?"
)


def pack_ints(values: Sequence[int]) -> bytes:
    """A column of integers as bytes: one letter (struct code) then the values,
    little-endian, as narrow as they fit; ``=`` and one value when all are equal
    (a page of freezes: reason, at and the blank texts are one number each)."""
    if not values:
        return b"=" + struct.pack("<q", 0)
    if values.count(values[0]) == len(values):
        return b"=" + struct.pack("<q", values[0])
    lo, hi = min(values), max(values)
    if lo < -(2**63) or hi >= 2**63:
        raise ValueError("packed number out of range")
    code = (
        "q" if lo < 0 else "B" if hi < 2**8 else "H" if hi < 2**16 else "I" if hi < 2**32 else "q"
    )
    return code.encode() + struct.pack(f"<{len(values)}{code}", *values)


def int_at(blob: bytes, i: int) -> int:
    """The ``i``-th value of a :func:`pack_ints` column, without unpacking the rest."""
    code = chr(blob[0])
    if code == "=":
        return int(struct.unpack_from("<q", blob, 1)[0])
    size = struct.calcsize(f"<{code}")
    return int(struct.unpack_from(f"<{code}", blob, 1 + i * size)[0])


def split_ids(blob: bytes) -> list[bytes]:
    """The 10-byte ids of a blob, cut in C (no bytecode per id)."""
    n = len(blob)
    return list(map(blob.__getitem__, map(slice, range(0, n, ID), range(ID, n + ID, ID))))


def position(blob: bytes, keys: list[bytes], cti: bytes) -> int:
    """The index of ``cti`` in a page's ascending id blob, or -1.

    ``keys`` holds every :data:`STRIDE`-th id: a bisect (C) finds the slot,
    and ``bytes.find`` (C) the id inside it; a match across two ids (not at a
    multiple of 10) is skipped, so a crafted page cannot fake one.
    """
    j = bisect_right(keys, cti) - 1
    if j < 0:
        return -1
    start = j * STRIDE * ID
    end = min(start + STRIDE * ID, len(blob))
    pos = blob.find(cti, start, end)
    while pos >= 0 and pos % ID:
        pos = blob.find(cti, pos + 1, end)
    return pos // ID if pos >= 0 else -1


@dataclass
class Run:
    """An ascending run of pages of one kind: bisect ``firsts`` for the page."""

    firsts: list[bytes] = field(default_factory=list)
    lasts: list[bytes] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)


@dataclass
class Directory:
    """One generation of the list's pages: where each is, and those loaded so far."""

    gen: str
    runs: dict[str, list[Run]]
    pages: dict[int, tuple[bytes, list[bytes]]] = field(default_factory=dict)
    #: page id -> (texts, packed columns) of pages that had a hit: the next hit reads no row
    details: dict[int, tuple[list[str], list[bytes]]] = field(default_factory=dict)
    distinct: dict[str, int] = field(default_factory=dict)  # ids of a kind, once (count)


def load_directory(read: Read) -> Directory:
    """The current pages' directory (a few dozen rows), its generation in the same statement."""
    rows = read(_DIRECTORY_SQL, ())
    d = Directory(gen=str(rows[0][1]), runs={})
    for pid, kind, run, first, last, count in rows[1:]:
        runs = d.runs.setdefault(str(kind), [])
        while len(runs) <= int(run):
            runs.append(Run())
        r = runs[int(run)]
        r.firsts.append(bytes(first))
        r.lasts.append(bytes(last))
        r.ids.append(int(pid))
        r.counts.append(int(count))
    return d


class PageIndex:
    """The pages of one store file, in memory, for one connection's lookups.

    Thread-safe without a lock: a new generation replaces the whole
    :class:`Directory` (readers keep the one they took), and a page loaded
    twice by two threads is the same bytes.
    """

    def __init__(self) -> None:
        self._dir = Directory(gen="\0", runs={})

    def directory(self, read: Read, gen: str) -> Directory:
        """The pages of generation ``gen`` (what the caller's statement saw)."""
        d = self._dir
        if d.gen != gen:
            d = load_directory(read)
            self._dir = d
            if d.gen != gen:
                raise StalePages("store_failed", "the revocation list was swapped meanwhile")
        return d

    def memory(self) -> int:
        """Bytes the loaded pages take (blobs, key lists and their objects, details)."""
        d = self._dir
        ids = sum(
            sys.getsizeof(blob) + sys.getsizeof(keys) + sum(map(sys.getsizeof, keys))
            for blob, keys in d.pages.values()
        )
        details = sum(
            sum(map(sys.getsizeof, texts)) + sum(map(sys.getsizeof, cols))
            for texts, cols in d.details.values()
        )
        return ids + details

    def find(self, read: Read, d: Directory, kind: str, cti: bytes) -> tuple[int, int] | None:
        """(page id, index) of ``cti`` among the pages of ``kind``: the last run first,
        so an id in two sections reads as the later one (what INSERT OR REPLACE kept)."""
        for run in reversed(d.runs.get(kind, ())):
            k = bisect_right(run.firsts, cti) - 1
            if k < 0 or cti > run.lasts[k]:
                continue
            pid = run.ids[k]
            page = d.pages.get(pid) or self._load(read, d, pid)
            i = position(page[0], page[1], cti)
            if i >= 0:
                return pid, i
        return None

    def _load(self, read: Read, d: Directory, pid: int) -> tuple[bytes, list[bytes]]:
        rows = read(_CTIS_SQL, (pid, d.gen))
        if not rows:
            raise StalePages("store_failed", "the revocation list was swapped meanwhile")
        blob = bytes(rows[0][0])
        page = (blob, [blob[i : i + ID] for i in range(0, len(blob), STRIDE * ID)])
        d.pages[pid] = page
        return page

    def detail(
        self, read: Read, d: Directory, hit: tuple[int, int]
    ) -> tuple[str, int, str, str, str]:
        """(reason, at, cinema, device, staff) of a hit, from its page row (read once)."""
        got = d.details.get(hit[0])
        if got is None:
            rows = read(_DETAIL_SQL, (hit[0], d.gen))
            if not rows:
                raise StalePages("store_failed", "the revocation list was swapped meanwhile")
            got = d.details[hit[0]] = (json.loads(rows[0][0]), [bytes(b) for b in rows[0][1:]])
        strings, columns = got
        reason, at, cinema, device, staff = (int_at(b, hit[1]) for b in columns)
        return strings[reason], at, strings[cinema], strings[device], strings[staff]

    def count(self, read: Read, d: Directory, kind: str) -> int:
        """Ids of ``kind`` in the pages, each once (an id in two sections once), cached.

        An id a later run repeats (a hold on a voucher the office froze too) is
        looked up in the earlier runs: the later runs are the small sections.
        """
        if kind in d.distinct:
            return d.distinct[kind]
        runs = d.runs.get(kind, [])
        total = sum(sum(run.counts) for run in runs)
        for n, run in enumerate(runs[1:], start=1):
            earlier = Directory(d.gen, {kind: runs[:n]}, d.pages)
            for pid in run.ids:
                blob = (d.pages.get(pid) or self._load(read, d, pid))[0]
                total -= sum(1 for c in split_ids(blob) if self.find(read, earlier, kind, c))
        d.distinct[kind] = total
        return total


def live_ids(read: Read, kind: str) -> set[bytes]:
    """Every id of the live list of ``kind`` ("f" revoked, "r" redeemed elsewhere):
    the row table's, and the pages' not removed since (for tests and tools; a
    million ids is a second). Read inside one transaction for a consistent answer."""
    ids = {bytes(r[0]) for r in read(ROW_IDS_SQL[kind], ())}
    gone = {bytes(r[0]) for r in read("SELECT cti FROM revocation_removed WHERE kind = ?", (kind,))}
    for (blob,) in read("SELECT ctis FROM revocation_pages WHERE kind = ?", (kind,)):
        ids.update(c for c in split_ids(bytes(blob)) if c not in gone)
    return ids
