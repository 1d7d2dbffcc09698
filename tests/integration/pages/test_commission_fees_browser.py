"""Commission fees on the pages, in a real browser (Playwright driving /usr/bin/chromium) against a real
`quote-service serve` (docs/commission.md): the seller page's "Price for a payout" box answers the API's
smallest price and its payout, and says when no price pays; the books page shows a seller's fees."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from quote_service.config import Settings
from tests.integration.browser import (
    LAYOUT_WIDTHS,
    assert_laid_out,
    chromium,
    figures_as_read,
    guarded_page,
    log_in,
    needs_chromium,
    set_width,
)
from tests.integration.conftest import Caller, make_caller
from tests.integration.pages.test_dashboard_browser import Served, order, served
from tests.integration.pages.test_governance_browser import serving
from tests.integration.pages.test_pages_browser import ok, product

pytestmark = [pytest.mark.slow, needs_chromium]
__all__ = ["served"]  # the fixture

RATES = "/api/v1/commission-rates"
SINCE = "2020-01-01T00:00:00Z"
FEES = (  # sales 5 %, payment 4 % of the gross, 1.00 an order
    {"commission_type": "PERCENTAGE", "rate": "5"},
    {"component": "payment_fee", "commission_type": "PERCENTAGE", "rate": "4", "base": "gross"},
    {"component": "platform_fee", "commission_type": "FLAT", "rate": "1.00", "per": "order"},
)


async def test_the_seller_page_finds_the_price_for_a_payout(
    settings: Settings, admin: Caller, password_hash: str
) -> None:
    await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="s1")
    async with serving(settings) as (base_url, api):
        for body in FEES:
            await ok(await api.post(RATES, json={"currency": "TRY", "effective_from": SINCE, **body},
                                    headers=admin.headers), 201)  # fmt: skip
        mug = await product(api, admin, "S1-MUG", "Stoneware mug", "40.00")
        path = "/api/v1/sellers/s1/payout-preview"
        wanted = await ok(await api.post(path, json={"product_id": mug["id"], "target_payout": "100.00"},
                                         headers=admin.headers))  # fmt: skip

        async with chromium() as browser, guarded_page(browser, base_url) as (page, watch):
            await log_in(page, base_url, "/seller", "bosphorus")
            await expect(page.locator("#status")).to_contain_text("Acting for s1")
            await page.get_by_label("Paid to you").fill("100.00")
            await page.get_by_role("button", name="Find the price").click()
            await expect(page.locator("#message")).to_contain_text(f"{wanted['unit_price']} TRY a unit")
            shown = await figures_as_read(page, "#payout-totals")
            assert shown["Price"] == f"{wanted['unit_price']} TRY"
            assert shown["Payout"] == f"{wanted['payout']} TRY"
            assert shown["of which payment fee"] == f"{wanted['commission']['fees'][0]['amount']} TRY"
            assert shown["of which platform fee"] == "1.00 TRY"
            for width in LAYOUT_WIDTHS:
                await set_width(page, width)
                await assert_laid_out(page)

            watch.expect_console_error("422 (Unprocessable Entity)")
            await page.get_by_label("Paid to you").fill("1000000000000")
            await page.get_by_role("button", name="Find the price").click()
            await expect(page.locator("#message")).to_contain_text("target_payout")
            await expect(page.locator("#payout-totals div")).to_have_count(0)


@pytest.mark.long
async def test_the_books_page_shows_a_sellers_fees(served: Served) -> None:
    s = served
    for body in FEES:
        await ok(await s.api.post(RATES, json={"currency": "TRY", "effective_from": SINCE, **body},
                                  headers=s.admin.headers), 201)  # fmt: skip
    mug = await product(s.api, s.admin, "FE-1", "Stoneware mug", "40.00", seller_id="fees-1")
    await order(s, mug["id"], 2, "fees-1")
    statement = await ok(await s.api.get("/api/v1/sellers/fees-1/statement", headers=s.admin.headers))
    assert statement["fees"] == {"payment_fee": "3.78", "platform_fee": "1.00"}  # 4 % of 94.40; one order

    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, _):
        await log_in(page, s.base_url, "/dashboard/books", "admin")
        await expect(page.get_by_label("Seller", exact=True)).to_have_value("fees-1")
        await expect(page.locator("#statement-totals")).to_contain_text("of which payment fee")
        shown = await figures_as_read(page, "#statement-totals")
        assert (shown["of which payment fee"], shown["of which platform fee"]) == ("3.78 TRY", "1.00 TRY")
        assert shown["Net commission"] == f"{statement['net_commission']} TRY"
