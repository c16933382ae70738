"""The README's main job: the demo builds the real system and the counter answers right."""

from __future__ import annotations

from pathlib import Path

from kiosk.demo import prepare_demo, run_headless
from kiosk.engine.decode import decode_file
from kiosk.engine.service import KioskService


def test_demo_world_gives_every_kind_of_answer(tmp_path: Path) -> None:
    setup = prepare_demo(tmp_path / "demo", log=lambda *_: None)
    try:
        # the batch holds what cinepass-admin issue writes: CSV, a PDF sheet and one PNG per voucher
        assert (setup.batch_dir / "vouchers.csv").is_file()
        assert list(setup.batch_dir.glob("*.pdf"))
        assert len(list(setup.batch_dir.glob("*.png"))) == 6
        # the video holds every demo code, in order, readable by the real decoder
        assert decode_file(setup.video) == [text for _label, text in setup.codes]
        lines: list[str] = []
        assert run_headless(setup, out=lines.append) == 0
        svc = KioskService.open(setup.home)
        try:
            tally = svc.tally().to_json()  # the current business day
            status = svc.status()
        finally:
            svc.close()
    finally:
        setup.stop()
    assert tally["accepted"] == 3
    assert tally["rejected"] == {
        "expired": 1,
        "revoked": 1,
        "bad_signature": 1,
        "already_redeemed": 1,
        "not_a_voucher": 1,
    }
    assert status["pending"] == 0  # the headless run synced its redemptions to the server
    assert any("核销成功" in line for line in lines)
    assert any("此券已使用" in line for line in lines)


def test_demo_is_a_front_end_of_its_own() -> None:
    """No cycle: the window never imports the demo, and the demo sets the central up through
    the office layer (as cinepass-admin does), never through the admin CLI's modules.
    """
    import ast

    root = Path(__file__).resolve().parents[1]

    def imports(path: Path) -> set[str]:
        out = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = ("." * node.level) + (node.module or "")
                out |= {base} | {f"{base}.{a.name}" for a in node.names}
        return out

    ui = {
        f"{p.name}: {name}"
        for p in sorted((root / "kiosk" / "ui").glob("*.py"))
        for name in imports(p)
        if "demo" in name.split(".")
    }
    assert ui == set()
    demo = imports(root / "kiosk" / "demo.py")
    assert not [n for n in demo if n.startswith(("sync.admin", "sync.admin_"))], demo
    assert "sync.office.cinemas" in demo and "sync.issuing" in demo
