"""The shopper's store in Chromium (Playwright, /usr/bin/chromium) against a real `quote-service
serve` process (docs/pages.md#the-store).

Every page here is guarded (tests/integration/browser.py): a console error, an uncaught
exception or a request to another host fails the test; only the refusals a test provokes on
purpose (Chromium logs each 409 a fetch gets as "Failed to load resource") are expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from quote_service.cli.generate import generate
from quote_service.clock import utcnow
from tests.integration.browser import (
    LAYOUT_WIDTHS,
    assert_laid_out,
    chromium,
    guard,
    guarded_page,
    log_in,
    needs_chromium,
    screenshot_path,
    set_width,
)
from tests.integration.conftest import PASSWORD, Caller
from tests.integration.flash import at
from tests.integration.pages.test_pages_browser import api, base_url, no_token_in_urls, ok, people, product  # noqa: F401
from tests.waiting import until

pytestmark = [pytest.mark.slow, needs_chromium]
People = tuple[Caller, Caller]
X, MINUS = "\u00d7", "\u2212"  # the page's multiplication and minus signs: "2 x Lamp", "-18.40"
Api = httpx.AsyncClient


@dataclass
class Store:
    """A running service with an admin and a shopper (ayse), and an HTTP client to call it."""

    url: str
    admin: Caller
    shopper: Caller
    client: Api


@pytest.fixture
def store(base_url: str, people: People, api: Api) -> Store:  # noqa: F811 - the fixtures
    return Store(url=base_url, admin=people[0], shopper=people[1], client=api)


async def open_store(page: Page, base_url: str) -> None:  # noqa: F811 - a URL, not the fixture
    """Log in as the shopper through the store's form and wait for the first products."""
    await log_in(page, base_url, "/store", "ayse")
    await expect(page.locator("#products-status")).to_have_text(re.compile(r"^(\d+ products?\b|No products)"))


async def in_view(page: Page, selector: str) -> bool:
    """Whether the element's whole box is inside the window, as the window is scrolled now."""
    box = await page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box is not None
    assert size is not None
    fits_down = box["y"] >= 0 and box["y"] + box["height"] <= size["height"]
    return fits_down and box["x"] >= 0 and box["x"] + box["width"] <= size["width"]


async def top(locator: Any) -> float:
    """Where the element's box starts, from the top of the page as it is scrolled now."""
    box = await locator.bounding_box()
    assert box is not None
    return float(box["y"])


async def stock_of(client: Api, admin: Caller, item: dict[str, Any]) -> tuple[int, int]:
    """(stock, reserved) of a product, as GET /products/{id} gives them."""
    data = await ok(await client.get(f"/api/v1/products/{item['id']}", headers=admin.headers))
    return data["stock"], data["reserved"]


async def card_names(page: Page) -> list[str]:
    names: list[str] = await page.locator(".product").evaluate_all("cards => cards.map(c => c.dataset.name)")
    return names


def card(page: Page, name: str) -> Any:
    return page.locator(f".product[data-name='{name}']")


async def percent_off_from_100(client: Api, admin: Caller, percent: str) -> None:
    """A promotion: `percent` % off every TRY basket from 100.00."""
    promotion = {
        "name": f"{percent} % off from 100.00",
        "kind": "PERCENT_OFF",
        "config": {"percent": percent},
        "conditions": {"currency": "TRY", "min_subtotal": "100.00"},
        "starts_at": at(-60),
    }
    await ok(await client.post("/api/v1/promotions", json=promotion, headers=admin.headers), 201)


async def order_by_api(client: Api, shopper: Caller, item: dict[str, Any], quantity: int) -> None:
    """The shopper's order of `quantity` units of `item`, quoted and placed through the API."""
    basket = {
        "customer_id": str(shopper.id),
        "currency": "TRY",
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "items": [{"product_id": item["id"], "quantity": quantity}],
    }
    quote = await ok(await client.post("/api/v1/quote", json=basket, headers=shopper.headers))
    headers = {**shopper.headers, "Idempotency-Key": f"order-{quote['quote_id']}"}
    await ok(await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers), 201)


# --- the catalog -------------------------------------------------------------------------------


