"""The store's installments in Chromium against a real `quote-service serve` (docs/pages.md#the-store,
docs/taxes.md#installments): a card's first digits list the ways to pay in parts; choosing one prices
the quote again with it."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.integration.browser import (
    LAYOUT_WIDTHS,
    choices_off_their_words,
    chromium,
    guarded_page,
    needs_chromium,
    set_width,
)
from tests.integration.pages.test_pages_browser import api, base_url, ok, people, product  # noqa: F401
from tests.integration.pages.test_store_browser import Store, card, open_store, store  # noqa: F401

pytestmark = [pytest.mark.slow, needs_chromium]
PLAN = {
    "name": "Cards",
    "bin_prefixes": ["454360"],
    "currency": "TRY",
    "options": [
        {"count": 3, "rate": "0", "funded_by": "platform"},
        {"count": 6, "rate": "10", "funded_by": "customer"},
    ],
}


async def test_a_card_shows_its_installments_and_one_is_chosen(store: Store) -> None:  # noqa: F811 - the fixture
    admin, client, url = store.admin, store.client, store.url
    await product(client, admin, "MUG-1", "Stoneware mug", "100.00", category_id="home")
    await ok(await client.post("/api/v1/installment-plans", json=PLAN, headers=admin.headers), 201)

    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        await open_store(page, url)
        await card(page, "Stoneware mug").get_by_role("button", name="Add to basket").click()
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote-installments .option")).to_have_count(0)
        await page.get_by_label("Card's first digits (for installments)").fill("45436012")
        await page.get_by_role("button", name="Show installments").click()

        options = page.locator("#quote-installments .option")
        await expect(options).to_have_count(2)
        # 100.00 + 18.00 tax + 10.00 delivery = 128.00; with 10 % interest 140.80 in 6
        await expect(options.nth(0)).to_contain_text(
            "3 installments, interest-free: 42.68 TRY + 2 \u00d7 42.66 TRY = 128.00 TRY"
        )
        await expect(options.nth(1)).to_contain_text("6 installments, with interest")
        await expect(options.nth(1)).to_contain_text("140.80 TRY")

        for width in LAYOUT_WIDTHS:  # each radio button on its option's line, left of its words
            await set_width(page, width)
            assert await choices_off_their_words(page) == [], f"at {width}px"
        await page.get_by_label("6 installments", exact=False).check()
        await expect(page.locator("#quote-installments input[value='6']")).to_be_checked()
        await expect(page.locator("#quote .totals")).to_contain_text("128.00 TRY")
