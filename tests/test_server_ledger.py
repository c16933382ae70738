"""The first-use rules of :class:`sync.server.ingest_settle.Ledger`, line by line (no database)."""

from __future__ import annotations

from typing import Any

from sync.server.ingest_settle import DISPUTE_MARGIN_MS, Ledger

M = DISPUTE_MARGIN_MS + 1


def line(uuid: str, at: int, device: str = "d1", **kw: Any) -> dict[str, Any]:
    base = {
        "uuid": uuid,
        "kind": "redeem",
        "at": at,
        "at_server": at,
        "status": "valid",
        "flags": [],
        "decision": None,
        "duplicate_of": None,
        "device": device,
        "voids": "",
        "voucher": "v",
        "cinema": "C",
        "staff": "",
    }
    return base | kw


def states(ledger: Ledger) -> dict[str, tuple[str, str | None, list[str]]]:
    return ledger.final()


def test_two_admissions_then_duplicates_and_disputes() -> None:
    led = Ledger("v", [], 2)
    for r in (line("a", 10 * M, "d1"), line("b", 11 * M, "d2"), line("c", 12 * M, "d3")):
        led.place(r)
    assert [states(led)[u][0] for u in "abc"] == ["valid", "valid", "duplicate"]
    assert states(led)["c"][1] == "a"
    led.place(line("e", 10 * M - 10, "d4"))  # earlier than b by over the margin, not than a
    s = states(led)
    assert s["a"][0] == "valid" and s["b"] == ("review", None, ["disputed"])
    assert s["e"] == ("review", None, ["disputed"])
    assert sum(1 for st in s.values() if st[0] == "valid") <= 2


def test_a_void_frees_the_voucher_and_ends_a_dispute() -> None:
    led = Ledger("v", [], 1)
    led.place(line("a", 5 * M, "d1"))
    led.place(line("b", 6 * M, "d2"))
    assert states(led)["b"] == ("duplicate", "a", [])
    led.place(line("x", 7 * M, "d1", kind="void", voids="a"))
    assert states(led)["a"][0] == "void" and states(led)["b"] == ("valid", None, [])
    led.place(line("c", 2 * M, "d3"))  # earlier than b by more than the margin
    assert states(led)["b"][2] == ["disputed"] and states(led)["c"][2] == ["disputed"]
    led.place(line("y", 8 * M, "d3", kind="void", voids="c"))  # c's counter undoes it
    assert states(led)["b"] == ("valid", None, []) and states(led)["c"][0] == "void"


def test_another_counter_cannot_void_and_flagged_lines_take_nothing() -> None:
    led = Ledger("v", [], 1)
    led.place(line("a", 5 * M, "d1"))
    led.place(line("x", 6 * M, "d2", kind="void", voids="a"))
    assert states(led)["a"][0] == "valid"
    led.place(line("f", 1, "d2", flags=["out_of_scope"]))  # much earlier, but flagged
    assert states(led)["a"][0] == "valid" and states(led)["f"] == ("review", None, ["out_of_scope"])


def test_decisions_are_kept_and_the_rival_follows() -> None:
    led = Ledger("v", [], 1)
    led.place(line("a", 5 * M, "d1"))
    led.place(line("b", 1 * M, "d2"))
    led.decide("b", accept=True)
    s = states(led)
    assert s["b"] == ("valid", None, []) and s["a"] == ("duplicate", "b", [])
    led.place(line("c", 0, "d3"))  # an even earlier claim cannot move a decided line
    s = states(led)
    assert s["b"][0] == "valid" and s["c"] == ("duplicate", "b", [])
