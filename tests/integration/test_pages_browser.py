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


async def test_dashboard_moves_live(base_url: str, people: tuple[Caller, Caller], api: httpx.AsyncClient) -> None:
    admin, shopper = people
    phone = await product(api, admin, "PH-1", "Phone", "120.00")
    case = await product(api, admin, "CS-1", "Case", "25.50", category_id="accessories")
    sale_body = {
        "name": "Lunch deal",
        "starts_at": at(-1),
        "ends_at": at(60),
        "items": [{"product_id": phone["id"], "flash_price": "99.00", "allocated_stock": 5, "per_user_limit": 2}],
    }
    await ok(await api.post("/api/v1/flash-sales", json=sale_body, headers=admin.headers), 201)
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(TIMEOUT_MS)
        await log_in(page, base_url, "/dashboard", "boss")
        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["qs_session"]["httpOnly"] is True
        assert cookies["qs_session"]["sameSite"] == "Strict"
        no_token_in_urls(await page.content(), cookies["qs_session"]["value"])
        assert await page.evaluate("Object.keys(localStorage).length") == 0
        await expect(page.locator("#kpi-quotes")).to_have_text("0")
        await expect(page.locator("#flash-rows")).to_contain_text("Lunch deal")
        await expect(page.locator("#flash-rows .remaining")).to_have_text("5 / 5")

        # A quote through the API moves the KPI without a reload.
        quote = {
            "customer_id": str(shopper.id),
            "currency": "TRY",
            "delivery_address": {"city": "Istanbul", "country": "TR"},
            "items": [{"product_id": phone["id"], "quantity": 1}],
        }
        quoted = await ok(await api.post("/api/v1/quote", json=quote, headers=shopper.headers))
        await expect(page.locator("#kpi-quotes")).to_have_text("1")
        # ... and an order moves orders, conversion, revenue and the revenue chart.
        headers = {**shopper.headers, "Idempotency-Key": "dash-1"}
        await ok(await api.post("/api/v1/orders", json={"quote_id": quoted["quote_id"]}, headers=headers), 201)
        await expect(page.locator("#kpi-orders")).to_have_text("1")
        await expect(page.locator("#kpi-conversion")).to_have_text("100.00 %")
        await expect(page.locator("#kpi-revenue")).to_contain_text(quoted["total_amount"])
        await expect(page.locator("#revenue-chart svg rect")).to_have_count(1)
        # An order in a second currency: its own KPI figure and its own chart, never one sum or scale.
        mug = await product(api, admin, "MG-1", "Mug", "30.00", currency="EUR")
        quote_eur = {**quote, "currency": "EUR", "items": [{"product_id": mug["id"], "quantity": 1}]}
        quoted_eur = await ok(await api.post("/api/v1/quote", json=quote_eur, headers=shopper.headers))
        headers = {**shopper.headers, "Idempotency-Key": "dash-2"}
        await ok(await api.post("/api/v1/orders", json={"quote_id": quoted_eur["quote_id"]}, headers=headers), 201)
        await expect(page.locator("#kpi-revenue")).to_contain_text(f"{quoted_eur['total_amount']} EUR")
        await expect(page.locator("#kpi-revenue")).to_contain_text(f"{quoted['total_amount']} TRY")
        parts = page.locator("#revenue-chart .chart-part")
        await expect(parts).to_have_count(2)
        await expect(parts.nth(0)).to_have_attribute("data-currency", "EUR")
        await expect(parts.nth(1).locator("svg rect")).to_have_count(1)

        # A price move (here a manual one; inventory repricing writes the same history) appears.
        patch = {"current_price": "130.00"}
        await ok(await api.patch(f"/api/v1/products/{phone['id']}", json=patch, headers=admin.headers))
        moves = page.locator("#move-rows tr")
        await expect(moves.first).to_contain_text("Phone")
        await expect(moves.first).to_contain_text("130.00")
        await expect(moves.first).to_contain_text("manual")
        await expect(page.locator("#price-chart svg path").first).to_be_visible()

        # A stock change reprices through the inventory rule; the move appears with its source.
        rule = {
            "name": "inventory",
            "type": "INVENTORY_LEVEL",
            "effective_from": "2020-01-01T00:00:00Z",
            "configuration": {
                "low_threshold": 10,
                "low_adjust_percent": 10,
                "high_threshold": 100,
                "high_adjust_percent": -10,
                "cooldown_hours": 24,
            },
        }
        await ok(await api.post("/api/v1/pricing-rules", json=rule, headers=admin.headers), 201)
        stock = {"delta": -45, "reason": "count"}
        await ok(await api.post(f"/api/v1/products/{case['id']}/stock", json=stock, headers=admin.headers))
        await expect(moves.first).to_contain_text("Case")
        await expect(moves.first).to_contain_text("25.50 → 28.05 TRY")
        await expect(moves.first.locator(".tag")).to_have_text("inventory")
        await expect(moves.first).to_contain_text("low_stock")
        # Panels of parts not deployed on this build stay hidden rather than failing.
        status = await api.get("/api/v1/signals", headers=admin.headers)
        if status.status_code == 404:
            await expect(page.locator("#panel-signals")).to_be_hidden()
        await expect(page.locator("#status")).to_contain_text("Updated")
        shot = screenshot_path("dashboard.png")
        await page.screenshot(path=str(shot), full_page=True)
        publish(shot)


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


