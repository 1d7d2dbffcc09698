"""The store's parcels in Chromium against a real `quote-service serve` (docs/pages.md#the-store,
docs/shipping.md): each seller's parcel with its delivery options, the "add X more" hint, and a
choice of option that prices the quote again."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.integration.browser import (
    LAYOUT_WIDTHS,
    choices_off_their_words,
    chromium,
    guarded_page,
    needs_chromium,
    screenshot_path,
    set_width,
)
from tests.integration.pages.test_pages_browser import api, base_url, ok, people, product  # noqa: F401
from tests.integration.pages.test_store_browser import Store, card, open_store, store  # noqa: F401

pytestmark = [pytest.mark.slow, needs_chromium]
PROFILE = {
    "seller_id": "s1",
    "currency": "TRY",
    "options": [
        {"code": "standard", "name": "Standard", "base_fee": "4.90", "eta_days_min": 2, "eta_days_max": 4,
         "free_above": "100.00"},
        {"code": "express", "name": "Express", "base_fee": "9.90", "eta_days_min": 1, "eta_days_max": 1,
         "express": True},
    ],
}  # fmt: skip


async def test_the_quote_shows_each_sellers_parcel_its_options_and_what_makes_it_free(store: Store) -> None:  # noqa: F811 - the fixture
    admin, client, url = store.admin, store.client, store.url
    await product(client, admin, "MUG-1", "Stoneware mug", "40.00", category_id="home")
    await product(client, admin, "LAMP-1", "Desk lamp", "60.00", category_id="home", seller_id="s2")
    await ok(await client.post("/api/v1/shipping-profiles", json=PROFILE, headers=admin.headers), 201)

    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        await open_store(page, url)
        for name in ("Stoneware mug", "Desk lamp"):
            await card(page, name).get_by_role("button", name="Add to basket").click()
        await page.get_by_role("button", name="Get a quote").click()

        parcels = page.locator("#quote-parcels .parcel")
        await expect(parcels).to_have_count(2)
        mine = page.locator("#quote-parcels .parcel[data-seller='s1']")
        await expect(mine.locator("h4")).to_have_text("Parcel from s1")
        await expect(mine.locator(".free-hint")).to_have_text("Add 60.00 TRY more from s1 for free delivery.")
        await expect(mine.get_by_label("Standard: 4.90 TRY, 2\u20134 days")).to_be_checked()
        theirs = page.locator("#quote-parcels .parcel[data-seller='s2']")
        await expect(theirs).to_contain_text("Delivery 10.00 TRY")  # no profile: the delivery rules' fee
        await expect(page.locator("#quote .totals")).to_contain_text("14.90 TRY")

        for width in LAYOUT_WIDTHS:  # each radio button on its option's line, left of its words
            await set_width(page, width)
            await page.locator("#quote-parcels").screenshot(path=screenshot_path(f"store-parcels-{width}.png"))
            assert await choices_off_their_words(page) == [], f"at {width}px"
        await mine.get_by_label("Express: 9.90 TRY, 1 day").check()
        await expect(page.locator("#quote .totals")).to_contain_text("19.90 TRY")
        await expect(
            page.locator("#quote-parcels .parcel[data-seller='s1']").get_by_label("Express: 9.90 TRY, 1 day")
        ).to_be_checked()
