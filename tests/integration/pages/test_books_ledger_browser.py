"""The books page's seller ledger in a real browser (Playwright driving /usr/bin/chromium) against
a real `quote-service serve`: its entries and totals are the API's, More pages with the cursor, and
"Download CSV" saves the API's file for the logged-in admin (whose session cookie the API takes only
with the CSRF header, so the page fetches the file and saves it through a Blob)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from playwright.async_api import expect

from quote_service.config import Settings
from tests.integration.browser import (
    LAYOUT_WIDTHS,
    assert_laid_out,
    chromium,
    figures_as_read,
    guarded_page,
    log_in,
    needs_chromium,
    screenshot_path,
    set_width,
)
from tests.integration.conftest import Caller
from tests.integration.pages.test_dashboard_browser import Served, order, refund
from tests.integration.pages.test_pages_browser import ok, product
from tests.integration.servers import cli_env, running_server

pytestmark = [pytest.mark.slow, needs_chromium]

SELLER = "ledger-7"


@pytest.fixture
async def served(settings: Settings, admin: Caller, shopper: Caller) -> AsyncIterator[Served]:
    """A real server on this test's stores charging a 20 % tax on commission, so every column counts."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(
        DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING", COMMISSION_TAX_RATE="20"
    )
    with running_server(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield Served(base, client, admin, shopper)


AMOUNTS = ("goods", "tax", "platform_contribution", "commission", "commission_tax", "delivery_fees", "payout")


async def test_books_page_shows_the_sellers_ledger_pages_it_and_downloads_its_csv(served: Served) -> None:
    s = served
    mug = await product(s.api, s.admin, "LG-1", "Stoneware mug", "40.00", seller_id=SELLER)
    bowl = await product(s.api, s.admin, "LG-2", "Serving bowl", "100.00", seller_id=SELLER)
    promotion = {
        "name": "Bowls 10 % off (on us)", "kind": "PERCENT_OFF", "config": {"percent": 10},
        "conditions": {"product_ids": [bowl["id"]]}, "funded_by": "platform", "starts_at": "2020-01-01T00:00:00Z",
    }  # fmt: skip
    await ok(await s.api.post("/api/v1/promotions", json=promotion, headers=s.admin.headers), 201)
    await order(s, mug["id"], 1, "lg-1")
    await order(s, mug["id"], 3, "lg-2")
    bowls = await order(s, bowl["id"], 2, "lg-3")
    await refund(s, bowls, bowl["id"], 1, "lg-r1")

    path = f"/api/v1/sellers/{SELLER}/statement"
    statement = await ok(await s.api.get(path, headers=s.admin.headers))
    assert statement["platform_contribution"] != "0.00", "the platform-funded promotion applied"
    assert statement["commission_tax"] != "0.00"
    query = {"from": statement["from"], "to": statement["to"], "tz": statement["tz"], "currency": "TRY"}
    entries = await ok(await s.api.get(f"{path}/entries", params={**query, "limit": 500}, headers=s.admin.headers))
    assert [e["kind"] for e in entries["items"]] == ["order", "order", "order", "refund"]
    file = await s.api.get(f"{path}/entries", params={**query, "format": "csv"}, headers=s.admin.headers)
    assert file.status_code == 200, file.text
    total = next(row for row in csv.DictReader(io.StringIO(file.text)) if row["kind"] == "total")

    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, watch):
        await log_in(page, s.base_url, "/dashboard/books", "admin")
        await page.goto(s.base_url + "/dashboard/books?ledger_limit=3")  # pages of 3: four entries need More
        await expect(page.get_by_label("Seller", exact=True)).to_have_value(SELLER)
        totals = page.locator("#statement-totals")
        for field in ("tax_collected", "tax_refunded", "platform_contribution", "commission_tax", "payout"):
            await expect(totals).to_contain_text(f"{statement[field]} TRY")
        await expect(page.locator("#panel-statement th").last).to_have_text("Payout (TRY)")

        rows = page.locator("#ledger-rows tr.entry")
        await expect(rows).to_have_count(3)
        more = page.get_by_role("button", name="More")
        await expect(more).to_be_visible()
        await more.click()
        await expect(rows).to_have_count(4)
        await expect(more).to_be_hidden()
        for i, entry in enumerate(entries["items"]):
            row = rows.nth(i)
            await expect(row).to_have_attribute("data-id", entry["id"])
            await expect(row.locator("td").nth(1)).to_have_text(entry["kind"])
            await expect(row.locator("td").nth(2)).to_have_text(entry["order_id"])
            await expect(row.locator("td.num")).to_have_text([entry[a] for a in AMOUNTS])
        await expect(rows.nth(3).locator("td.num").first).to_have_text(entries["items"][3]["goods"])
        assert entries["items"][3]["goods"].startswith("-")
        footer = page.locator("#ledger-total tr.sum")
        await expect(footer.locator("th")).to_have_text("Period total")
        await expect(footer.locator("td.num")).to_have_text([total[a] for a in AMOUNTS])
        assert total["payout"] == statement["payout"]
        await expect(page.locator("#panel-ledger thead th").last).to_have_text("Payout (TRY)")

        link = page.get_by_role("link", name="Download CSV")
        href = await link.get_attribute("href")
        assert href is not None
        assert href.startswith(f"{path}/entries?")
        async with page.expect_download() as downloading:
            await link.click()
        download = await downloading.value
        assert download.suggested_filename == f"ledger-{SELLER}-{statement['from']}-{statement['to']}.csv"
        saved = await download.path()
        assert await asyncio.to_thread(Path(saved).read_bytes) == file.content
        # The link names the API's own file: the same seller, period, time zone and currency.
        assert dict(parse_qsl(urlsplit(href).query)) == {**query, "format": "csv"}

        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page)
            await page.locator("#panel-statement").scroll_into_view_if_needed()
            await page.screenshot(path=screenshot_path(f"books-ledger-{width}.png"), full_page=True)

        # A refused period empties the ledger and hides its file rather than leave the last one beside the error.
        watch.expect_console_error("422 (Unprocessable Entity)")
        await page.get_by_label("From", exact=True).fill("2030-01-01")
        await page.get_by_role("button", name="Show").click()
        await expect(page.locator("#message")).to_contain_text("from must not be after to")
        await expect(page.locator("#ledger-rows")).to_have_text("No ledger: the statement was refused.")
        await expect(link).to_be_hidden()
        await expect(page.locator("#ledger-total tr")).to_have_count(0)


