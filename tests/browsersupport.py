"""What every browser test shares: Debian's chromium under Playwright, its marks, screenshots.

Loaded as a plugin by conftest.py, so ``browser``, ``phone`` and ``shots`` are
fixtures of every test module; a module sets ``pytestmark = BROWSER_MARKS``
(skipped where Debian's chromium is missing) and may set ``SHOTS_ENV``, the
variable that sends its photographs to docs/screenshots/ instead of tmp_path
(``CINEPASS_CONSOLE_SHOTS`` unless it says otherwise:
``CINEPASS_CONSOLE_SHOTS=1 pytest tests/test_console_browser.py`` refreshes
the README's pictures). Playwright is imported only when a test asks for a
browser: the rest of the suite runs without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.syncer import SyncEngine

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
ROOT = Path(__file__).resolve().parent.parent
CONSOLE_SHOTS_ENV = "CINEPASS_CONSOLE_SHOTS"

#: The mark of one browser test in a module whose other tests need no browser.
NEEDS_CHROMIUM = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
#: ``pytestmark`` of a browser test module.
BROWSER_MARKS = [pytest.mark.timeout(240), NEEDS_CHROMIUM]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless chromium (no sandbox: the tests may run as root in a container)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield b
        b.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A browser context the size of a phone (375x812), in Chinese."""
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN")
    yield ctx
    ctx.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where the module's photographs go: docs/screenshots/ when its ``SHOTS_ENV`` is set."""
    if os.environ.get(getattr(request.module, "SHOTS_ENV", CONSOLE_SHOTS_ENV)):
        return ROOT / "docs" / "screenshots"
    return tmp_path


def counter_syncs(home: Path) -> None:
    """A real counter's sync cycle with the server, which must succeed."""
    engine = SyncEngine(home)
    try:
        assert engine.sync_now().to_json()["ok"]
    finally:
        engine.stop()
