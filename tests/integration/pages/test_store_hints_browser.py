"""The store's steps to a better total and its quantity rules in Chromium against a real `quote-service
serve` (docs/pages.md#the-store, docs/promotions.md#hints, docs/pricing.md#quantity-rules): the hints
under the basket, cheapest first, and a quantity the rules refuse in words next to the quote."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.integration.browser import chromium, guarded_page, needs_chromium
from tests.integration.pages.test_pages_browser import api, base_url, ok, people, product  # noqa: F401
from tests.integration.pages.test_store_browser import Store, card, open_store, percent_off_from_100, store  # noqa: F401
from tests.integration.pages.test_store_parcels_browser import PROFILE

pytestmark = [pytest.mark.slow, needs_chromium]


async def test_the_basket_shows_the_next_cheapest_steps_and_a_refused_quantity_in_words(store: Store) -> None:  # noqa: F811 - the fixture
    admin, client, url = store.admin, store.client, store.url
    await product(client, admin, "MUG-1", "Stoneware mug", "40.00", category_id="home")
    await product(client, admin, "PEN-1", "Fountain pen", "30.00", quantity_rules={"min_qty": 2, "step": 2})
    await ok(await client.post("/api/v1/shipping-profiles", json=PROFILE, headers=admin.headers), 201)
    await percent_off_from_100(client, admin, "10")

    async with chromium() as browser, guarded_page(browser, url) as (page, watch):
        watch.expect_console_error("the server responded with a status of 422")
        await open_store(page, url)
        await card(page, "Stoneware mug").get_by_role("button", name="Add to basket").click()
        await page.get_by_role("button", name="Get a quote").click()

        hints = page.locator("#basket-hints .hint")
        await expect(hints).to_have_count(2)
        # 60.00 more reaches both 100.00 thresholds: the promotion's 10 % (of 100.00) and s1's free delivery
        await expect(hints.nth(0)).to_have_text("Add 60.00 TRY for 10 % off: you save 10.00 TRY")
        await expect(hints.nth(1)).to_have_text("Add 60.00 TRY from seller s1 for free delivery: you save 4.90 TRY")

        await card(page, "Fountain pen").get_by_role("button", name="Add to basket").click()
        await expect(page.locator("#basket-hints")).to_be_hidden()  # the basket changed: its quote is gone
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote-message")).to_have_text(
            "No quote: Fountain pen: must be at least 2: change the quantity, then ask again."
        )