@pytest.mark.long
async def test_the_real_catalog_comes_first_then_search_filter_and_more(store: Store, pool: asyncpg.Pool) -> None:
    admin, client, url = store.admin, store.client, store.url
    # As `make run` does it: the generated history's 20 products are older than the real catalog.
    await generate(pool, products=20, days=1, quotes_per_day=5, seed=7, now=utcnow(), progress=False)
    real = [("Snow", "books"), ("Atlas of the World", "books"), ("Desk Lamp", "home"), ("Tea Glass Set", "home")]
    real += [("Wireless Mouse", "electronics"), ("USB-C Charger", "electronics")]
    for i, (name, category) in enumerate(real):
        await product(client, admin, f"REAL-{i}", name, "50.00", category_id=category)
    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        await open_store(page, url)
        names = await card_names(page)
        # The real catalog first, by category and name; then the generated products.
        assert names[:6] == [
            "Atlas of the World",
            "Snow",
            "USB-C Charger",
            "Wireless Mouse",
            "Desk Lamp",
            "Tea Glass Set",
        ]
        assert len(names) == 24
        assert all(name.startswith("Generated product") for name in names[6:])
        await expect(page.locator("#products-status")).to_have_text("24 products, more below.")
        # The filter lists every category, also those past the first page.
        await expect(page.locator("#category option")).to_have_text(["All", "books", "cat-000", "electronics", "home"])
        for width in LAYOUT_WIDTHS:
            await set_width(page, width, 800)
            await assert_laid_out(page)

        await page.get_by_role("button", name="Show more products").click()
        await expect(page.locator(".product")).to_have_count(26)
        await expect(page.get_by_role("button", name="Show more products")).to_be_hidden()
        await expect(page.locator("#products-status")).to_have_text("26 products.")

        await page.get_by_label("Search").fill("lamp")
        await page.get_by_role("button", name="Search").click()
        await expect(page.locator(".product")).to_have_count(1)
        await expect(page.locator("#products-status")).to_have_text("1 product matching “lamp”.")
        await page.get_by_label("Search").fill("")
        await page.get_by_label("Category").select_option("books")
        await expect(page.locator(".product")).to_have_count(2)
        assert await card_names(page) == ["Atlas of the World", "Snow"]
        await page.get_by_label("Search").fill("nothing like this")
        await page.get_by_role("button", name="Search").click()
        await expect(page.locator("#products-status")).to_have_text("No products match “nothing like this” in books.")


# --- basket and quote in view --------------------------------------------------------------------


@pytest.mark.long
async def test_the_basket_and_quote_stay_in_view_while_the_catalog_scrolls(
    store: Store,
) -> None:
    admin, client, url = store.admin, store.client, store.url
    for i in range(30):
        await product(client, admin, f"P-{i:02d}", f"Product {i:02d}", "40.00", category_id="home")
    long_name = "Woven Anatolian kilim cushion cover with tassels, in the large size, madder red"  # sorts last
    await product(client, admin, "LONG-1", long_name, "65.00", category_id="home")
    async with chromium() as browser:
        for width in LAYOUT_WIDTHS:
            async with guarded_page(browser, url, width=width, height=800) as (page, _):
                await open_store(page, url)
                await page.get_by_role("button", name="Show more products").click()
                last = card(page, long_name)
                await last.scroll_into_view_if_needed()
                await last.get_by_role("button", name="Add to basket").click()
                await expect(last.locator(".message")).to_have_text("Added to the basket: 1 in it now.")
                await expect(page.locator(".basket-line")).to_have_count(1)
                assert await page.evaluate("window.scrollY") > 500, "the product was far down the catalog"
                assert await in_view(page, "#basket-panel"), f"basket out of view at {width}px"
                await page.get_by_role("button", name="Get a quote").click()
                await expect(page.locator("#quote-total")).to_be_visible()
                for part in ("#quote-panel h2", "#quote-total", "#place-order", "#quote-message"):
                    assert await in_view(page, part), f"{part} out of view at {width}px"
                await assert_laid_out(page)


@pytest.mark.long
async def test_the_quotes_total_and_checkout_are_in_the_first_screen(store: Store) -> None:
    """On a laptop (1280 x 800) and a full-HD screen, the total and "Go to checkout" show without
    scrolling: after a quote of four products with a promotion and two coupons (one refused),
    and of ten products."""
    admin, client, url = store.admin, store.client, store.url
    names = [f"Item {n:02d}" for n in range(10)]
    for n, name in enumerate(names):
        await product(client, admin, f"IT-{n}", name, "60.00", category_id="home")
    welcome = {"code": "WELCOME10", "type": "PERCENTAGE", "value": "10", "currency": "TRY", "valid_from": at(-60)}
    await ok(await client.post("/api/v1/coupons", json=welcome, headers=admin.headers), 201)
    await percent_off_from_100(client, admin, "5")
    async with chromium() as browser:
        for width, height in ((1280, 800), (1920, 1080)):
            async with guarded_page(browser, url, width=width, height=height) as (page, _):
                await open_store(page, url)
                for count in (4, 10):
                    for name in names[:count]:
                        if not await page.locator(".basket-line", has_text=name).count():
                            await card(page, name).get_by_role("button", name="Add to basket").click()
                    await expect(page.locator(".basket-line")).to_have_count(count)
                    await page.get_by_label("Coupon codes").fill("WELCOME10, NOPE")
                    await page.get_by_role("button", name="Get a quote").click()
                    await expect(page.locator("#quote .coupon-rejected")).to_be_visible()
                    await expect(page.locator("#quote tr.promotion")).to_be_visible()
                    # The column stays where the catalog's scrolling leaves it (sticky), unscrolled itself.
                    assert await page.evaluate("document.querySelector('.store-side').scrollTop") == 0
                    for part in ("#quote-total", "#checkout"):
                        assert await in_view(page, part), f"{part} below the fold at {width}x{height}, {count} lines"
                await assert_laid_out(page)