@pytest.mark.long
async def test_choosing_another_seller_shows_its_figures_without_pressing_show(served: Served) -> None:
    s = served
    mug = await product(s.api, s.admin, "LG-1", "Stoneware mug", "40.00", seller_id=SELLER)
    lamp = await product(s.api, s.admin, "OT-1", "Desk lamp", "250.00", seller_id="other-3")
    await order(s, mug["id"], 1, "sw-1")
    lamps = await order(s, lamp["id"], 2, "sw-2")

    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, _):
        await log_in(page, s.base_url, "/dashboard/books", "admin")
        seller = page.get_by_label("Seller", exact=True)
        totals = page.locator("#statement-totals")
        await expect(seller).to_have_value("ledger-7")
        await expect(totals).to_contain_text("40.00 TRY")
        async with page.expect_response(lambda answer: "/sellers/other-3/statement?" in answer.url) as answered:
            await seller.select_option("other-3")
        other = (await (await answered.value).json())["data"]
        assert (other["orders"], other["gross_sales"]) == (1, "500.00")
        await expect(totals).to_contain_text("500.00 TRY")
        shown = await figures_as_read(page, "#statement-totals")
        assert (shown["Orders"], shown["Gross sales"], shown["Payout"]) == ("1", "500.00 TRY", f"{other['payout']} TRY")
        await expect(page.locator("#ledger-rows tr.entry")).to_have_count(1)
        await expect(page.locator("#ledger-rows tr.entry td").nth(2)).to_have_text(lamps["id"])
