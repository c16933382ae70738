"""``cinepass-admin alerts digest``: per rule new, open, resolved and the top subjects, one day."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from sync.admin import main as admin_main
from sync.office.alerts import Finding, raise_all, resolve
from sync.office.alerts_digest import day_bounds
from sync.server.db import migrate, session_scope


def finding(rule: str, key: str, ev: str) -> Finding:
    return Finding(rule, "high", "device", key, 0, (ev,), device=key)


def test_digest_counts_new_open_resolved_and_top_subjects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    engine = migrate(url)
    with session_scope(engine) as s:
        raise_all(s, [finding("burst", "d1", "record:a"), finding("burst", "d2", "record:b")])
        raise_all(s, [finding("burst", "d1", "record:c"), finding("off_hours", "d3", "record:d")])
    with session_scope(engine) as s:
        resolve(s, 3, note="柜台已核实", actor="duty")
    assert admin_main(["--db", url, "alerts", "digest", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["rules"]["burst"] | {"top": None} == {"new": 2, "open": 2, "resolved": 0, "top": None}
    assert d["rules"]["burst"]["top"][0] == {"subject": "device:d1", "alerts": 1, "count": 2}
    assert d["rules"]["off_hours"]["resolved"] == 1 and d["rules"]["off_hours"]["open"] == 0
    assert d["totals"] == {"new": 3, "open": 2, "resolved": 1}
    assert admin_main(["--db", url, "alerts", "digest"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("告警日报 / alert digest") and "device:d1 (1 / 2)" in text
    assert admin_main(["--db", url, "alerts", "digest", "--date", "2020-01-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"] == {"new": 0, "open": 0, "resolved": 0}
    assert admin_main(["--db", url, "alerts", "digest", "--date", "01/02/2020"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    start, end = day_bounds(date(2026, 12, 3))
    assert end - start == 86_400_000 and start % 86_400_000 == 16 * 3_600_000  # 00:00 CST
