"""Regenerate the docs' pictures (docs/img/*.png) from the real demo: `uv run python -m tests.screenshots`.

Starts `quote-service serve --demo` (what `make run` serves: embedded PostgreSQL and Redis, the
demo catalog and history) on a scratch QUOTE_SERVICE_HOME and a free port, logs in as the demo
accounts through the pages' own forms, and photographs the landing page, the dashboard, the
books page and the store (two books in the basket and their quote) at 1440 px wide with Debian's
Chromium. `--base-url URL` photographs a
server that is already running instead (then nothing is started).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from playwright.async_api import Page, expect

from quote_service.cli.demo import DEMO_ADMIN, DEMO_USER
from tests.integration.browser import DOCS_IMAGES, chromium, guarded_page, log_in
from tests.integration.servers import cli_env, running_server

WIDTH, HEIGHT = 1440, 900


async def _dashboard_drawn(page: Page) -> None:
    await expect(page.locator("#status")).to_contain_text("Updated", timeout=60_000)
    await page.wait_for_function("Chart.getChart(document.getElementById('price-chart')) !== undefined")


async def _quoted(page: Page) -> None:
    """Two of the first books in the basket (one of them three times) and their quote, with a coupon."""
    cards = page.locator(".product")
    await cards.nth(0).get_by_role("button", name="Add to basket").click()
    await cards.nth(1).locator("input.qty").fill("3")
    await cards.nth(1).get_by_role("button", name="Add to basket").click()
    await page.get_by_label("Coupon codes").fill("WELCOME10")
    await page.get_by_role("button", name="Get a quote").click()
    await expect(page.locator("#quote-total")).to_be_visible()
    await page.mouse.move(0, 0)  # no button in its hover colour in the picture


async def shoot(base_url: str, out: Path) -> list[Path]:
    """Photograph every page of the service at `base_url` into `out` (it exists); the files written."""
    written: list[Path] = []
    async with chromium() as browser:
        async with guarded_page(browser, base_url, width=WIDTH, height=HEIGHT) as (page, _):
            await page.goto(base_url + "/")
            written.append(out / "landing.png")
            await page.screenshot(path=str(written[-1]))
            await log_in(page, base_url, "/dashboard", *DEMO_ADMIN)
            await _dashboard_drawn(page)
            written.append(out / "dashboard.png")
            await page.screenshot(path=str(written[-1]), full_page=True)
            await page.goto(base_url + "/dashboard/books")
            await expect(page.locator("#status")).to_contain_text("Updated")
            written.append(out / "books.png")
            await page.screenshot(path=str(written[-1]), full_page=True)
        async with guarded_page(browser, base_url, width=WIDTH, height=HEIGHT) as (page, _):
            await log_in(page, base_url, "/store", *DEMO_USER)
            await expect(page.locator(".product").first).to_be_visible()
            await _quoted(page)
            written.append(out / "store.png")
            await page.screenshot(path=str(written[-1]))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="photograph this running server instead of starting the demo")
    parser.add_argument("--out", type=Path, default=DOCS_IMAGES, help="where the PNG files go (docs/img)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.base_url:
        written = asyncio.run(shoot(args.base_url.rstrip("/"), args.out))
    else:
        with tempfile.TemporaryDirectory(prefix="qs-screenshots-") as home:
            env = cli_env(QUOTE_SERVICE_HOME=home, LOG_LEVEL="WARNING")
            with running_server(env, "--demo") as base_url:
                written = asyncio.run(shoot(base_url, args.out))
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
