"""Offers on the pages, in Chromium against a real `quote-service serve` (docs/offers.md, docs/pages.md): the
store's "Other sellers", on the cards of products other sellers offer only, lists a product's sellers by
landed price and the shopper's pick sells the quote's line; the /seller page lists the seller's own offers
by their products' names and SKUs and saves a price and stock."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from quote_service.config import Settings
from tests.integration.browser import chromium, guarded_page, log_in, needs_chromium
from tests.integration.conftest import Caller, make_caller
from tests.integration.pages.test_governance_browser import serving
from tests.integration.pages.test_pages_browser import api, base_url, ok, people, product  # noqa: F401
from tests.integration.pages.test_store_browser import Store, card, open_store, store  # noqa: F401

pytestmark = [pytest.mark.slow, needs_chromium]


async def test_the_store_lists_other_sellers_by_landed_price_and_the_pick_sells_the_line(store: Store) -> None:  # noqa: F811 - the fixture
    admin, client, url = store.admin, store.client, store.url
    mug = await product(client, admin, "MUG-1", "Stoneware mug", "40.00", category_id="home")
    await product(client, admin, "BOWL-1", "Stoneware bowl", "30.00", category_id="home")  # nobody else sells it
    offer = {"product_id": mug["id"], "seller_id": "s2", "current_price": "35.00", "stock": 5}
    await ok(await client.post("/api/v1/offers", json=offer, headers=admin.headers), 201)
    dear = {"product_id": mug["id"], "seller_id": "s3", "current_price": "45.00", "stock": 5, "condition": "used"}
    await ok(await client.post("/api/v1/offers", json=dear, headers=admin.headers), 201)

    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        asked: list[str] = []  # the offers the page asked for: none until a shopper asks
        page.on("request", lambda request: asked.append(request.url) if "/offers" in request.url else None)
        await open_store(page, url)
        bowl = card(page, "Stoneware bowl")
        await expect(bowl.get_by_role("button", name="Add to basket")).to_be_visible()  # the card is drawn
        await expect(bowl.get_by_role("button", name="Other sellers")).to_have_count(0)
        await expect(bowl.locator(".sellers")).to_have_count(0)
        mine = card(page, "Stoneware mug")
        assert asked == []
        await mine.get_by_role("button", name="Other sellers").click()
        sellers = mine.locator(".other-sellers li")
        await expect(sellers).to_have_count(3)
        await expect(sellers.nth(0)).to_have_attribute("data-seller", "s2")  # 35 + 10 delivery first
        await expect(sellers.nth(2)).to_contain_text("s3 (used)")
        await mine.get_by_role("button", name="Add to basket").click()
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote")).to_contain_text("35.00")

        await sellers.nth(1).get_by_role("button", name="Pick").click()  # s1, the product's own
        await expect(mine.locator(".message")).to_contain_text("Sold by s1")
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote")).to_contain_text("40.00")


async def test_a_seller_lists_and_edits_its_own_offers_on_its_page(
    settings: Settings, admin: Caller, password_hash: str
) -> None:
    seller = await make_caller(settings, password_hash, "cappadocia", "seller", seller_id="s2")
    async with serving(settings) as (url, http):
        lamp = await product(http, admin, "S1-LAMP", "Desk Lamp", "99.00")
        body = {"product_id": lamp["id"], "current_price": "95.00", "stock": 4}
        mine = await ok(await http.post("/api/v1/offers", json=body, headers=seller.headers), 201)
        assert (mine["product_sku"], mine["product_name"]) == ("S1-LAMP", "Desk Lamp")
        other = {"product_id": lamp["id"], "seller_id": "s3", "current_price": "97.00", "stock": 4}
        await ok(await http.post("/api/v1/offers", json=other, headers=admin.headers), 201)

        async with chromium() as browser, guarded_page(browser, url) as (page, _):
            await log_in(page, url, "/seller", "cappadocia")
            rows = page.locator("#offer-rows tr.offer")
            await expect(rows).to_have_count(1)
            named = rows.first.locator("td").first  # the product by its name and SKU, its id a tooltip
            await expect(named).to_have_text("Desk Lamp S1-LAMP")
            await expect(named).to_have_attribute("title", re.compile(lamp["id"]))
            await page.get_by_label(f"Price of offer {mine['id']}").fill("93.00")
            await page.get_by_label(f"Stock of offer {mine['id']}").fill("9")
            await rows.first.get_by_role("button", name="Save").click()
            await expect(page.locator("#message")).to_have_text("Your offer of S1-LAMP saved.")
        shown = await ok(await http.get(f"/api/v1/offers/{mine['id']}", headers=admin.headers))
        assert (shown["current_price"], shown["stock"]) == ("93.00", 9)


async def test_picking_another_seller_reprices_the_basket_line_and_the_quote_names_its_offer(store: Store) -> None:  # noqa: F811 - the fixture
    """The basket counted the price the card showed whoever was picked (the default offer's): a pick
    now moves the line to that seller's price, before or after the product is in the basket."""
    admin, client, url = store.admin, store.client, store.url
    kettle = await product(client, admin, "KETTLE-1", "Steel kettle", "40.00", category_id="home")
    body = {"product_id": kettle["id"], "seller_id": "s3", "current_price": "45.00", "stock": 5, "condition": "used"}
    used = await ok(await client.post("/api/v1/offers", json=body, headers=admin.headers), 201)

    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        sent: list[dict[str, object]] = []  # the items of every quote the page asked for
        page.on(
            "request",
            lambda request: sent.append(request.post_data_json["items"][0]) if request.url.endswith("/quote") else None,
        )
        await open_store(page, url)
        mine = card(page, "Steel kettle")
        await mine.get_by_role("button", name="Add to basket").click()
        line = page.locator(".basket-line")
        await expect(line.locator(".amount")).to_have_text("40.00 TRY")
        await mine.get_by_role("button", name="Other sellers").click()
        sellers = mine.locator(".other-sellers li")
        await expect(sellers).to_have_count(2)

        await mine.locator(".other-sellers li[data-seller='s3']").get_by_role("button", name="Pick").click()
        await expect(line.locator(".amount")).to_have_text("45.00 TRY")
        await expect(line).to_contain_text("from s3")
        await expect(page.locator("#basket-goods")).to_have_text("45.00 TRY")
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote")).to_contain_text("45.00")
        assert sent[-1] == {"product_id": kettle["id"], "quantity": 1, "offer_id": used["id"]}

        await page.get_by_role("button", name="Remove Steel kettle").click()
        await mine.get_by_role("button", name="Add to basket").click()  # added after the pick: its price too
        await expect(line.locator(".amount")).to_have_text("45.00 TRY")

        await mine.locator(".other-sellers li[data-seller='s1']").get_by_role("button", name="Pick").click()
        await expect(line.locator(".amount")).to_have_text("40.00 TRY")
        await expect(line).to_contain_text("from s1")
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote")).to_contain_text("40.00")
        assert sent[-1] == {"product_id": kettle["id"], "quantity": 1, "seller_id": "s1"}
