"""A revocation snapshot kept a page to a row (kiosk.engine.revpages, docs/feeds.md "The store").

Real stores on real files, pages made by the server's own ``feeds.packed`` and
loaded by the sync engine's loader (:func:`kiosk.snapshots.pull_snapshot`).
The page size is tiny so a few dozen vouchers cross every page and section
boundary: each answer is compared with the same snapshot loaded as rows (what
every kiosk did before pages), events after the snapshot override the pages,
a page out of order is refused, and a swap made through another connection
is seen by a reader that had the old pages in memory.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ops_support import run_alembic

from kiosk import snapshots
from kiosk.engine.db import HEAD_REVISION, MIGRATIONS_DIR, make_engine, migrate
from kiosk.engine.facts import RevocationEntry
from kiosk.engine.revpages import StalePages
from kiosk.engine.store import Store
from kiosk.http import SyncError
from sync.server import feeds

Row = tuple[str, str, str, int, str, str, str]

rng = random.Random(16)


def ids(n: int, top: int = 0) -> list[str]:
    return sorted(f"{top:02x}" + rng.randbytes(9).hex() for _ in range(n))


FROZEN = [("freeze", c, rng.choice(["lost", "stolen", ""]), 0, "", "", "") for c in ids(37)]
#: an online hold on a voucher the office froze meanwhile too: in both sections, the later wins
HELD = [
    ("held", c, "held", 9_000 + i, "CIN-A", "online:pt_1", "")
    for i, c in enumerate(sorted([*ids(4), FROZEN[10][1]]))
]
USED = [
    ("redeemed", c, "", 1_000 + i, f"CIN-{i % 3}", f"dev-{i % 4}", f"staff {i}")
    for i, c in enumerate(ids(23))
]
ALL = FROZEN + HELD + USED  # the server's order: frozen, held, redeemed, each by id


def book(rows: list[Row], per: int, cursor: int = 9) -> dict[str, dict[str, Any]]:
    """Packed snapshot pages of ``per`` rows, by the ``after`` token that asks for each."""
    out = {}
    for n in range(0, len(rows), per):
        last = n + per >= len(rows)
        out["" if n == 0 else f"t{n}"] = {
            "feed": "revocation",
            "cursor": cursor,
            "more": not last,
            "snapshot": True,
            "next": None if last else f"t{n + per}",
            "entries": [],
            "packed": feeds.packed("revocation", rows[n : n + per]),
        }
    return out


def load(store: Store, rows: list[Row], per: int = 4, cursor: int = 9) -> int:
    pages = book(rows, per, cursor)

    def get(_path: str, params: dict[str, Any] | None) -> Any:
        return dict(pages[str((params or {}).get("after", ""))])

    return snapshots.pull_snapshot(get, store, "revocation")


@pytest.fixture
def paged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 3 or more entries are kept as page rows (a real kiosk: 1,000)."""
    monkeypatch.setattr(snapshots, "PAGE_ROWS_FROM", 3)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two stores: ``pages`` (loaded as page rows) and ``rows`` (loaded as rows)."""
    a, b = Store.open(tmp_path / "pages.sqlite3"), Store.open(tmp_path / "rows.sqlite3")
    yield a, b
    a.close()
    b.close()


def page_rows(store: Store) -> int:
    return int(store.read("SELECT count(*) FROM revocation_pages")[0][0])


def answers(store: Store, ctis: list[bytes]) -> list[Any]:
    return [(store.revocation(c), store.facts(c, own_device="dev-1")) for c in ctis]


def test_pages_answer_every_lookup_as_rows_do(
    stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    pages, rows = stores
    monkeypatch.setattr(snapshots, "PAGE_ROWS_FROM", 10**9)
    assert load(rows, ALL) == len(ALL)
    assert page_rows(rows) == 0
    monkeypatch.setattr(snapshots, "PAGE_ROWS_FROM", 3)
    assert load(pages, ALL, per=4) == len(ALL)
    # 17 pages, some crossing a section (frozen/held, held/redeemed): one row per kind and run
    assert 16 < page_rows(pages) <= 19
    assert pages.read("SELECT count(*) FROM remote_redemptions")[0][0] == 1  # the short last page
    known = [bytes.fromhex(r[1]) for r in ALL]
    misses = [rng.randbytes(10) for _ in range(50)] + [bytes(10), b"\xff" * 10]
    neighbours = [
        (int.from_bytes(c, "big") + d).to_bytes(10, "big") for c in known for d in (-1, 1)
    ]
    probe = known + misses + neighbours
    assert answers(pages, probe) == answers(rows, probe)
    frozen = {bytes.fromhex(r[1]) for r in FROZEN + HELD}
    assert len(frozen) == len(FROZEN) + len(HELD) - 1
    assert pages.revocation(bytes.fromhex(FROZEN[10][1])) == rows.revocation(
        bytes.fromhex(FROZEN[10][1])
    )
    assert pages.read("SELECT max(run) FROM revocation_pages WHERE kind = 'f'")[0][0] == 1
    assert pages.revocation_ids() == rows.revocation_ids() == frozen
    assert pages.remote_redemption_ids() == {bytes.fromhex(r[1]) for r in USED}
    assert pages.counts()["revocations"] == rows.counts()["revocations"] == len(frozen)
    # every column of a hit: a freeze, a hold, a redemption elsewhere
    f, h, u = FROZEN[5], HELD[2], USED[7]
    rev = pages.revocation(bytes.fromhex(f[1]))
    assert rev is not None and (rev.reason, rev.at_ms, rev.cinema, rev.device, rev.staff) == (
        f[2],
        0,
        "",
        "",
        "",
    )
    rev = pages.revocation(bytes.fromhex(h[1]))
    assert rev is not None and (rev.reason, rev.at_ms, rev.cinema, rev.device) == h[2:6]
    (use,) = pages.facts(bytes.fromhex(u[1]), own_device="x").uses
    assert (use.at_ms, use.cinema, use.device, use.staff, use.remote) == (*u[3:7], True)
    assert pages.facts(bytes.fromhex(u[1]), own_device=u[5]).uses == ()  # our own: skipped


def test_events_after_the_snapshot_override_its_pages(
    stores: tuple[Store, Store], paged: None
) -> None:
    store, _ = stores
    load(store, ALL, per=8)
    n = store.counts()["revocations"]
    gone, again, used = (bytes.fromhex(r[1]) for r in (FROZEN[3], FROZEN[4], USED[2]))
    store.apply_revocations(
        [
            RevocationEntry(gone, "unfreeze", "", 5),
            RevocationEntry(again, "freeze", "fraud", 6),  # already in a page: the row wins
            RevocationEntry(used, "unredeemed", "", 7),
        ],
        "10",
    )
    assert store.revocation(gone) is None
    rev = store.revocation(again)
    assert rev is not None and (rev.reason, rev.at_ms) == ("fraud", 6)
    assert store.facts(used, own_device="x").uses == ()
    assert store.counts()["revocations"] == n - 1
    assert gone not in store.revocation_ids() and used not in store.remote_redemption_ids()
    # frozen and redeemed again after the removal: the new events count, the page's do not
    store.apply_revocations(
        [
            RevocationEntry(gone, "freeze", "stolen", 8),
            RevocationEntry(used, "redeemed", "", 99, cinema="CIN-9", device="dev-9", staff="s"),
        ],
        "11",
    )
    rev = store.revocation(gone)
    assert rev is not None and rev.reason == "stolen"
    assert [(u.at_ms, u.device) for u in store.facts(used, own_device="x").uses] == [(99, "dev-9")]
    assert store.counts()["revocations"] == n
    store.apply_revocations([RevocationEntry(gone, "unfreeze", "", 12)], "12")
    assert store.revocation(gone) is None and store.counts()["revocations"] == n - 1
    # a redemption the feed repeats (same device and time as the page's) counts once
    twice = USED[9]
    store.apply_revocations(
        [RevocationEntry(bytes.fromhex(twice[1]), "redeemed", "", twice[3], *twice[4:7])], "13"
    )
    assert len(store.facts(bytes.fromhex(twice[1]), own_device="x").uses) == 1
    # a new snapshot replaces rows, pages and removals alike
    load(store, ALL, per=8, cursor=20)
    rev = store.revocation(again)
    assert store.revocation(gone) is not None and rev is not None and rev.reason == FROZEN[4][2]
    assert store.counts()["revocations"] == n
    assert store.read("SELECT count(*) FROM revocation_removed")[0][0] == 0


@pytest.mark.parametrize(
    "rows",
    [
        FROZEN[:3] + FROZEN[5:6] + FROZEN[3:5] + FROZEN[6:9] + FROZEN[:2],  # back twice in pages
        USED[:4] + USED[2:6],  # redeemed: one section, never back
        [FROZEN[1], FROZEN[0], FROZEN[3], FROZEN[2]],  # out of order twice inside a page
        [USED[0], USED[0], USED[1]],  # the same id twice
    ],
    ids=["frozen-pages", "redeemed-pages", "inside-a-page", "repeated"],
)
def test_a_page_out_of_order_is_refused(
    stores: tuple[Store, Store], paged: None, rows: list[Row]
) -> None:
    """A search over unsorted ids would miss a frozen voucher: such a page is a bad answer."""
    store, _ = stores
    load(store, FROZEN[:6], per=3)
    before = store.revocation_ids()
    with pytest.raises(SyncError) as e:
        load(store, rows, per=4)
    assert e.value.reason == "bad_answer" and "order" in e.value.message
    assert store.revocation_ids() == before  # the live list is untouched
    assert store.get_cursor("revocations") == "9"


def test_a_forged_page_is_refused(stores: tuple[Store, Store], paged: None) -> None:
    store, _ = stores
    good = book(FROZEN[:6], 6)[""]
    for bad in ({"cti": good["packed"]["cti"][:-2]}, {"cti": "zz" + good["packed"]["cti"][2:]}):
        page = {**good, "packed": {**good["packed"], **bad}}
        with pytest.raises(SyncError) as e:
            snapshots.pull_snapshot(lambda _p, _q, page=page: dict(page), store, "revocation")
        assert e.value.reason == "bad_answer"
    assert page_rows(store) == 0 and store.get_cursor("revocations") is None


def test_a_swap_through_another_connection_is_seen(tmp_path: Path, paged: None) -> None:
    """The LAN server or the sync thread swaps the list; a reader with the old pages in
    memory answers from the new list at its next lookup."""
    path = tmp_path / "k.sqlite3"
    writer, reader = Store.open(path), Store.open(path)
    try:
        first, second = FROZEN[:20], FROZEN[20:] + HELD
        load(writer, first, per=5)
        old, new = bytes.fromhex(first[7][1]), bytes.fromhex(second[3][1])
        assert reader.revocation(old) is not None and reader.revocation(new) is None
        assert reader.counts()["revocations"] == 20 and page_rows(reader) == 4
        gen = reader.read("SELECT value FROM meta WHERE key = 'revocation_pages_gen'")[0][0]
        held = reader.pages.directory(reader.read, gen)  # what a lookup in flight holds
        held.pages.clear()
        load(writer, second, per=5, cursor=12)
        with pytest.raises(StalePages):  # page ids start again at 1: the generation tells
            reader.pages.find(reader.read, held, "f", old)
        assert reader.revocation(old) is None and reader.revocation(new) is not None
        assert reader.facts(old, own_device="").revocation is None
        assert reader.counts()["revocations"] == len(second)
        writer.replace_revocations([RevocationEntry(old, "freeze", "lost", 1)], "13")  # rows
        assert reader.revocation(new) is None and reader.revocation(old) is not None
        assert reader.counts()["revocations"] == 1 and page_rows(reader) == 0
    finally:
        writer.close()
        reader.close()


def test_a_cut_load_resumes_after_its_last_staged_page(
    stores: tuple[Store, Store], paged: None
) -> None:
    store, _ = stores
    pages = book(ALL, 6)
    asked: list[str] = []

    def cut(_path: str, params: dict[str, Any] | None) -> Any:
        after = str((params or {}).get("after", ""))
        if len(asked) == 4:
            raise SyncError("offline", "connection reset (test)")
        asked.append(after)
        return dict(pages[after])

    with pytest.raises(SyncError):
        snapshots.pull_snapshot(cut, store, "revocation")
    token = store.snapshot_token("revocation")
    assert token and store.revocation_ids() == set()  # nothing live yet
    asked.clear()

    def whole(_path: str, params: dict[str, Any] | None) -> Any:
        asked.append(str((params or {}).get("after", "")))
        return dict(pages[asked[-1]])

    assert snapshots.pull_snapshot(whole, store, "revocation") == len(ALL) - 4 * 6
    assert asked[0] == token  # continued after the last staged page, not started over
    assert store.revocation_ids() == {bytes.fromhex(r[1]) for r in FROZEN + HELD}
    assert store.remote_redemption_ids() == {bytes.fromhex(r[1]) for r in USED}


def test_the_first_kiosk_schema_upgrades_and_loads_pages(tmp_path: Path, paged: None) -> None:
    path = tmp_path / "old.sqlite3"
    engine = make_engine(path)
    migrate(engine, "0001")
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO revocations (cti, reason, at) VALUES (?, 'stolen', 9)", (b"\x09" * 10,)
    )
    conn.execute("INSERT INTO cursors VALUES ('revocations', '77')")
    conn.commit()
    conn.close()
    with Store.open(path) as store:  # migrates to head
        assert store.read("SELECT version_num FROM alembic_version")[0][0] == HEAD_REVISION
        rev = store.revocation(b"\x09" * 10)
        assert rev is not None and (rev.reason, rev.at_ms) == ("stolen", 9)
        assert store.counts()["revocations"] == 1
        load(store, ALL, per=5)
        assert store.revocation(b"\x09" * 10) is None
        assert store.revocation_ids() == {bytes.fromhex(r[1]) for r in FROZEN + HELD}
        assert page_rows(store) > 0


def test_a_downgrade_forgets_the_paged_list_so_it_is_asked_for_again(
    tmp_path: Path, paged: None
) -> None:
    path = tmp_path / "k.sqlite3"
    with Store.open(path) as store:
        load(store, ALL, per=5)
        assert store.get_cursor("revocations") == "9"
    run_alembic(path, MIGRATIONS_DIR, "downgrade", "0004_lan_peers")
    conn = sqlite3.connect(path)
    try:
        cursors = dict(conn.execute("SELECT feed, cursor FROM cursors").fetchall())
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert "revocations" not in cursors  # the older kiosk pulls the whole list again
    assert not tables & {"revocation_pages", "revocation_removed"}