# --- quote, checkout, order, cancel ----------------------------------------------------------------


async def test_a_quote_shows_price_list_and_promotion_lines_then_checkout_order_and_cancel(
    store: Store,
) -> None:
    admin, shopper, client, url = store.admin, store.shopper, store.client, store.url
    lamp = await product(client, admin, "LAMP-1", "Desk Lamp", "80.00", category_id="home", stock=5)
    mug = await product(client, admin, "MUG-1", "Mug", "30.00", category_id="home")
    members = {"name": "Members", "currency": "TRY", "prices": [{"product_id": mug["id"], "amount": "24.00"}]}
    await ok(await client.post("/api/v1/price-lists", json=members, headers=admin.headers), 201)
    await percent_off_from_100(client, admin, "10")
    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        await open_store(page, url)
        session = {c["name"]: c for c in await page.context.cookies()}["qs_session"]
        assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
        no_token_in_urls(await page.content(), session["value"])
        await card(page, "Desk Lamp").locator("input.qty").fill("2")
        await card(page, "Desk Lamp").get_by_role("button", name="Add to basket").click()
        # The card's message sits above its quantity and button, which stay level across the row.
        await expect(card(page, "Desk Lamp").locator(".message")).to_have_text("Added to the basket: 2 in it now.")
        lamp_buy, mug_buy = (
            await top(card(page, "Desk Lamp").locator(".buy")),
            await top(card(page, "Mug").locator(".buy")),
        )
        assert abs(lamp_buy - mug_buy) < 1, (lamp_buy, mug_buy)
        await card(page, "Mug").get_by_role("button", name="Add to basket").click()
        # At list prices, the price list's where one applies, as the quote starts: 2 x 80.00 + 24.00.
        await expect(page.locator("#basket-goods")).to_have_text("184.00 TRY")
        await page.get_by_label("Coupon codes").fill("NOPE")
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote .coupon-rejected")).to_have_text("NOPE not applied: no such coupon")

        # The breakdown: the price list's line and the promotion, as the API prices the same basket.
        body = {
            "customer_id": str(shopper.id),
            "currency": "TRY",
            "delivery_address": {"city": "Istanbul", "country": "TR"},
            "coupon_codes": ["NOPE"],
            "items": [{"product_id": lamp["id"], "quantity": 2}, {"product_id": mug["id"], "quantity": 1}],
        }
        priced = await ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
        [promoted] = priced["applied_promotions"]
        await expect(page.locator("#quote-total")).to_have_attribute("data-amount", priced["total_amount"])
        await expect(page.locator("#quote-lines tr", has_text="Mug")).to_contain_text("your price list")
        await expect(page.locator("#quote-lines tr", has_text="Mug")).to_contain_text("24.00")
        promotion_row = f"Promotion: 10 % off from 100.00{MINUS}{promoted['amount']} TRY"
        await expect(page.locator("#quote tr.promotion")).to_have_text(promotion_row)

        # Checkout holds the basket: what, until when, counting down.
        await page.get_by_role("button", name="Go to checkout").click()
        hold = page.locator("#reservation")
        await expect(hold).to_contain_text(f"Held for you: 2 {X} Desk Lamp, 1 {X} Mug")
        await expect(hold.locator(".countdown")).to_have_text(re.compile(r"^1[45]m \d+s$"))
        assert await stock_of(client, admin, lamp) == (5, 2)

        await page.get_by_role("button", name="Place the order").click()
        await expect(page.locator("#quote-message")).to_contain_text("order placed")
        await expect(page.locator(".basket-line")).to_have_count(0)
        assert await stock_of(client, admin, lamp) == (3, 0)  # the hold became the order
        placed = page.locator("#orders .order[data-status='confirmed']")
        await expect(placed).to_contain_text("3 items")
        await expect(placed).to_contain_text("until")
        [order] = (await ok(await client.get("/api/v1/orders", headers=shopper.headers)))["items"]
        await expect(placed).to_contain_text(f"{order['total_amount']} TRY")

        await placed.get_by_role("button", name=re.compile("^Cancel the order")).click()
        cancelled = page.locator("#orders .order[data-status='cancelled']")
        await expect(cancelled.locator(".message")).to_have_text(
            f"Order cancelled: {order['total_amount']} TRY will be refunded."
        )
        await expect(page.locator("#orders button.cancel-order")).to_have_count(0)
        assert await stock_of(client, admin, lamp) == (5, 0)
        again = await ok(await client.get(f"/api/v1/orders/{order['id']}", headers=shopper.headers))
        assert (again["status"], again["refunded_amount"]) == ("cancelled", order["total_amount"])

        async with guarded_page(browser, url) as (dashboard, _):  # the admin sees the refund
            await log_in(dashboard, url, "/dashboard", "boss")
            await expect(dashboard.locator("#kpi-refunds")).to_contain_text(order["total_amount"])


