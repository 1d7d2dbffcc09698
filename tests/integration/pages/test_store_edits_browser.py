"""Changing an order's quantities on the store page (docs/pages.md#the-store, docs/orders-and-refunds.md
#edits-and-exchanges), in Chromium against a real `quote-service serve` process: the shopper sets a
quantity, sees what it would pay more or get back before confirming, and the order changes once."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.integration.browser import (
    LAYOUT_WIDTHS,
    assert_laid_out,
    chromium,
    guarded_page,
    needs_chromium,
    screenshot_path,
    set_width,
)
from tests.integration.pages.test_pages_browser import api, base_url, ok, people, product  # noqa: F401
from tests.integration.pages.test_store_browser import Store, open_store, store  # noqa: F401

pytestmark = [pytest.mark.slow, needs_chromium]


async def _placed(store: Store, *lines: tuple[dict[str, str], int]) -> dict[str, str]:  # noqa: F811 - the fixture
    """An order of the shopper's, placed as its checkout would (quote, then order)."""
    body = {
        "customer_id": str(store.shopper.id),
        "currency": "TRY",
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "items": [{"product_id": p["id"], "quantity": n} for p, n in lines],
    }
    quote = await ok(await store.client.post("/api/v1/quote", json=body, headers=store.shopper.headers))
    headers = {**store.shopper.headers, "Idempotency-Key": f"order-{quote['quote_id']}"}
    placed: dict[str, str] = await ok(
        await store.client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers), 201
    )
    return placed


async def _change(page: Page, order_id: str) -> None:
    row = page.locator(f"#orders .order[data-id='{order_id}']")
    await row.get_by_role("button", name="Change the quantities of the order", exact=False).click()


async def test_a_shopper_sees_the_difference_before_it_confirms_a_change(store: Store) -> None:  # noqa: F811
    lamp = await product(store.client, store.admin, "LAMP-1", "Desk Lamp", "80.00", category_id="home", stock=5)
    mug = await product(store.client, store.admin, "MUG-1", "Mug", "30.00", category_id="home")
    order = await _placed(store, (lamp, 1), (mug, 2))
    more = {
        "add": [{"product_id": lamp["id"], "quantity": 1}],
        "remove": [{"product_id": mug["id"], "quantity": 1, "line": 1}],
    }
    async with chromium() as browser, guarded_page(browser, store.url) as (page, _):
        await open_store(page, store.url)
        row = page.locator(f"#orders .order[data-id='{order['id']}']")
        await expect(row).to_contain_text("3 items")
        await _change(page, order["id"])
        await row.get_by_label("Desk Lamp at 80.00 TRY").fill("2")
        await row.get_by_label("Mug at 30.00 TRY").fill("1")
        await row.get_by_role("button", name="See the difference").click()
        # What the API's preview of the same edit says (a preview changes nothing).
        shown = await ok(
            await store.client.post(f"/api/v1/orders/{order['id']}/edits", json=more, headers=store.shopper.headers),
            201,
        )
        words = f"You pay {shown['difference_due']} TRY more. New total {shown['totals']['total_amount']} TRY."
        await expect(row.locator(".edit-outcome")).to_have_text(words)
        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page)
            await page.locator("#orders-panel").screenshot(path=screenshot_path(f"store-order-edit-{width}.png"))
        await row.get_by_role("button", name="Confirm the change").click()
        changed = page.locator(f"#orders .order[data-id='{order['id']}']")
        await expect(changed.locator(".message")).to_have_text(
            f"Order changed: You pay {shown['difference_due']} TRY more."
        )
        await expect(changed).to_contain_text(f"{shown['totals']['total_amount']} TRY")
        await expect(changed).to_contain_text(f"{shown['difference_due']} TRY to pay for changes")
        now = await ok(await store.client.get(f"/api/v1/orders/{order['id']}", headers=store.shopper.headers))
        assert (now["revision"], now["total_amount"]) == (2, shown["totals"]["total_amount"])

        # Fewer units: the difference comes back; a quantity changed after a preview hides it.
        await _change(page, order["id"])
        await changed.get_by_label("Desk Lamp at 80.00 TRY").fill("1")
        await changed.get_by_role("button", name="See the difference").click()
        await expect(changed.locator(".edit-outcome")).to_contain_text("You get ")
        await expect(changed.get_by_role("button", name="Confirm the change")).to_be_visible()
        await changed.get_by_label("Desk Lamp at 80.00 TRY").fill("2")
        await expect(changed.get_by_role("button", name="Confirm the change")).to_be_hidden()
