"""Playwright driving Debian's Chromium (/usr/bin/chromium), and where screenshots go."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("QS_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
DOCS_IMAGES = ROOT / "docs" / "img"
# CI installs Chromium (.ci/run), so there these tests always run; a laptop without it skips them.
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


def screenshot_path(name: str) -> Path:
    """Where the test writes screenshot `name` (tests/artifacts/ or $QS_TEST_ARTIFACTS)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def publish(path: Path) -> None:
    """With QS_UPDATE_SCREENSHOTS=1, copy a screenshot into docs/img/ (the docs' pictures)."""
    if os.environ.get("QS_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / path.name)
