"""The seller page (/seller) in a real browser (Playwright driving /usr/bin/chromium) against a real
`quote-service serve`: a seller sees its own products only, saves a price and stock, and a big price
jump waits for the platform's approval (docs/sellers.md)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from playwright.async_api import Route, expect

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
from tests.integration.conftest import Caller, make_caller
from tests.integration.pages.test_dashboard_browser import Served, order
from tests.integration.pages.test_governance_browser import serving
from tests.integration.pages.test_pages_browser import ok, product
from tests.integration.shipping.test_shipping_profiles_api import option, profile_body

pytestmark = [pytest.mark.slow, needs_chromium]
MINUS = "\N{MINUS SIGN}"
STATEMENT_PARTS = (
    ("Gross sales", "gross_sales"),
    (f"{MINUS} Refunds", "refunds"),
    ("+ Tax collected", "tax_collected"),
    (f"{MINUS} Tax refunded", "tax_refunded"),
    ("+ Platform contribution", "platform_contribution"),
    (f"{MINUS} Platform contribution reversed", "platform_contribution_reversed"),
    (f"{MINUS} Net commission", "net_commission"),
    (f"{MINUS} Commission tax", "commission_tax"),
    ("+ Delivery fees", "delivery_fees"),
    ("= Payout", "payout"),
)
"""The statement panel's terms (each with the sign it counts with in the payout) and the statement's figures."""


async def test_a_seller_edits_its_own_prices_and_stock_on_its_page(
    settings: Settings, admin: Caller, password_hash: str
) -> None:
    seller = await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="s1")
    async with serving(settings) as (base_url, api):
        mine = await product(api, admin, "S1-CASE", "Phone Case", "25.50")
        theirs = await product(api, admin, "S2-LAMP", "Desk Lamp", "99.00")
        await ok(await api.patch(f"/api/v1/products/{theirs['id']}", json={"seller_id": "s2"}, headers=admin.headers))
        promotion = {"name": "Cases 10 % off", "kind": "PERCENT_OFF", "config": {"percent": "10"},
                     "conditions": {"product_ids": [mine["id"]]}, "starts_at": "2025-01-01T00:00:00Z"}  # fmt: skip
        await ok(await api.post("/api/v1/promotions", json=promotion, headers=seller.headers), 201)

        async with chromium() as browser, guarded_page(browser, base_url) as (page, _):
            await log_in(page, base_url, "/seller", "bosphorus")
            await expect(page.locator("#status")).to_contain_text("Acting for s1")
            rows = page.locator("#product-rows tr.product")
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("S1-CASE")
            await expect(page.locator("#promotion-rows")).to_contain_text("Cases 10 % off")
            await expect(page.locator("#statement-totals")).to_contain_text("Payout")
            for width in LAYOUT_WIDTHS:
                await set_width(page, width)
                await assert_laid_out(page)

            # The rows are drawn again after a save; held here, as a slow answer holds it: the row's Save
            # waits meanwhile and nothing is said yet (a second Save from the row as first drawn would send
            # its stock change, 50 -> 55, again: 60).
            redrawn = asyncio.Event()
            stock_writes: list[str] = []
            page.on("request", lambda r: stock_writes.append(r.url) if r.url.endswith("/stock") else None)

            async def held(route: Route) -> None:
                await redrawn.wait()
                await route.fallback()

            await page.route("**/api/v1/products?limit=500", held)
            save = rows.first.get_by_role("button", name="Save")
            await page.get_by_label("Price of S1-CASE").fill("24.00")
            await page.get_by_label("Stock of S1-CASE").fill("55")
            await save.click()
            await expect(save).to_be_disabled()
            await save.dblclick(force=True)  # a disabled button takes no click
            await expect(page.locator("#message")).to_be_empty()
            redrawn.set()
            await expect(page.locator("#message")).to_contain_text("S1-CASE saved")
            # Said once the row is drawn again: what it shows is what the API has.
            await expect(page.get_by_label("Price of S1-CASE")).to_have_value("24.00")
            await expect(page.get_by_label("Stock of S1-CASE")).to_have_value("55")
            shown = await ok(await api.get(f"/api/v1/products/{mine['id']}", headers=admin.headers))
            assert (Decimal(shown["current_price"]), shown["stock"]) == (Decimal("24.00"), 55)
            assert len(stock_writes) == 1, stock_writes

            # Acting as soon as it is said: the row is the redrawn one, the stock is not sent again.
            await page.get_by_label("Price of S1-CASE").fill("48.00")
            await save.click()
            await expect(page.locator("#message")).to_contain_text("waits for the platform's approval")
            await expect(page.get_by_label("Price of S1-CASE")).to_have_value("24.00")  # the price until approved
            shown = await ok(await api.get(f"/api/v1/products/{mine['id']}", headers=admin.headers))
            assert (Decimal(shown["current_price"]), shown["stock"]) == (Decimal("24.00"), 55)
            assert len(stock_writes) == 1, stock_writes


@pytest.mark.long
async def test_the_statement_shows_every_part_of_the_payout_under_its_own_label_at_every_width(
    settings: Settings, admin: Caller, shopper: Caller, password_hash: str
) -> None:
    await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="s1")
    async with serving(settings) as (base_url, api):
        s = Served(base_url, api, admin, shopper)
        # Its parcels cost 4.90 each: the statement has delivery fees, and a refund gives one back.
        profile = profile_body(seller_id="s1", options=[option("standard")])
        await ok(await api.post("/api/v1/shipping-profiles", json=profile, headers=admin.headers), 201)
        mug = await product(api, admin, "S1-MUG", "Stoneware mug", "40.00")
        await order(s, mug["id"], 2, "seller-page-1")
        second = await order(s, mug["id"], 1, "seller-page-2")
        body = {"lines": [{"product_id": mug["id"], "quantity": 1}], "include_fees": True}
        headers = {**admin.headers, "Idempotency-Key": "seller-page-r1"}
        await ok(await api.post(f"/api/v1/orders/{second['id']}/refunds", json=body, headers=headers), 201)

        async with chromium() as browser, guarded_page(browser, base_url) as (page, _):
            async with page.expect_response(lambda answer: "/statement?" in answer.url) as answered:
                await log_in(page, base_url, "/seller", "bosphorus")
            statement = (await (await answered.value).json())["data"]
            assert (statement["orders"], statement["delivery_fees"]) == (2, "4.90")
            expected = {"Orders": "2", **{term: f"{statement[field]} TRY" for term, field in STATEMENT_PARTS}}
            await expect(page.locator("#statement-totals")).to_contain_text(expected["= Payout"])
            for width in LAYOUT_WIDTHS:
                await set_width(page, width)
                await page.screenshot(path=screenshot_path(f"seller-page-{width}.png"), full_page=True)
                shown = await figures_as_read(page, "#statement-totals")
                assert shown == expected, f"at {width}px"
            # What the page shows adds up: each part under its sign, to the payout it ends with.
            amounts = {
                term: Decimal(str(value).removesuffix(" TRY")) for term, value in shown.items() if term != "Orders"
            }
            parts = sum(
                (-v if t.startswith(MINUS) else v for t, v in amounts.items() if not t.startswith("=")), Decimal(0)
            )
            assert parts == amounts["= Payout"], amounts