@pytest.mark.long
async def test_a_quote_shows_a_bundle_price_and_a_gift_line(store: Store) -> None:
    """docs/promotions.md#merchandisers-promotions: the bundle's row says it is a bundle price, the
    gift is a line of the basket at no cost, named among the quote's parts."""
    admin, client, url = store.admin, store.client, store.url
    names = ("Candle A", "Candle B", "Candle C")
    for n, name in enumerate(names):
        await product(client, admin, f"CANDLE-{n}", name, "40.00", category_id="candles")
    vase = await product(client, admin, "VASE-GIFT", "Little Vase", "25.00", category_id="home")
    bundle = {
        "name": "3 candles for 100",
        "kind": "FIXED_PRICE_BUNDLE",
        "starts_at": at(-60),
        "config": {"category_ids": ["candles"], "quantity": 3, "price": "100.00", "currency": "TRY"},
    }
    gift = {"name": "A little vase", "kind": "GIFT", "starts_at": at(-60), "config": {"product_id": vase["id"]}}
    for body in (bundle, gift):
        await ok(await client.post("/api/v1/promotions", json=body, headers=admin.headers), 201)
    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        await open_store(page, url)
        for name in names:
            await card(page, name).get_by_role("button", name="Add to basket").click()
        await expect(page.locator(".basket-line")).to_have_count(3)
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote tr.promotion")).to_have_text(
            f"Bundle price: 3 candles for 100{MINUS}20.00 TRY"
        )
        gift_line = page.locator("#quote-lines tr.gift-line")
        await expect(gift_line).to_contain_text("Little Vase")
        await expect(gift_line).to_contain_text("free")
        await expect(page.locator("#quote tr.gift")).to_have_text("Gift: A little vasefree")


@pytest.mark.long
async def test_a_changed_basket_or_leaving_the_page_releases_the_held_items(
    store: Store,
) -> None:
    admin, client, url = store.admin, store.client, store.url
    lamp = await product(client, admin, "LAMP-1", "Desk Lamp", "80.00", stock=3)

    async def reserved() -> int:
        return (await stock_of(client, admin, lamp))[1]

    async def is_released() -> bool:
        return await reserved() == 0

    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        await open_store(page, url)
        await card(page, "Desk Lamp").locator("input.qty").fill("2")
        await card(page, "Desk Lamp").get_by_role("button", name="Add to basket").click()
        await page.get_by_role("button", name="Get a quote").click()
        await page.get_by_role("button", name="Go to checkout").click()
        await expect(page.locator("#reservation")).to_contain_text(f"2 {X} Desk Lamp")
        assert await reserved() == 2

        # The quote no longer describes the basket: it goes, and so does its hold.
        await page.get_by_label("Quantity of Desk Lamp").fill("1")
        await page.get_by_label("Quantity of Desk Lamp").press("Enter")
        await expect(page.locator("#quote-message")).to_have_text(
            "The basket changed, so its held items were released: ask for a new quote."
        )
        await expect(page.get_by_role("button", name="Place the order")).to_be_hidden()
        await until(is_released, "the held units released after the basket changed")

        await page.get_by_role("button", name="Get a quote").click()
        await page.get_by_role("button", name="Go to checkout").click()
        await expect(page.locator("#reservation")).to_contain_text(f"1 {X} Desk Lamp")
        assert await reserved() == 1
        await page.goto(url + "/")  # the shopper leaves: the hold goes at once, not at expiry
        await until(is_released, "the held units released when the shopper left the store")


