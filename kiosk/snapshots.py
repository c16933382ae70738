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
a page of 20,000 is validated by pydantic's compiled core and turned into
the store's row tuples in one loop. A server without paging ignores the
parameters and sends the whole state as ``entries`` in one page, which is
staged in chunks the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from pydantic import ValidationError

from sync import protocol as P

from .engine.facts import RevocationEntry, RosterEntry
from .engine.feeds import Feed, FeedStore, split_revocations
from .feedmap import feed_entries
from .http import SyncError
from .syncresult import bad_answer

#: entries asked for per page: ~1 MB packed, a 20,000-row stage transaction
SNAPSHOT_PAGE = 20_000
MAX_PAGES = 100_000

Rows = dict[str, Sequence[tuple[Any, ...]]]
GetJson = Callable[[str, dict[str, Any] | None], Any]


def pull_snapshot(get: GetJson, store: FeedStore, feed: Feed) -> int:
    """Stage the snapshot of ``feed`` page by page and swap it in; returns its entries.

    Continues a snapshot a cut connection left half-staged. A 422 for the
    token (a server restored from a backup, say) starts the snapshot over, once.
    """
    path = f"{P.API_PREFIX}/feeds/{feed}/snapshot"
    token = store.snapshot_token(feed)
    if token is None:
        store.begin_snapshot(feed)
        token = ""
    restarted = False
    count = 0
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": SNAPSHOT_PAGE, "format": "packed"}
        if token:
            params["after"] = token
        try:
            raw = get(path, params)
        except SyncError as exc:
            if token and exc.status == 422 and not restarted:
                store.begin_snapshot(feed)
                token, restarted = "", True
                continue
            raise
        page, rows = parse_page(feed, raw)
        count += sum(len(r) for r in rows.values())
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
    """Packed columns (docs/feeds.md) as row tuples for the stage tables."""
    if feed == "roster":
        r = P.PackedRoster.model_validate(packed)
        blob = bytes.fromhex(r.cti)
        return {"roster": [(blob[10 * i : 10 * i + 10], t) for i, t in enumerate(r.token)]}
    p = P.PackedRevocations.model_validate(packed)
    blob, s = bytes.fromhex(p.cti), p.strings
    freeze: list[tuple[Any, ...]] = []
    used: list[tuple[Any, ...]] = []
    columns = zip(p.action, p.at, p.reason, p.cinema, p.device, p.staff, strict=True)
    for i, (action, at, reason, cinema, device, staff) in enumerate(columns):
        cti = blob[10 * i : 10 * i + 10]
        if action == "f":
            freeze.append((cti, s[reason], at, s[cinema], s[device], s[staff]))
        else:
            used.append((cti, at, s[device], s[cinema], s[staff]))
    return {"revocations": freeze, "remote_redemptions": used}
