"""/docs in a real browser (Playwright driving /usr/bin/chromium): it renders offline, under its
strict policy. The screenshot goes to tests/artifacts/docs.png (or $QS_TEST_ARTIFACTS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import expect

from quote_service.config import Settings
from tests.integration.browser import chromium, needs_chromium, publish, screenshot_path
from tests.integration.servers import cli_env, running_server

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    with running_server(env) as base:
        yield base


async def test_the_docs_page_renders_every_operation_and_the_authorize_button(base_url: str) -> None:
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 1000})
        # Offline: any request that leaves the service fails.
        await context.route(lambda url: not url.startswith(base_url), lambda route: route.abort("internetdisconnected"))
        page = await context.new_page()
        page.set_default_timeout(20_000)
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        await page.goto(base_url + "/docs")
        await expect(page.locator('[data-path="/api/v1/quote"]').first).to_be_visible()  # read /openapi.json
        await expect(page.locator('[data-path="/api/v1/orders"]').first).to_be_visible()
        await expect(page.locator(".btn.authorize")).to_be_visible()  # securitySchemes are declared
        assert refused == []  # nothing the page needs is refused
        shot = screenshot_path("docs.png")
        await page.screenshot(path=str(shot), full_page=False)
        publish(shot)