@pytest.mark.long
async def test_time_closes_the_cancel_window_and_expires_the_hold(
    store: Store,
) -> None:
    admin, client, url = store.admin, store.client, store.url
    await product(client, admin, "LAMP-1", "Desk Lamp", "80.00", stock=5)
    async with chromium() as browser:
        async with guarded_page(browser, url) as (page, _):
            await page.clock.install()  # the browser's clock, moved by the test; the server's is real
            await open_store(page, url)
            await card(page, "Desk Lamp").get_by_role("button", name="Add to basket").click()
            await page.get_by_role("button", name="Get a quote").click()
            await page.get_by_role("button", name="Place the order").click()
            placed = page.locator("#orders .order[data-status='confirmed']")
            await expect(placed.locator("button.cancel-order")).to_be_visible()
            await page.clock.fast_forward("29:00")
            await expect(placed.locator("button.cancel-order")).to_be_visible()
            await page.clock.fast_forward("01:05")  # 30 minutes (CANCEL_WINDOW_MINUTES) have passed
            await expect(placed.locator("button.cancel-order")).to_have_count(0)
            await expect(placed).not_to_contain_text("until")

        async with guarded_page(browser, url) as (page, _):
            await page.clock.install()
            await open_store(page, url)
            await card(page, "Desk Lamp").get_by_role("button", name="Add to basket").click()
            await page.get_by_role("button", name="Get a quote").click()
            await page.get_by_role("button", name="Go to checkout").click()
            await expect(page.locator("#reservation")).to_contain_text(f"1 {X} Desk Lamp")
            await page.clock.fast_forward("15:01")  # a quote, and its hold, last 15 minutes
            await expect(page.locator("#quote-message")).to_have_text(
                "Your hold and your quote have expired: ask for a new quote."
            )
            await expect(page.locator("#reservation")).to_be_hidden()
            await expect(page.get_by_role("button", name="Place the order")).to_be_hidden()


# --- flash purchases -------------------------------------------------------------------------------


async def test_flash_purchases_and_every_refusal_in_words_next_to_the_product(
    store: Store,
) -> None:
    admin, client, url = store.admin, store.client, store.url

    async def sale(name: str, item: dict[str, Any], price: str, allocated: int, limit: int) -> Any:
        line = {"product_id": item["id"], "flash_price": price, "allocated_stock": allocated, "per_user_limit": limit}
        body = {"name": name, "starts_at": at(-1), "ends_at": at(60), "items": [line]}
        return await ok(await client.post("/api/v1/flash-sales", json=body, headers=admin.headers), 201)

    await sale("Few left", await product(client, admin, "FL-1", "Scarce Speaker", "200.00"), "150.00", 2, 5)
    await sale("Two each", await product(client, admin, "FL-2", "Limited Lamp", "100.00"), "80.00", 5, 2)
    last_call = await sale(
        "Last call", await product(client, admin, "FL-3", "Ending Earbuds", "150.00"), "120.00", 5, 2
    )
    # An order placed earlier: the purchase below joins "Your orders" above it, the newest first.
    await order_by_api(client, store.shopper, await product(client, admin, "CB-1", "Cable", "40.00"), 1)
    async with chromium() as browser, guarded_page(browser, url) as (page, watch):
        watch.expect_console_error("the server responded with a status of 409")
        await open_store(page, url)
        speaker = card(page, "Scarce Speaker")
        await expect(speaker.locator(".flash")).to_contain_text("Flash price 150.00 TRY · ends in ")
        # Never more than is left, though the limit is 5.
        await expect(speaker.locator(".flash")).to_contain_text("2 left · you may buy 2 more")
        await speaker.locator("input.qty").fill("3")
        await speaker.get_by_role("button", name="Buy now at 150.00 TRY").click()
        await expect(speaker.locator(".message")).to_have_text(
            "Sold out: only 2 Scarce Speaker left at the flash price, fewer than the 3 you asked for."
            " Nothing was bought."
        )

        lamp = card(page, "Limited Lamp")
        await lamp.locator("input.qty").fill("3")
        await lamp.get_by_role("button", name="Buy now at 80.00 TRY").click()
        await expect(lamp.locator(".message")).to_have_text(
            "Limit reached: this sale sells at most 2 Limited Lamp per customer and you have bought 0,"
            " so you can buy 2 more. Nothing was bought."
        )
        await lamp.locator("input.qty").fill("2")
        await lamp.get_by_role("button", name="Buy now at 80.00 TRY").click()
        # Charged as a one-line quote at the flash price: the "+ tax" the card promised (18 %: 28.80) and
        # the delivery fee a quote pays (10.00), all in the total.
        bought = f"Bought 2 {X} Limited Lamp at 80.00 TRY: 198.80 TRY in all, with 28.80 tax and 10.00 delivery."
        await expect(lamp.locator(".message")).to_have_text(bought)
        await expect(lamp.locator(".flash")).to_contain_text("3 left · you have bought your limit")
        await expect(lamp.get_by_role("button", name="Buy now at 80.00 TRY")).to_be_disabled()
        # The purchase is an order in "Your orders" at once, labelled, above the older order.
        rows = page.locator("#orders > li")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_have_class(re.compile(r"\bflash-purchase\b"))
        await expect(rows.nth(0).locator(".summary")).to_contain_text("2 items")
        await expect(rows.nth(0).locator(".summary")).to_contain_text("198.80 TRY")
        await expect(rows.nth(0).locator(".summary")).to_contain_text("flash purchase")
        await expect(rows.nth(0)).to_contain_text(f"2 {X} Limited Lamp at 80.00 TRY, 28.80 TRY tax.")
        await expect(rows.nth(0).get_by_role("button", name=re.compile("^Cancel the order"))).to_have_count(1)
        await expect(rows.nth(1)).to_have_attribute("data-status", "confirmed")
        await expect(rows.nth(1)).to_contain_text("1 item")

        # The sale ends while the page still offers it.
        await ok(await client.post(f"/api/v1/flash-sales/{last_call['id']}/end", headers=admin.headers))
        earbuds = card(page, "Ending Earbuds")
        await earbuds.get_by_role("button", name="Buy now at 120.00 TRY").click()
        await expect(earbuds.locator(".message")).to_have_text("This flash sale has ended. Nothing was bought.")
        await expect(earbuds.locator(".flash")).to_have_count(0)  # the offer is gone from the card
        for code in ("SOLD_OUT", "PURCHASE_LIMIT_EXCEEDED", "SALE_NOT_ACTIVE"):
            await expect(page.locator("#products")).not_to_contain_text(code)


