"""Issue 10 item 8 (kiosk part): a provisioning file that failed is kept 0600, through the CLI."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from syncsupport import Central

from kiosk.cli import main
from kiosk.ops.provisioning import FAILED_NAME, FILE_NAME
from kiosk.paths import KioskPaths

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes"),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refused_code_is_kept_for_it_owner_only(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = KioskPaths(tmp_path / "kiosk")
    paths.home.mkdir(parents=True)
    f = paths.home / FILE_NAME
    f.write_text(json.dumps({"server_url": central.url, "enrolment_code": "WRONG-CODE-1234"}))
    os.chmod(f, 0o644)  # as a USB stick or an installer leaves it
    assert main(["--home", str(paths.home), "provision", "--file", str(f)]) == 2
    assert "enrolment code is wrong" in capsys.readouterr().err
    kept = paths.home / FAILED_NAME
    assert json.loads(kept.read_text())["enrolment_code"] == "WRONG-CODE-1234"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
