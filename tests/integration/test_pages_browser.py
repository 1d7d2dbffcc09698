"""The dashboard and the store in a real browser (Playwright driving /usr/bin/chromium) against
a real `quote-service serve` process over this session's PostgreSQL and Redis."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from quote_service.config import Settings
from tests.integration.browser import chromium, log_in, needs_chromium, publish, screenshot_path
from tests.integration.conftest import PASSWORD, Caller, make_caller
from tests.integration.flash import at
from tests.integration.servers import cli_env, running_server

pytestmark = [pytest.mark.slow, needs_chromium]
TIMEOUT_MS = 20_000


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    with running_server(env) as base:
        yield base


@pytest.fixture
async def people(settings: Settings, password_hash: str) -> tuple[Caller, Caller]:
    admin = await make_caller(settings, password_hash, "boss", "admin")
    shopper = await make_caller(settings, password_hash, "ayse", "user")
    return admin, shopper


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        yield client


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


async def product(api: httpx.AsyncClient, admin: Caller, sku: str, name: str, price: str, **extra: Any) -> Any:
    body = {
        "sku": sku,
        "name": name,
        "category_id": extra.pop("category_id", "electronics"),
        "seller_id": "s1",
        "currency": "TRY",
        "base_price": price,
        "min_price": "10.00",
        "cost_price": "5.00",
        "stock": 50,
        **extra,
    }
    return await ok(await api.post("/api/v1/products", json=body, headers=admin.headers), 201)


def no_token_in_urls(html: str, token: str) -> None:
    for url in re.findall(r'(?:href|src|action)="([^"]*)"', html):
        assert token not in url
        assert "token" not in url.lower()


async def test_store_quote_order_and_flash_refusal(
    base_url: str, people: tuple[Caller, Caller], api: httpx.AsyncClient
) -> None:
    admin, shopper = people
    phone = await product(api, admin, "PH-1", "Phone", "120.00")
    case = await product(api, admin, "CS-1", "Case", "25.50", category_id="accessories")
    sale_body = {
        "name": "Lunch deal",
        "starts_at": at(-1),
        "ends_at": at(60),
        "items": [{"product_id": case["id"], "flash_price": "15.00", "allocated_stock": 5, "per_user_limit": 3}],
    }
    await ok(await api.post("/api/v1/flash-sales", json=sale_body, headers=admin.headers), 201)
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        await log_in(page, base_url, "/store", "ayse")
        token = {c["name"]: c for c in await page.context.cookies()}["qs_session"]["value"]
        no_token_in_urls(await page.content(), token)

        # Search and category filter.
        await page.get_by_label("Category").select_option("accessories")
        await expect(page.locator(".product")).to_have_count(1)
        await page.get_by_label("Category").select_option("")
        await expect(page.locator(".product")).to_have_count(2)

        await page.locator(".product[data-name='Phone'] button.add").click()
        await page.locator(".product[data-name='Case'] input.qty").fill("2")
        await page.locator(".product[data-name='Case'] button.add").click()
        await expect(page.locator(".basket-line")).to_have_count(2)
        await page.get_by_label("Coupon codes (comma-separated)").fill("NOPE")
        await page.get_by_role("button", name="Get a quote").click()
        total = page.locator("#quote-total")
        await expect(total).to_be_visible()
        await expect(page.locator(".coupon-rejected")).to_contain_text("NOPE not applied: no such coupon")
        shown = await total.get_attribute("data-amount")

        # The same basket through the API prices the same.
        quote = {
            "customer_id": str(shopper.id),
            "currency": "TRY",
            "coupon_codes": ["NOPE"],
            "delivery_address": {"city": "Istanbul", "country": "TR"},
            "items": [{"product_id": phone["id"], "quantity": 1}, {"product_id": case["id"], "quantity": 2}],
        }
        via_api = await ok(await api.post("/api/v1/quote", json=quote, headers=shopper.headers))
        assert shown == via_api["total_amount"]

        shot = screenshot_path("store.png")
        await page.screenshot(path=str(shot), full_page=True)
        publish(shot)
        await page.get_by_role("button", name="Place the order").click()
        await expect(page.locator("#order-result")).to_contain_text("placed")
        orders = await ok(await api.get("/api/v1/orders", headers=shopper.headers))
        assert len(orders["items"]) == 1
        assert orders["items"][0]["total_amount"] == shown
        await expect(page.locator("#orders .order[data-status='confirmed']")).to_have_count(1)

        # Flash purchase: the order took 2 of the limit of 3; one more succeeds, the next is refused.
        card = page.locator(".product[data-name='Case']")
        await card.locator("input.qty").fill("1")
        await card.locator("button.flash-buy").click()
        await expect(page.locator("#message")).to_contain_text("Bought 1")
        await page.locator(".product[data-name='Case'] button.flash-buy").click()
        await expect(page.locator("#message")).to_contain_text("Flash purchase refused")
        message = await page.locator("#message").inner_text()
        assert "PURCHASE_LIMIT" not in message
        assert len(message) > len("Flash purchase refused: ") + 10


async def test_store_cancels_a_fresh_order_and_the_dashboard_shows_the_refund(
    base_url: str, people: tuple[Caller, Caller], api: httpx.AsyncClient
) -> None:
    admin, shopper = people
    lamp = await product(api, admin, "LP-1", "Lamp", "40.00")
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        await log_in(page, base_url, "/store", "ayse")
        await page.locator(".product[data-name='Lamp'] input.qty").fill("2")
        await page.locator(".product[data-name='Lamp'] button.add").click()
        await page.get_by_role("button", name="Get a quote").click()
        await expect(page.locator("#quote-total")).to_be_visible()
        await page.get_by_role("button", name="Place the order").click()
        await expect(page.locator("#order-result")).to_contain_text("placed")
        placed = (await ok(await api.get("/api/v1/orders", headers=shopper.headers)))["items"][0]
        stock = (await ok(await api.get(f"/api/v1/products/{lamp['id']}", headers=admin.headers)))["stock"]
        assert stock == 48

        await page.locator("#orders .order[data-status='confirmed'] button.cancel-order").click()
        await expect(page.locator("#message")).to_contain_text("Order cancelled")
        await expect(page.locator("#message")).to_contain_text(placed["total_amount"])
        await expect(page.locator("#orders .order[data-status='cancelled']")).to_have_count(1)
        await expect(page.locator("#orders button.cancel-order")).to_have_count(0)
        order = await ok(await api.get(f"/api/v1/orders/{placed['id']}", headers=shopper.headers))
        assert (order["status"], order["refunded_amount"]) == ("cancelled", placed["total_amount"])
        assert (await ok(await api.get(f"/api/v1/products/{lamp['id']}", headers=admin.headers)))["stock"] == 50

        admin_page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        admin_page.set_default_timeout(TIMEOUT_MS)
        await log_in(admin_page, base_url, "/dashboard", "boss")
        await expect(admin_page.locator("#kpi-refunds")).to_contain_text(placed["total_amount"])
        await expect(admin_page.locator("#kpi-refunds")).to_contain_text("(1)")


async def test_shopper_cannot_open_dashboard_in_browser(base_url: str, people: tuple[Caller, Caller]) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await log_in(page, base_url, "/dashboard", "ayse")
        await expect(page.get_by_role("alert")).to_contain_text("needs an administrator")
        assert await page.locator("#kpis").count() == 0


async def test_store_works_by_keyboard_on_a_phone(
    base_url: str, people: tuple[Caller, Caller], api: httpx.AsyncClient
) -> None:
    admin, _ = people
    await product(api, admin, "PH-1", "Phone", "120.00")
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(base_url + "/store")
        # Keyboard only: the username field has focus, Tab to the password, Enter submits.
        await expect(page.get_by_label("Username")).to_be_focused()
        await page.keyboard.type("ayse")
        await page.keyboard.press("Tab")
        await page.keyboard.type(PASSWORD)
        await expect(page.get_by_label("Password")).to_be_focused()
        await page.keyboard.press("Enter")
        await page.wait_for_url(base_url + "/store")
        await expect(page.get_by_role("alert")).not_to_contain_text("expired")
        add = page.locator(".product[data-name='Phone'] button.add")
        await add.focus()
        await page.keyboard.press("Enter")
        await expect(page.locator(".basket-line")).to_have_count(1)
        # Readable on a phone: nothing wider than the screen.
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        for field in ("Search", "Category", "City", "Country (2 letters)"):
            await expect(page.get_by_label(field)).to_be_visible()
        shot = screenshot_path("store-phone.png")
        await page.screenshot(path=str(shot), full_page=True)