@pytest.mark.long
async def test_your_orders_pages_orders_and_flash_purchases_together_newest_first(store: Store) -> None:
    admin, shopper, client, url = store.admin, store.shopper, store.client, store.url
    cable = await product(client, admin, "CB-2", "Cable", "40.00")
    lamp = await product(client, admin, "LP-2", "Sale Lamp", "100.00")
    line = {"product_id": lamp["id"], "flash_price": "80.00", "allocated_stock": 20, "per_user_limit": 10}
    body = {"name": "All week", "starts_at": at(-1), "ends_at": at(60), "items": [line]}
    sale = await ok(await client.post("/api/v1/flash-sales", json=body, headers=admin.headers), 201)
    made = []  # oldest first: "order" or "flash", alternating, seven in all (a page is five)
    for n in range(7):
        if n % 2 == 0:
            await order_by_api(client, shopper, cable, n + 1)
            made.append(f"order {n + 1}")
        else:
            headers = {**shopper.headers, "Idempotency-Key": f"buy-{n}"}
            bought = {"product_id": lamp["id"], "quantity": n}
            await ok(
                await client.post(f"/api/v1/flash-sales/{sale['id']}/purchases", json=bought, headers=headers), 201
            )
            made.append(f"flash {n}")
    # "order 3" / "flash 2": each row's kind and its number of items, as the page shows them.
    shown = (
        "rows => rows.map(r => (r.classList.contains('flash-purchase') ? 'flash ' : 'order ')"
        " + r.querySelector('.summary span').textContent.match(/(\\d+) items?/)[1])"
    )
    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        await open_store(page, url)
        rows = page.locator("#orders > li")
        await expect(rows).to_have_count(5)
        assert await rows.evaluate_all(shown) == made[::-1][:5]
        await page.get_by_role("button", name="Show older orders").click()
        await expect(rows).to_have_count(7)
        assert await rows.evaluate_all(shown) == made[::-1]
        await expect(page.get_by_role("button", name="Show older orders")).to_be_hidden()


# --- a phone -----------------------------------------------------------------------------------------


async def test_on_a_phone_the_store_is_one_column_and_works_by_keyboard(
    store: Store,
) -> None:
    admin, client, url = store.admin, store.client, store.url
    await product(client, admin, "PH-1", "Phone", "120.00")
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page = await context.new_page()
        watch = await guard(page, url)
        await page.goto(url + "/store")
        # Keyboard only: the username field has focus, Tab to the password, Enter submits.
        await expect(page.get_by_label("Username")).to_be_focused()
        await page.keyboard.type("ayse")
        await page.keyboard.press("Tab")
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_url(url + "/store")
        add = card(page, "Phone").get_by_role("button", name="Add to basket")
        await add.focus()
        await page.keyboard.press("Enter")
        await expect(page.locator(".basket-line")).to_have_count(1)
        await expect(page.get_by_role("link", name="Basket: 1 item")).to_be_visible()  # the basket, a link away
        products = await page.locator(".store-products").bounding_box()
        basket = await page.locator("#basket-panel").bounding_box()
        assert products is not None
        assert basket is not None
        assert basket["y"] >= products["y"] + products["height"]  # one column: the basket after the products
        await assert_laid_out(page)
        for field in ("Search", "Category", "City", "Country (2 letters)"):
            await expect(page.get_by_label(field)).to_be_visible()
        await context.close()
        watch.assert_clean()


