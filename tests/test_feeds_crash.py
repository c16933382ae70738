"""A counter killed while it loads a revocation snapshot keeps one whole list.

docs/feeds.md: the pages are staged beside the live tables without an fsync
each and swapped in by one durable commit. Whatever moment the process dies
at, the store must hold either the old list with the old cursor or the new
list with the new cursor - never a mix - and the next load must finish from
where the staging stopped. Each case here runs the real loader
(:func:`kiosk.snapshots.pull_snapshot` over real packed pages made by the
server's own ``feeds.packed``) in a child process on a real store file and
kills it with SIGKILL at a point read from the store itself.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from waitfor import wait_for

from kiosk.engine.facts import RevocationEntry
from kiosk.engine.revpages import live_ids
from kiosk.engine.service import KioskService, init_standalone
from sync.voucher import PrivateKey

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[1]
PAGES, PER_PAGE = 12, 4000
OLD = [i.to_bytes(10, "big") for i in range(1, 301)]

CHILD = r"""
import sys
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
from test_feeds_crash import serve
serve(Path(sys.argv[1]))
"""


def new_ids() -> list[str]:
    """The new list: ids no old entry has, in key order (what the server pages)."""
    return [f"{0xF0 << 72 | i:020x}" for i in range(PAGES * PER_PAGE)]


def pages() -> dict[str, dict[str, object]]:
    """The server's packed pages, by the ``after`` token that asks for each."""
    from sync.server import feeds

    ids = new_ids()
    out: dict[str, dict[str, object]] = {}
    for n in range(PAGES):
        rows = [
            ("freeze", c, "stolen", 0, "", "", "") for c in ids[n * PER_PAGE : (n + 1) * PER_PAGE]
        ]
        last = n == PAGES - 1
        out[f"9:f:{ids[n * PER_PAGE - 1]}" if n else ""] = {
            "feed": "revocation",
            "cursor": 9,
            "more": not last,
            "snapshot": True,
            "next": None if last else f"9:f:{rows[-1][1]}",
            "entries": [],
            "packed": feeds.packed("revocation", rows),
        }
    return out


def serve(home: Path) -> None:
    """The child: load the snapshot into ``home``'s store (resuming a staged one)."""
    from kiosk.snapshots import pull_snapshot

    book = pages()

    def get(_path: str, params: dict[str, object] | None) -> object:
        return dict(book[str((params or {}).get("after", ""))])

    with KioskService.open(home) as svc:
        pull_snapshot(get, svc.store, "revocation")


def old_home(tmp_path: Path) -> Path:
    home = tmp_path / "counter"
    init_standalone(home, cinema="SH01", issuer_keys=[PrivateKey.generate().public])
    with KioskService.open(home) as svc:
        entries = [RevocationEntry(c, "freeze", "lost", 1) for c in OLD]
        svc.store.apply_revocations(entries, "5")
    return home


def state(home: Path) -> tuple[str | None, set[bytes], str | None]:
    """(revocation cursor, frozen ids, staged token) as a fresh reader sees them.

    The ids are the live list's rows and snapshot pages (kiosk.engine.revpages),
    read in the same transaction as the cursors.
    """
    con = sqlite3.connect(home / "kiosk.sqlite3", timeout=10, isolation_level=None)
    try:
        con.execute("BEGIN")
        cur = dict(con.execute("SELECT feed, cursor FROM cursors").fetchall())
        ids = live_ids(lambda sql, p: con.execute(sql, p).fetchall(), "f")
        con.execute("COMMIT")
    finally:
        con.close()
    return cur.get("revocations"), ids, cur.get("revocations_snapshot")


def staged_pages(home: Path) -> int:
    """How many pages the child has committed to the stage (0 before the first)."""
    try:
        token = state(home)[2]
    except sqlite3.OperationalError:  # the child holds a schema lock for a moment
        return 0
    if not token:
        return 0
    return new_ids().index(token.split(":")[2]) // PER_PAGE + 1


def start(home: Path) -> subprocess.Popen[bytes]:
    code = CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"))
    return subprocess.Popen([sys.executable, "-c", code, str(home)], cwd=ROOT)


def assert_one_whole_list(home: Path) -> str:
    cursor, ids, _ = state(home)
    new = {bytes.fromhex(c) for c in new_ids()}
    if cursor == "5":
        assert ids == set(OLD), "the old cursor with anything but the whole old list"
        return "old"
    assert cursor == "9" and ids == new, "the new cursor with anything but the whole new list"
    return "new"


@pytest.mark.parametrize("kill_after", [1, PAGES // 2, PAGES - 1])
def test_killed_while_loading_keeps_old_or_new_list_then_resumes(
    tmp_path: Path, kill_after: int
) -> None:
    home = old_home(tmp_path)
    child = start(home)
    try:
        wait_for(lambda: staged_pages(home) >= kill_after or child.poll() is not None, 60)
    finally:
        child.kill()  # SIGKILL (a no-op if it has just finished)
        child.wait()
    seen = assert_one_whole_list(home)
    if seen == "old":  # died while staging: the verifier still reads the old list
        with KioskService.open(home) as svc:
            assert svc.store.snapshot_token("revocation") is not None  # staging kept
    resumed = start(home)
    assert resumed.wait(timeout=120) == 0
    assert assert_one_whole_list(home) == "new"
    assert state(home)[2] is None  # the staging is done with


def test_killed_at_any_moment_of_the_last_pages_and_swap(tmp_path: Path) -> None:
    """Kills spread over the end of a load (the last page, the swap, the drop of the old)."""
    outcomes = set()
    for attempt in range(6):
        home = old_home(tmp_path / str(attempt))
        child = start(home)
        try:
            wait_for(lambda: staged_pages(home) >= PAGES - 1 or child.poll() is not None, 60)
            for _ in range(attempt * 40):  # a little further into the end, each attempt
                if child.poll() is not None:
                    break
                state(home)
        finally:
            child.kill()  # SIGKILL (a no-op if it has just finished)
            child.wait()
        outcomes.add(assert_one_whole_list(home))
    assert outcomes <= {"old", "new"}
