"""The store's checkout holds the basket's stock (docs/reservations.md), in a real browser.

Opening the checkout quotes with `reserve_stock`: the page says until when the items are held
and the product's `reserved` units rise; leaving the checkout releases them; checking out again
and ordering consumes the hold. Another shopper's checkout is refused while the units are held.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.integration.browser import chromium, log_in, needs_chromium
from tests.integration.conftest import Caller
from tests.integration.pages.test_pages_browser import api, base_url, ok, people, product  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, needs_chromium]
TIMEOUT_MS = 20_000


async def held(client: httpx.AsyncClient, admin: Caller, lamp: dict[str, Any]) -> tuple[int, int, int]:
    """(stock, reserved, available) of the product, as GET /products/{id} shows them."""
    data = await ok(await client.get(f"/api/v1/products/{lamp['id']}", headers=admin.headers))
    return data["stock"], data["reserved"], data["available"]


async def test_opening_the_checkout_holds_the_basket_and_leaving_releases_it(
    base_url: str,  # noqa: F811 - the fixture
    people: tuple[Caller, Caller],  # noqa: F811 - the fixture
    api: httpx.AsyncClient,  # noqa: F811 - the fixture
) -> None:
    admin, shopper = people
    lamp = await product(api, admin, "LM-1", "Lamp", "80.00", stock=3)
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        await log_in(page, base_url, "/store", "ayse")
        await page.locator(".product[data-name='Lamp'] input.qty").fill("2")
        await page.locator(".product[data-name='Lamp'] button.add").click()
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote-total")).to_be_visible()
        assert await held(api, admin, lamp) == (3, 0, 3)  # a quote alone holds nothing

        await page.get_by_role("button", name="Go to checkout").click()
        await expect(page.locator("#reservation")).to_contain_text("Held until")
        await expect(page.locator("#reservation")).to_contain_text("2 \u00d7 Lamp")
        assert await held(api, admin, lamp) == (3, 2, 1)
        other = {
            "customer_id": "someone-else",
            "currency": "TRY",
            "reserve_stock": True,
            "delivery_address": {"city": "Istanbul", "country": "TR"},
            "items": [{"product_id": lamp["id"], "quantity": 2}],
        }
        refused = await api.post("/api/v1/quote", json=other, headers=admin.headers)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "INSUFFICIENT_STOCK"

        await page.get_by_role("button", name="Leave the checkout").click()
        await expect(page.locator("#quote-message")).to_contain_text("released")
        await expect(page.locator("#reservation")).to_be_hidden()
        assert await held(api, admin, lamp) == (3, 0, 3)

        await page.get_by_role("button", name="Go to checkout").click()
        await expect(page.locator("#reservation")).to_contain_text("Held until")
        await page.get_by_role("button", name="Place the order").click()
        await expect(page.locator("#quote-message")).to_contain_text("order placed")
        assert await held(api, admin, lamp) == (1, 0, 1)
        orders = await ok(await api.get("/api/v1/orders", headers=shopper.headers))
        assert [line["quantity"] for line in orders["items"][0]["items"]] == [2]