# --- display prices -------------------------------------------------------------------------------


async def kettle_in_euros(store: Store, sku: str) -> Any:
    """A kettle at 100.00 TRY (net) in the catalog and at 23.60 EUR, tax included, in a web price list."""
    kettle = await product(store.client, store.admin, sku, "Kettle", "100.00", category_id="home")
    euro = {
        "name": "EU web", "currency": "EUR", "channels": ["web"], "prices_include_tax": True,
        "prices": [{"product_id": kettle["id"], "amount": "23.60"}],
    }  # fmt: skip
    await ok(await store.client.post("/api/v1/price-lists", json=euro, headers=store.admin.headers), 201)
    return kettle


@pytest.mark.long
async def test_the_listing_shows_display_prices_in_one_call_and_the_euro_web_list_with_tax(store: Store) -> None:
    admin, client, url = store.admin, store.client, store.url
    await kettle_in_euros(store, "KETTLE-1")
    mug = await product(client, admin, "MUG-9", "Mug", "30.00", category_id="home")
    promotion = {
        "name": "Mugs 25 %", "kind": "PERCENT_OFF", "config": {"percent": "25"},
        "conditions": {"product_ids": [mug["id"]]}, "starts_at": at(-60),
    }  # fmt: skip
    await ok(await client.post("/api/v1/promotions", json=promotion, headers=admin.headers), 201)
    # A flash sale from now on: its price's 30 days before start with the teapot already listed.
    teapot = await product(client, admin, "TEAPOT-1", "Teapot", "40.00", category_id="home")
    line = {"product_id": teapot["id"], "flash_price": "30.00", "allocated_stock": 5, "per_user_limit": 2}
    sale = {"name": "Teapots", "starts_at": at(0), "ends_at": at(60), "items": [line]}
    await ok(await client.post("/api/v1/flash-sales", json=sale, headers=admin.headers), 201)
    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        calls: list[str] = []
        page.on("request", lambda request: calls.append(request.url) if "/api/v1/prices" in request.url else None)
        await open_store(page, url)
        await expect(card(page, "Mug").locator(".price")).to_have_text("30.00 TRY 22.50 TRY + tax")
        await expect(card(page, "Kettle").locator(".price")).to_have_text("100.00 TRY + tax")
        prior = "40.00 TRY 30.00 TRY + tax · lowest price in the 30 days before: 40.00 TRY"
        await expect(card(page, "Teapot").locator(".price")).to_have_text(prior)
        assert len(calls) == 1  # one call for the whole listing
        for width in LAYOUT_WIDTHS:  # the prior price wraps inside its card
            await set_width(page, width)
            await assert_laid_out(page, ".panel, .product")
        # At every width from a tablet's to a wide screen's (where a line wraps depends on the width):
        # "+ tax" wraps before its "+" or not at all (never "+" at a line's end and "tax" below).
        for width in range(760, 1961, 40):
            await set_width(page, width)
            split = await page.locator(".product .price .tax").evaluate_all(
                "spans => spans.filter(s => s.getClientRects().length > 1).map(s => s.textContent)"
            )
            assert split == [], (width, split)
            # Each search label sits on its control's line, never at a line's end with the control below.
            apart = await page.locator("#search label").evaluate_all(
                """labels => labels.filter(l => {
                     const a = l.getBoundingClientRect();
                     const b = document.getElementById(l.htmlFor).getBoundingClientRect();
                     return Math.abs((a.top + a.bottom) / 2 - (b.top + b.bottom) / 2) > b.height / 2;
                   }).map(l => l.textContent)"""
            )
            assert apart == [], (width, apart)

        await page.get_by_label("Prices in").select_option("EUR")
        await expect(card(page, "Kettle").locator(".price")).to_have_text("23.60 EUR incl. tax")
        await expect(card(page, "Mug").locator(".price")).to_have_text("Not sold in EUR")
        assert len(calls) == 2