async def _eventually(fetch: Any, ready: Any, seconds: float = 20.0) -> Any:
    """Poll `fetch()` until `ready(result)`; the stream consumer persists observations in the background."""
    import asyncio
    import time

    deadline = time.monotonic() + seconds
    while True:
        result = await fetch()
        if ready(result) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.25)


async def test_dashboard_acknowledges_a_signal_and_applies_a_decision(
    base_url: str, people: tuple[Caller, Caller], api: httpx.AsyncClient
) -> None:
    admin, _ = people
    watch = await product(api, admin, "WA-1", "Watch", "120.00", cost_price="80.00", min_price="85.00")
    observations = [
        {"product_id": watch["id"], "competitor": name, "price": "90.00", "currency": "TRY", "observed_at": at(-m)}
        for name, m in (("rival-a", 5), ("rival-b", 6))
    ]
    accepted = await ok(
        await api.post("/api/v1/competitor-prices", json={"observations": observations}, headers=admin.headers), 202
    )
    assert accepted["accepted"] == 2

    async def open_signals() -> Any:
        params = {"product_id": watch["id"], "status": "open"}
        return await ok(await api.get("/api/v1/signals", params=params, headers=admin.headers))

    signals = await _eventually(open_signals, lambda page: page["items"])
    assert [s["type"] for s in signals["items"]] == ["competitor_undercut"]
    run = {"product_ids": [watch["id"]]}
    [decision] = await ok(await api.post("/api/v1/decisions/run", json=run, headers=admin.headers))
    assert decision["status"] == "proposed"

    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(TIMEOUT_MS)
        await log_in(page, base_url, "/dashboard", "boss")
        row = page.locator("#signal-rows tr", has_text="competitor_undercut")
        await expect(row).to_contain_text("Watch")
        await row.get_by_role("button", name="Acknowledge").click()
        await expect(row).to_have_count(0)  # the panel lists open signals only

        decision_row = page.locator("#decision-rows tr", has_text="Watch")
        await expect(decision_row).to_contain_text("proposed")
        await decision_row.get_by_role("button", name="Apply").click()
        await expect(decision_row).to_contain_text("applied")

    acknowledged = await ok(await api.get("/api/v1/signals", params={"product_id": watch["id"]}, headers=admin.headers))
    assert [s["status"] for s in acknowledged["items"]] == ["acknowledged"]
    moved = await ok(await api.get(f"/api/v1/products/{watch['id']}", headers=admin.headers))
    assert moved["current_price"] == decision["recommended_price"]
