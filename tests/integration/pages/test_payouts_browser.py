"""Seller payouts on the pages in a real browser (Playwright driving /usr/bin/chromium) against a real
`quote-service serve` (docs/payouts.md, docs/pages.md): the books page shows each seller's balance and
the latest payouts as the API gives them; the seller page shows the seller's own, nobody else's."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from quote_service.clock import utcnow
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
from tests.integration.pages.test_dashboard_browser import Served, order, refund
from tests.integration.pages.test_governance_browser import serving
from tests.integration.pages.test_pages_browser import ok, product

pytestmark = [pytest.mark.slow, needs_chromium]
BALANCE = ("available", "held", "reserved", "carried_negative")


async def _books(s: Served) -> dict[str, Any]:
    """Two sellers' sales, a payout of each (one marked paid), then a refund and a new sale of s1: each
    balance has something in every figure a refund or a hold puts there. The payouts made, by seller."""
    terms = {"hold_days": 0, "reserve_percent": "10", "reserve_days": 30, "currency": "TRY"}
    await ok(await s.api.post("/api/v1/payout-terms", json=terms, headers=s.admin.headers), 201)
    await ok(
        await s.api.post(
            "/api/v1/payout-terms", json={**terms, "seller_id": "s2", "hold_days": 7}, headers=s.admin.headers
        ),
        201,
    )
    mug = await product(s.api, s.admin, "PO-1", "Stoneware mug", "40.00")
    lamp = await product(s.api, s.admin, "PO-2", "Desk lamp", "250.00", seller_id="s2")
    mugs = await order(s, mug["id"], 2, "po-1")
    await order(s, lamp["id"], 1, "po-2")
    run = await ok(
        await s.api.post("/api/v1/payouts/run", json={"as_of": utcnow().isoformat()}, headers=s.admin.headers), 201
    )
    made = {p["seller_id"]: p for p in run["payouts"]}
    await ok(
        await s.api.post(
            f"/api/v1/payouts/{made['s1']['id']}/paid", json={"reference": "TR-77"}, headers=s.admin.headers
        )
    )
    await refund(s, mugs, mug["id"], 2, "po-r1")
    await order(s, lamp["id"], 1, "po-3")
    return made


@pytest.mark.long
async def test_the_books_page_shows_each_sellers_balance_and_the_latest_payouts(
    settings: Settings, admin: Caller, shopper: Caller
) -> None:
    async with serving(settings) as (base_url, api):
        s = Served(base_url, api, admin, shopper)
        made = await _books(s)
        assert set(made) == {"s1"}, "s2's sale is in its 7-day hold"
        async with chromium() as browser, guarded_page(browser, base_url) as (page, _):
            await log_in(page, base_url, "/dashboard/books", "admin")
            rows = page.locator("#balance-rows tr.balance")
            await expect(rows).to_have_count(2)
            for seller in ("s1", "s2"):
                shown = await ok(await api.get(f"/api/v1/sellers/{seller}/balance", headers=admin.headers))
                row = page.locator(f'#balance-rows tr[data-seller="{seller}"]')
                await expect(row.locator("td.num")).to_have_text([shown[k] for k in BALANCE])
                await expect(row.locator("td").nth(1)).to_have_text("TRY")
            s1 = page.locator('#balance-rows tr[data-seller="s1"]')
            await expect(s1.locator("td").last).to_have_text(f"{made['s1']['amount']} TRY, paid")
            await expect(s1.locator("td.num").nth(3)).not_to_have_text("0.00")  # the refund beyond the available
            await expect(page.locator('#balance-rows tr[data-seller="s2"] td').last).to_have_text("none yet")
            payouts = page.locator("#payout-rows tr.payout")
            await expect(payouts).to_have_count(1)
            cells = payouts.first.locator("td")
            await expect(cells.nth(1)).to_have_text("s1")
            await expect(cells.nth(2)).to_have_text(made["s1"]["cycle"])
            await expect(cells.nth(4)).to_have_text(f"{made['s1']['amount']} TRY")
            await expect(cells.nth(5)).to_have_text("paid")
            for width in LAYOUT_WIDTHS:
                await set_width(page, width)
                await assert_laid_out(page)
                await page.locator("#panel-payouts").scroll_into_view_if_needed()
                await page.locator("#panel-payouts").screenshot(path=screenshot_path(f"books-payouts-{width}.png"))


async def test_the_seller_page_shows_its_own_balance_and_payouts_only(
    settings: Settings, admin: Caller, shopper: Caller, password_hash: str
) -> None:
    await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="s1")
    await make_caller(settings, password_hash, "cappadocia", "seller", seller_id="s2")
    async with serving(settings) as (base_url, api):
        s = Served(base_url, api, admin, shopper)
        made = await _books(s)
        shown = await ok(await api.get("/api/v1/sellers/s1/balance", headers=admin.headers))
        async with chromium() as browser, guarded_page(browser, base_url) as (page, _):
            await log_in(page, base_url, "/seller", "bosphorus")
            totals = page.locator("#balance-totals")
            await expect(totals).to_contain_text("Carried negative")
            payouts = page.locator("#payout-rows tr.payout")
            await expect(payouts).to_have_count(1)
            await expect(payouts.first.locator("td").nth(3)).to_have_text(f"{made['s1']['amount']} TRY")
            await expect(payouts.first.locator("td").nth(4)).to_have_text("paid")
            for width in LAYOUT_WIDTHS:
                await set_width(page, width)
                await assert_laid_out(page)
                figures = await figures_as_read(page, "#balance-totals")
                assert {k: figures[k] for k in ("Available", "Held", "Reserved", "Carried negative")} == {
                    "Available": f"{shown['available']} TRY",
                    "Held": f"{shown['held']} TRY",
                    "Reserved": f"{shown['reserved']} TRY",
                    "Carried negative": f"{shown['carried_negative']} TRY",
                }, f"at {width}px"
                await page.screenshot(path=screenshot_path(f"seller-payouts-{width}.png"), full_page=True)

        async with chromium() as browser, guarded_page(browser, base_url) as (page, _):
            await log_in(page, base_url, "/seller", "cappadocia")
            await expect(page.locator("#status")).to_contain_text("Acting for s2")
            await expect(page.locator("#payout-rows")).to_contain_text("No payouts yet")
            await expect(page.locator("#balance-totals")).to_contain_text("Held")