@pytest.mark.long
async def test_a_shopper_who_picks_euros_is_quoted_in_euros_as_the_cards_show(store: Store) -> None:
    """The "Prices in" choice is the basket's currency: the quote and the order are in it, at the
    price list's prices the cards show; the store offers only currencies it can price."""
    shopper, client, url = store.shopper, store.client, store.url
    kettle = await kettle_in_euros(store, "KETTLE-2")
    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        await open_store(page, url)
        choices = page.get_by_label("Prices in").locator("option")
        assert await choices.evaluate_all("options => options.map(o => o.value)") == ["", "EUR", "TRY"]
        kettle_card = card(page, "Kettle")
        await expect(kettle_card.locator(".price")).to_have_text("100.00 TRY + tax")
        await page.get_by_label("Prices in").select_option("EUR")
        await expect(kettle_card.locator(".price")).to_have_text("23.60 EUR incl. tax")
        await kettle_card.get_by_role("button", name="Add to basket").click()
        await expect(page.locator("#basket-goods")).to_have_text("23.60 EUR")
        await page.get_by_role("button", name="Get a quote").click()
        # The quote is the card's price: in euros, the list's gross price with its tax inside.
        await expect(page.locator("#quote-total")).to_have_text("23.60 EUR")
        body = {
            "customer_id": str(shopper.id),
            "currency": "EUR",
            "channel": "web",
            "delivery_address": {"city": "Istanbul", "country": "TR"},
            "items": [{"product_id": kettle["id"], "quantity": 1}],
        }
        priced = await ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
        assert priced["total_amount"] == "23.60"
        await expect(page.locator("#quote tr.tax-included")).to_contain_text(f"{priced['tax_included']} EUR")
        await expect(page.locator("#quote-lines th", has_text="Unit (EUR)")).to_have_count(1)
        await expect(page.locator("#quote-lines tbody tr", has_text="Kettle")).to_contain_text("23.60")
        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page)
            await page.screenshot(path=screenshot_path(f"store-eur-{width}.png"))  # for a person to look at
        await page.get_by_role("button", name="Place the order").click()
        await expect(page.locator("#quote-message")).to_contain_text("order placed, 23.60 EUR")
        [placed] = (await ok(await client.get("/api/v1/orders", headers=shopper.headers)))["items"]
        assert (placed["currency"], placed["total_amount"]) == ("EUR", "23.60")

        # A basket in lira takes no euro prices: said on the card, in words.
        await page.get_by_label("Prices in").select_option("")
        await expect(kettle_card.locator(".price")).to_have_text("100.00 TRY + tax")
        await kettle_card.get_by_role("button", name="Add to basket").click()
        await expect(page.locator("#basket-goods")).to_have_text("100.00 TRY")
        await page.get_by_label("Prices in").select_option("EUR")
        await expect(kettle_card.locator(".price")).to_have_text("23.60 EUR incl. tax")
        await kettle_card.get_by_role("button", name="Add to basket").click()
        await expect(kettle_card.locator(".message")).to_contain_text("Your basket is in TRY")
        await expect(page.locator(".basket-line")).to_have_count(1)


@pytest.mark.long
async def test_a_sold_out_flash_offer_says_so_and_never_more_than_is_left(store: Store) -> None:
    admin, shopper, client, url = store.admin, store.shopper, store.client, store.url

    async def sale(name: str, item: dict[str, Any], allocated: int) -> Any:
        line = {"product_id": item["id"], "flash_price": "50.00", "allocated_stock": allocated, "per_user_limit": 5}
        body = {"name": name, "starts_at": at(-1), "ends_at": at(60), "items": [line]}
        return await ok(await client.post("/api/v1/flash-sales", json=body, headers=admin.headers), 201)

    gone = await sale("Gone", await product(client, admin, "SO-1", "Sold Speaker", "90.00"), 2)
    await sale("Few", await product(client, admin, "SO-2", "Three Lamps", "90.00"), 3)
    bought = {"product_id": gone["items"][0]["product_id"], "quantity": 2}
    headers = {**shopper.headers, "Idempotency-Key": "so-1"}
    await ok(await client.post(f"/api/v1/flash-sales/{gone['id']}/purchases", json=bought, headers=headers), 201)
    async with chromium() as browser, guarded_page(browser, url) as (page, _):
        await open_store(page, url)
        # Sold out: nothing more to buy, whatever the shopper's limit (they may buy 3 more of 5).
        sold = card(page, "Sold Speaker").locator(".flash")
        await expect(sold).to_have_text(re.compile(r"^Flash price 50.00 TRY · ends in .+ · sold out$"))
        await expect(card(page, "Sold Speaker").get_by_role("button", name="Buy now at 50.00 TRY")).to_be_disabled()
        # Three left of a limit of five: the shopper may buy three.
        await expect(card(page, "Three Lamps").locator(".flash")).to_contain_text("3 left · you may buy 3 more")
