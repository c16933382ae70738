"""A feed's snapshot pulled from the server in pages: resumable, and cheap per entry.

A counter's first sync (or one after its cursor was lost) needs the whole
revocation list and roster, which for a provincial federation is a million
entries. Asked for in one answer, that is a body of 150 MB and a minute of
Python objects; so :func:`pull_snapshot` asks for pages
(``.../snapshot?limit=&after=&format=packed``, docs/feeds.md) and stages
each in the store as it comes, with the token of the next page in the same
transaction (:meth:`kiosk.engine.feeds.FeedStore.stage_snapshot`). The
verifier keeps reading the old tables until the last page is in and the
staged copies are swapped in (:meth:`~kiosk.engine.feeds.FeedStore.finish_snapshot`),
so redemptions go on meanwhile. A cut connection keeps what was staged: the
next sync continues from the token.

Pages come ``packed`` (column-wise, each text once: :class:`sync.protocol.PackedRevocations`):
a page of 20,000 is validated by pydantic's compiled core. A revocation page
of at least :data:`PAGE_ROWS_FROM` entries is then stored as ONE row
(:func:`page_pieces`, :mod:`kiosk.engine.revpages`), a million entries being
50 inserts instead of a million B-tree rows; its ids must be strictly
ascending within the page and after the page before (:func:`place_runs`), or
the page is a bad answer: a search over unsorted ids would miss a frozen
voucher. A smaller page becomes the store's row tuples. A server without
paging ignores the parameters and sends the whole state as ``entries`` in one
page, which is staged as rows in chunks the same way.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress, islice, pairwise
from typing import Any, cast

from pydantic import ValidationError

from sync import protocol as P

from .engine.facts import RevocationEntry, RosterEntry
from .engine.feeds import Feed, FeedStore, split_revocations
from .engine.revpages import ID, MAX_RUNS, PagePiece, pack_ints, split_ids
from .feedmap import feed_entries
from .http import SyncError
from .syncresult import bad_answer

#: entries asked for per page: ~1 MB packed, a 20,000-row stage transaction
SNAPSHOT_PAGE = 20_000
MAX_PAGES = 100_000
#: a packed revocation page of at least this many entries is stored as one page row
#: (kiosk.engine.revpages); a smaller one (a short last page, tiny lists) as rows
PAGE_ROWS_FROM = 1000

Rows = dict[str, Sequence[tuple[Any, ...]]]
GetJson = Callable[[str, dict[str, Any] | None], Any]


def pull_snapshot(get: GetJson, store: FeedStore, feed: Feed) -> int:
    """Stage the snapshot of ``feed`` page by page and swap it in; returns its entries.

    Continues a snapshot a cut connection left half-staged. A 422 for the
    token (a server restored from a backup, say) starts the snapshot over, once.
    The next page is fetched and parsed (:class:`PageReader`, its own thread)
    while this one is staged: the HTTP wait, ``json`` and the unpacking of
    page k+1 overlap SQLite's insert of page k (sqlite3 lets go of the GIL
    while it steps), and the store still sees the pages one at a time, in order.
    """
    token = store.snapshot_token(feed)
    if token is None:
        store.begin_snapshot(feed)
        token = ""
    restarted = False
    while True:
        reader = PageReader(get, feed, token)
        try:
            return stage_pages(store, feed, reader)
        except SyncError as exc:
            if reader.failed_token and exc.status == 422 and not restarted:
                store.begin_snapshot(feed)
                token, restarted = "", True
                continue
            raise
        finally:
            reader.close()


def stage_pages(store: FeedStore, feed: Feed, pages: Iterable[Page]) -> int:
    """Stage ``pages`` (each with the next page's token) and swap the last one in."""
    count = 0
    token = ""
    tails = store.page_tails() if feed == "revocation" else {}
    for page, found in pages:
        rows = place_runs(found, tails)
        count += sum(len(r) for t, r in rows.items() if t != "revocation_pages")
        count += sum(cast(PagePiece, p).size for p in rows.get("revocation_pages", ()))
        if page.more and page.next:
            store.stage_snapshot(feed, rows, page.next)
            token = page.next
            continue
        if page.more:
            raise bad_answer(f"the {feed} snapshot says more but gives no next page")
        for chunk in chunks(rows, store.SNAPSHOT_CHUNK):  # one page, or an old server's all
            store.stage_snapshot(feed, chunk, token)
        store.finish_snapshot(feed, str(page.cursor))
        return count
    raise bad_answer(f"the {feed} snapshot did not end after {MAX_PAGES} pages")


Page = tuple[P.FeedPage, "Rows"]


class PageReader:
    """The pages of a snapshot from ``token`` on, fetched and parsed one ahead on a thread.

    Iterating yields ``(page, rows)`` in order; an error of the fetch or of
    the parse is raised where its page would have come, after every page
    before it (so a cut connection keeps what came before, as without the
    thread). At most :data:`AHEAD` pages wait, so memory stays a page or two.
    ``failed_token`` is the token whose request failed ("" for the first).
    """

    AHEAD = 1

    def __init__(self, get: GetJson, feed: Feed, token: str) -> None:
        self.get, self.feed, self.token = get, feed, token
        self.failed_token = ""
        self._queue: queue.Queue[Page | BaseException | None] = queue.Queue(self.AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshot-pages", daemon=True)
        self._thread.start()

    def _put(self, item: Page | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        path = f"{P.API_PREFIX}/feeds/{self.feed}/snapshot"
        token = self.token
        try:
            for _ in range(MAX_PAGES):
                params: dict[str, Any] = {"limit": SNAPSHOT_PAGE, "format": "packed"}
                if token:
                    params["after"] = token
                self.failed_token = token
                page, rows = parse_page(self.feed, self.get(path, params))
                self.failed_token = ""
                if not self._put((page, rows)) or not (page.more and page.next):
                    return
                token = page.next
            self._put(None)  # too many pages: the consumer says so
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(exc)

    def __iter__(self) -> Iterator[Page]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the thread (a page it is fetching is dropped) and wait for it."""
        self._stop.set()
        self._thread.join()


def place_runs(rows: Rows, tails: dict[str, tuple[int, bytes]]) -> Rows:
    """The page rows of ``rows`` numbered by ascending run, after ``tails`` (kind ->
    the run and last id staged so far, updated here).

    A piece whose first id is above the last one of its kind goes on its run;
    one that is not starts the next run, and a kind has at most
    :data:`~kiosk.engine.revpages.MAX_RUNS` (the server's sections): anything
    else is a page out of order, a bad answer.
    """
    pieces = cast(Sequence[PagePiece], rows.get("revocation_pages", ()))
    if not pieces:
        return rows
    placed = []
    for piece in pieces:
        tail = tails.get(piece.kind)
        run = 0 if tail is None else tail[0] if piece.first > tail[1] else tail[0] + 1
        if run >= MAX_RUNS[piece.kind]:
            raise bad_answer("the revocation snapshot's pages are not in id order")
        placed.append(piece._replace(run=run))
        tails[piece.kind] = (run, piece.last)
    return {**rows, "revocation_pages": placed}


def chunks(rows: Rows, size: int) -> list[Rows]:
    """The rows in pieces of at most ``size`` per table (short stage transactions)."""
    longest = max((len(r) for r in rows.values()), default=0)
    return [{t: r[i : i + size] for t, r in rows.items()} for i in range(0, longest, size)] or [{}]


def parse_page(feed: Feed, raw: Any) -> tuple[P.FeedPage, Rows]:
    """A snapshot page as the store's rows (table -> tuples); a bad page is a bad answer."""
    if not isinstance(raw, dict):
        raise bad_answer("a snapshot page is not a JSON object")
    packed = raw.pop("packed", None)
    try:
        page = P.FeedPage.model_validate(raw)
        if packed is not None:
            return page, unpack(feed, packed)
        entries = feed_entries(feed, page.entries)
    except (ValidationError, ValueError) as exc:
        msg = str(exc.errors()[0]["msg"]) if isinstance(exc, ValidationError) else str(exc)
        raise bad_answer(msg) from None
    if feed == "roster":
        roster = cast(list[RosterEntry], entries)
        return page, {"roster": sorted((e.cti, e.token) for e in roster if not e.removed)}
    freeze, _, used, _ = split_revocations(cast(list[RevocationEntry], entries))
    freeze.sort(key=lambda f: f[0])
    used.sort(key=lambda u: (u[0], u[1], u[2]))
    return page, {"revocations": freeze, "remote_redemptions": used}


def unpack(feed: Feed, packed: Any) -> Rows:
    """Packed columns (docs/feeds.md) as row tuples for the stage tables.

    Column-wise, in C: the ids are cut from the blob, the texts looked up
    with ``map`` and the rows assembled with ``zip`` (``compress`` splits
    freezes from redemptions), so no Python bytecode runs per entry but the
    id slicing; a million entries is a fraction of a second.
    """
    if feed == "roster":
        r = P.PackedRoster.model_validate(packed)
        return {"roster": list(zip(ctis_of(r.cti), r.token, strict=True))}
    p = P.PackedRevocations.model_validate(packed)
    if p.rows >= PAGE_ROWS_FROM:
        return {"revocation_pages": page_pieces(p)}
    text = p.strings.__getitem__
    ids = ctis_of(p.cti)
    if "r" not in p.action:  # a page of freezes: the usual case
        columns: tuple[list[Any], ...] = (ids, p.reason, p.at, p.cinema, p.device, p.staff)
        return {"revocations": freeze_rows(text, *columns), "remote_redemptions": []}
    if "f" not in p.action:
        return {"revocations": [], "remote_redemptions": used_rows(text, ids, p)}
    is_f = [a == "f" for a in p.action]
    is_r = [not f for f in is_f]

    def pick(col: list[Any], mask: list[bool]) -> list[Any]:
        return list(compress(col, mask))

    f_cols = [pick(c, is_f) for c in (ids, p.reason, p.at, p.cinema, p.device, p.staff)]
    r_cols = [pick(c, is_r) for c in (ids, p.at, p.device, p.cinema, p.staff)]
    used = list(zip(r_cols[0], r_cols[1], *(map(text, c) for c in r_cols[2:]), strict=True))
    return {"revocations": freeze_rows(text, *f_cols), "remote_redemptions": used}


def page_pieces(p: P.PackedRevocations) -> list[PagePiece]:
    """A packed page as ``revocation_pages`` rows: per kind (freezes, redemptions) and
    ascending run, the ids as one blob and the columns packed (run numbers are
    given by :func:`place_runs`). In C but for a handful of calls per page.

    Raises ValueError (a bad answer) when a kind's ids are out of order more
    often than its sections allow: a search over them would miss an id.
    """
    blob = bytes.fromhex(p.cti)
    ids = split_ids(blob)
    strings = json.dumps(p.strings, ensure_ascii=False)
    columns: Sequence[list[int]] = (p.reason, p.at, p.cinema, p.device, p.staff)
    parts: list[tuple[str, list[bytes], bytes, Sequence[list[int]]]]
    if "r" not in p.action or "f" not in p.action:
        parts = [("f" if "r" not in p.action else "r", ids, blob, columns)]
    else:
        parts = []
        for kind in ("f", "r"):
            mask = [a == kind for a in p.action]
            picked = list(compress(ids, mask))
            picked_cols: Sequence[list[int]] = [list(compress(c, mask)) for c in columns]
            parts.append((kind, picked, b"".join(picked), picked_cols))
    pieces = []
    for kind, kids, kblob, cols in parts:
        if not kids:
            continue
        breaks = list(compress(range(1, len(kids)), map(bytes.__ge__, kids, islice(kids, 1, None))))
        if len(breaks) >= MAX_RUNS[kind]:
            raise ValueError("the ids of a snapshot page are not in ascending order")
        for a, b in pairwise([0, *breaks, len(kids)]):
            packed = [pack_ints(c[a:b]) for c in cols]
            piece = (kind, -1, kids[a], kids[b - 1], b - a, kblob[a * ID : b * ID], strings)
            pieces.append(PagePiece(*piece, *packed))
    return pieces


def ctis_of(hex_ids: str) -> list[bytes]:
    """The 10-byte ids of a packed ``cti`` column (20 hex characters each)."""
    blob = bytes.fromhex(hex_ids)
    return [blob[i : i + 10] for i in range(0, len(blob), 10)]


def freeze_rows(text: Callable[[int], str], ids: list[bytes], *cols: list[Any]) -> list[Any]:
    """``revocations`` rows: id, reason, at, cinema, device, staff (texts by index).

    When no entry of the page names a cinema, device or staff (the office's
    freezes: nearly every entry), the rows are (id, reason, at): the three
    columns default to "" in the store, and binding half the values takes a
    quarter off SQLite's insert of a million rows.
    """
    reason, at, cinema, device, staff = cols
    if all(blank(text, c) for c in (cinema, device, staff)):
        return list(zip(ids, map(text, reason), at, strict=True))
    return list(
        zip(
            ids,
            map(text, reason),
            at,
            *(map(text, c) for c in (cinema, device, staff)),
            strict=True,
        )
    )


def blank(text: Callable[[int], str], column: list[Any]) -> bool:
    """Every entry of a packed text column is "" (counted in C: no bytecode per entry)."""
    return not column or (text(column[0]) == "" and column.count(column[0]) == len(column))


def used_rows(text: Callable[[int], str], ids: list[bytes], p: P.PackedRevocations) -> list[Any]:
    """``remote_redemptions`` rows of an all-redeemed page: id, at, device, cinema, staff."""
    return list(zip(ids, p.at, *(map(text, c) for c in (p.device, p.cinema, p.staff)), strict=True))
