"""The dashboard, the books page and the landing page in a real browser (Playwright driving
/usr/bin/chromium) against a real `quote-service serve` process over this session's PostgreSQL and
Redis. Every page runs guarded: a console error or a request to another host fails the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from quote_service.cli.demo_agent import seed_agent
from quote_service.config import Settings
from tests.integration.analytics.test_guardrail import create_flag, experiment, flag
from tests.integration.browser import (
    LAYOUT_WIDTHS,
    assert_laid_out,
    chart_points,
    chromium,
    guarded_page,
    layout_problems,
    log_in,
    needs_chromium,
    set_width,
)
from tests.integration.checkout_sessions.setup import ACP, ADDRESS, Agent, acp_session, market
from tests.integration.conftest import Caller
from tests.integration.flash import at
from tests.integration.pages.test_pages_browser import ok, product
from tests.integration.servers import cli_env, running_server
from tests.waiting import until

pytestmark = [pytest.mark.slow, needs_chromium]
LONG_NAME = "Hand-thrown stoneware serving platter with a reactive glaze, large, for family dinners"
LONG_REASON = "matched rival-a after the weekend campaign ended and the stock count came back higher than planned"


@dataclass
class Served:
    base_url: str
    api: httpx.AsyncClient
    admin: Caller
    shopper: Caller


@pytest.fixture
async def served(settings: Settings, admin: Caller, shopper: Caller) -> AsyncIterator[Served]:
    """A real server on this test's stores, an HTTP client to it, an admin ("admin") and a shopper."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    with running_server(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield Served(base, client, admin, shopper)


async def order(s: Served, product_id: str, quantity: int, key: str, currency: str = "TRY") -> Any:
    body = {
        "customer_id": str(s.shopper.id),
        "currency": currency,
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "items": [{"product_id": product_id, "quantity": quantity}],
    }
    quoted = await ok(await s.api.post("/api/v1/quote", json=body, headers=s.shopper.headers))
    headers = {**s.shopper.headers, "Idempotency-Key": key}
    return await ok(await s.api.post("/api/v1/orders", json={"quote_id": quoted["quote_id"]}, headers=headers), 201)


async def refund(s: Served, placed: Any, product_id: str, quantity: int, key: str) -> Any:
    body = {"lines": [{"product_id": product_id, "quantity": quantity}], "reason": "arrived broken"}
    headers = {**s.admin.headers, "Idempotency-Key": key}
    return await ok(await s.api.post(f"/api/v1/orders/{placed['id']}/refunds", json=body, headers=headers), 201)


async def observe(s: Served, product_id: str, *prices: tuple[str, str, float]) -> None:
    """Competitor observations (competitor, price, minutes ago), waited for until stored."""
    body = {
        "observations": [
            {"product_id": product_id, "competitor": who, "price": price, "currency": "TRY", "observed_at": at(-ago)}
            for who, price, ago in prices
        ]
    }
    await ok(await s.api.post("/api/v1/competitor-prices", json=body, headers=s.admin.headers), 202)

    async def stored() -> bool:
        params = {"product_id": product_id}
        got = await s.api.get("/api/v1/competitor-prices", params=params, headers=s.admin.headers)
        return len((await ok(got))["items"]) >= len(prices)

    await until(stored, "the competitor observations stored", within=20)


async def move_price(s: Served, product_id: str, price: str, reason: str) -> None:
    body = {"price": price, "reason": reason}
    await ok(await s.api.put(f"/api/v1/products/{product_id}/price", json=body, headers=s.admin.headers))


async def sold_then_ended_sale(s: Served, product_id: str) -> Any:
    """A sale that sold 3 units in two purchases and has ended (and a newer one not started)."""
    item = {"product_id": product_id, "flash_price": "15.00", "allocated_stock": 10, "per_user_limit": 5}
    body = {"name": "Lunch deal", "starts_at": at(-5), "ends_at": at(60), "items": [item]}
    sale = await ok(await s.api.post("/api/v1/flash-sales", json=body, headers=s.admin.headers), 201)
    for key, quantity in (("fp-1", 1), ("fp-2", 2)):
        headers = {**s.shopper.headers, "Idempotency-Key": key}
        buy = {"product_id": product_id, "quantity": quantity}
        await ok(await s.api.post(f"/api/v1/flash-sales/{sale['id']}/purchases", json=buy, headers=headers), 201)
    await ok(await s.api.post(f"/api/v1/flash-sales/{sale['id']}/end", headers=s.admin.headers))
    later = {**body, "name": "Evening deal", "starts_at": at(120), "ends_at": at(180)}
    await ok(await s.api.post("/api/v1/flash-sales", json=later, headers=s.admin.headers), 201)
    return sale


async def price_axis(page: Page) -> dict[str, Any]:
    """The price chart's x range and each competitor line's points as [x, y] (milliseconds, price)."""
    found: dict[str, Any] = await page.evaluate(
        """() => { const c = Chart.getChart(document.getElementById('price-chart'));
          const rivals = c.data.datasets.filter(d => d.label.startsWith('competitor: '));
          return { min: c.options.scales.x.min, max: c.options.scales.x.max,
                   competitors: Object.fromEntries(rivals.map(d => [d.label, d.data.map(p => [p.x, p.y])])) }; }"""
    )
    return found


async def widths(page: Page, row: str, *columns: int) -> list[float]:
    """The widths in pixels of the cells `columns` (0-based) of the first row matching `row`,
    found and measured in one script: the page redraws its tables every poll, and a row found
    first and measured after (a locator's two steps) can be detached by then, measuring 0."""
    found: list[float] = await page.evaluate(
        """([row, columns]) => { const tr = document.querySelector(row);
             return columns.map(i => tr.cells[i].getBoundingClientRect().width); }""",
        [row, list(columns)],
    )
    return found


async def cut_cells(page: Page, *bodies: str) -> list[str]:
    """The texts of the cells in the table `bodies` that an ellipsis cuts short (the tooltip has the rest)."""
    cut: list[str] = await page.locator(", ".join(f"{body} td" for body in bodies)).evaluate_all(
        "cells => cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent)"
    )
    return cut


async def chart(page: Page, canvas_id: str, ready: str = "c.data.datasets.length > 0") -> dict[str, Any]:
    """The chart on `canvas_id` once `ready` holds of its Chart.js instance `c` and it is painted."""
    found = f"Chart.getChart(document.getElementById({canvas_id!r}))"
    await page.wait_for_function(f"() => {{ const c = {found}; return c && ({ready}); }}")

    async def painted() -> bool:
        return bool((await chart_points(page))[canvas_id]["painted"])

    await until(painted, f"{canvas_id} painted", within=20)
    return (await chart_points(page))[canvas_id]


@pytest.mark.long
async def test_dashboard_laid_out_at_1280_and_1920_with_every_chart_drawn(served: Served, pool: asyncpg.Pool) -> None:
    s = served
    platter = await product(s.api, s.admin, "PL-1", LONG_NAME, "120.00")
    await move_price(s, platter["id"], "110.00", LONG_REASON)
    # Observed before the product existed (as the demo's market is): the chart starts at our price.
    await observe(s, platter["id"], ("rival-a", "108.00", 30), ("rival-a", "104.00", 10), ("rival-b", "112.00", 20))
    history = await ok(await s.api.get(f"/api/v1/products/{platter['id']}/price-history", headers=s.admin.headers))
    first = datetime.fromisoformat(history["items"][-1]["changed_at"])  # the creation's price
    created = int(first.timestamp()) * 1000 + first.microsecond // 1000  # as the page's Date reads it
    placed = await order(s, platter["id"], 2, "o-1")
    await refund(s, placed, platter["id"], 1, "r-1")
    await sold_then_ended_sale(s, platter["id"])
    await create_flag(pool, flag())
    await experiment(pool, control=(200, 10), savings=(200, 18))

    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, _):
        await log_in(page, s.base_url, "/dashboard", "admin")
        price = await chart(page, "price-chart", "c.data.datasets.some(d => d.label === 'competitor: rival-b')")
        assert price["painted"]
        assert {"our price", "move: manual", "competitor: rival-a", "competitor: rival-b"} <= set(price["datasets"])
        # The x axis starts where our own price does, not at the older competitor observations
        # (which squeezed our line into the right-hand edge); each competitor enters at its last
        # price seen before then and holds it to now.
        axis = await price_axis(page)
        assert axis["min"] == created
        assert axis["competitors"]["competitor: rival-a"][0] == [created, 104]
        assert axis["competitors"]["competitor: rival-b"][0] == [created, 112]
        assert all(x >= created for points in axis["competitors"].values() for x, _ in points)
        await expect(page.locator("#price-chart-note")).to_contain_text("competitors seen before then start at")
        # The ended sale that sold, not the newer one that has not started (an empty axis before).
        sale = await chart(page, "sale-chart")
        assert sale["painted"]
        assert sale["datasets"] == [LONG_NAME]
        assert sale["points"] == 4  # the start, two purchases, now
        await expect(page.locator("#sale-chart-note")).to_contain_text("Lunch deal: 3 units sold")
        revenue = await chart(page, "revenue-chart-TRY")
        assert revenue["painted"]
        assert revenue["datasets"] == ["revenue (TRY)", "refunds (TRY)"]
        test = await chart(page, "experiment-chart-banner")
        assert test["painted"]
        assert test["datasets"] == ["conversion %", "95 % CI (control + difference)"]
        await expect(page.locator("#experiment-rows")).to_contain_text("savings")
        # The control variant named "control" is not called "control (control)".
        await expect(page.locator("#experiment-rows tr").first.locator("td").nth(2)).to_have_text("control")
        moves = page.locator("#move-rows tr")
        await expect(moves).to_have_count(1)  # the move, not the product's creation
        await expect(moves.first).to_contain_text(LONG_REASON)
        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page)
            # A reason needs more room than a product name: its column is the widest.
            product_width, reason_width = await widths(page, "#move-rows tr", 1, 4)
            assert reason_width > 1.5 * product_width, (width, product_width, reason_width)
        # A name or a reason cut by its column still reads whole in its tooltip.
        await expect(moves.first.locator("td").nth(1)).to_have_attribute("title", LONG_NAME)
        await expect(moves.first.locator("td").nth(4)).to_have_attribute("title", LONG_REASON)


async def test_dashboard_moves_live(served: Served) -> None:
    s = served
    phone = await product(s.api, s.admin, "PH-1", "Phone", "120.00")
    case = await product(s.api, s.admin, "CS-1", "Case", "25.50", category_id="accessories")
    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, _):
        await log_in(page, s.base_url, "/dashboard", "admin")
        await expect(page.locator("#kpi-quotes")).to_have_text("0")
        await expect(page.locator("#move-rows")).to_contain_text("No price has moved yet.")

        # An order moves orders, conversion, revenue and the revenue chart, without a reload.
        placed = await order(s, phone["id"], 1, "dash-1")
        await expect(page.locator("#kpi-orders")).to_have_text("1")
        await expect(page.locator("#kpi-conversion")).to_have_text("100.00 %")
        await expect(page.locator("#kpi-revenue")).to_contain_text(placed["total_amount"])
        assert (await chart(page, "revenue-chart-TRY"))["points"] == 2  # revenue and refunds of one day
        # An order in a second currency: its own KPI figure and its own chart, never one sum or scale.
        mug = await product(s.api, s.admin, "MG-1", "Mug", "30.00", currency="EUR")
        placed_eur = await order(s, mug["id"], 1, "dash-2", currency="EUR")
        await expect(page.locator("#kpi-revenue")).to_contain_text(f"{placed_eur['total_amount']} EUR")
        await expect(page.locator("#kpi-revenue")).to_contain_text(f"{placed['total_amount']} TRY")
        parts = page.locator("#revenue-charts .chart-part")
        await expect(parts).to_have_count(2)
        await expect(parts.nth(0)).to_have_attribute("data-currency", "EUR")
        assert (await chart(page, "revenue-chart-EUR"))["datasets"] == ["revenue (EUR)", "refunds (EUR)"]

        # A manual move appears with its source, and the price chart marks it.
        patch = {"current_price": "130.00"}
        await ok(await s.api.patch(f"/api/v1/products/{phone['id']}", json=patch, headers=s.admin.headers))
        moves = page.locator("#move-rows tr")
        await expect(moves.first).to_contain_text("Phone")
        await expect(moves.first).to_contain_text("120.00 → 130.00 TRY")
        await expect(moves.first.locator(".tag")).to_have_text("manual")
        await page.get_by_label("Product", exact=True).select_option(label="Phone")
        await chart(page, "price-chart", "c.data.datasets.some(d => d.label === 'move: manual')")

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
        await ok(await s.api.post("/api/v1/pricing-rules", json=rule, headers=s.admin.headers), 201)
        stock = {"delta": -45, "reason": "count"}
        await ok(await s.api.post(f"/api/v1/products/{case['id']}/stock", json=stock, headers=s.admin.headers))
        await expect(moves.first).to_contain_text("Case")
        await expect(moves.first).to_contain_text("25.50 → 28.05 TRY")
        await expect(moves.first.locator(".tag")).to_have_text("inventory")
        await expect(moves.first).to_contain_text("low_stock")
        await expect(page.locator("#status")).to_contain_text("Updated")


@pytest.mark.long
async def test_product_picker_changes_the_price_chart(served: Served) -> None:
    s = served
    lamp = await product(s.api, s.admin, "LP-1", "Lamp", "40.00")
    desk = await product(s.api, s.admin, "DK-1", "Desk", "300.00")
    await move_price(s, lamp["id"], "42.00", "spring")
    await move_price(s, desk["id"], "290.00", "clearance")
    our_price = "Chart.getChart(document.getElementById('price-chart')).data.datasets[0].data"
    last_price = f"(() => {{ const d = {our_price}; return d[d.length - 1].y; }})()"
    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, _):
        await log_in(page, s.base_url, "/dashboard", "admin")
        # Left alone, the chart shows the product that moved last.
        await chart(page, "price-chart", "c.data.datasets[0].data.length > 0")
        await expect(page.get_by_label("Product", exact=True)).to_have_value(desk["id"])
        assert await page.evaluate(last_price) == 290
        await page.get_by_label("Product", exact=True).select_option(label="Lamp")
        await expect(page.locator("#price-chart")).to_have_attribute("data-product", lamp["id"])
        assert await page.evaluate(last_price) == 42
        # The choice survives the next polls.
        await expect(page.locator("#status")).not_to_have_text(await page.locator("#status").inner_text())
        await expect(page.get_by_label("Product", exact=True)).to_have_value(lamp["id"])


@pytest.mark.long
async def test_dashboard_acknowledges_a_signal_and_applies_a_decision(served: Served) -> None:
    s = served
    watch = await product(s.api, s.admin, "WA-1", "Watch", "120.00", cost_price="80.00", min_price="85.00")
    await observe(s, watch["id"], ("rival-a", "90.00", 5), ("rival-b", "90.00", 6))

    async def open_signal() -> bool:
        params = {"product_id": watch["id"], "status": "open"}
        return bool((await ok(await s.api.get("/api/v1/signals", params=params, headers=s.admin.headers)))["items"])

    await until(open_signal, "the undercut signal raised", within=20)
    run = {"product_ids": [watch["id"]]}
    [decision] = await ok(await s.api.post("/api/v1/decisions/run", json=run, headers=s.admin.headers))
    assert decision["status"] == "proposed"

    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, _):
        await log_in(page, s.base_url, "/dashboard", "admin")
        # The signal in words, with what raised it: the cheapest rival and how far below us.
        row = page.locator("#signal-rows tr", has_text="Competitor undercut")
        await expect(row).to_contain_text("Watch")
        await expect(row).to_contain_text("at 90.00 TRY, 25.00 % below us")
        await row.get_by_role("button", name="Acknowledge").click()
        await expect(row).to_have_count(0)  # the panel lists open signals only
        decision_row = page.locator("#decision-rows tr", has_text="Watch")
        await expect(decision_row).to_contain_text("proposed")
        await decision_row.get_by_role("button", name="Apply").click()
        await expect(decision_row).to_contain_text("applied")
        await expect(page.locator("#move-rows tr").first.locator(".tag")).to_have_text("decision")

    signals = await ok(await s.api.get("/api/v1/signals", params={"product_id": watch["id"]}, headers=s.admin.headers))
    assert [x["status"] for x in signals["items"]] == ["acknowledged"]
    moved = await ok(await s.api.get(f"/api/v1/products/{watch['id']}", headers=s.admin.headers))
    assert moved["current_price"] == decision["recommended_price"]


# Which of the KPIs' texts the browser wraps: each, laid out again unwrappable, would be shorter.
_WRAPPED = """els => els.filter(e => {
  const height = e.getBoundingClientRect().height;
  e.style.whiteSpace = "nowrap";
  const unwrapped = e.getBoundingClientRect().height;
  e.style.whiteSpace = "";
  return height > unwrapped + 1;
}).map(e => e.textContent)"""


async def test_the_kpis_group_thousands_and_keep_each_figure_on_one_line(served: Served) -> None:
    """Over a million lira and a hundred thousand euros of orders today, a refund and a cancel: at
    1280 and 1920 px the six KPIs are one row, no label or amount wraps, thousands are grouped."""
    s = served
    press = await product(s.api, s.admin, "KP-1", "Printing Press", "312345.67")
    loom = await product(s.api, s.admin, "KP-2", "Loom", "123456.78", currency="EUR")
    placed = await order(s, press["id"], 4, "kpi-1")
    await order(s, loom["id"], 1, "kpi-2", currency="EUR")
    await refund(s, placed, press["id"], 1, "kpi-r1")
    cancelled = await order(s, press["id"], 1, "kpi-3")
    headers = {**s.shopper.headers, "Idempotency-Key": "kpi-c1"}
    await ok(await s.api.post(f"/api/v1/orders/{cancelled['id']}/cancel", headers=headers))
    summary = await ok(await s.api.get("/api/v1/dashboard/summary", headers=s.admin.headers))
    today = {m["currency"]: m for m in summary["today"]}
    grouped = {c: format(Decimal(m["revenue"]), ",") for c, m in today.items()}
    assert Decimal(today["TRY"]["revenue"]) > 1_000_000
    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, _):
        await log_in(page, s.base_url, "/dashboard", "admin")
        revenue = page.locator("#kpi-revenue .amount")
        await expect(revenue).to_have_text([f"{grouped['EUR']} EUR", f"{grouped['TRY']} TRY"])
        refunds = format(Decimal(today["TRY"]["refunds"]), ",")
        await expect(page.locator("#kpi-refunds .amount")).to_have_text(f"{refunds} TRY")
        await expect(page.locator("#kpi-refund-count")).to_have_text("2 refunds and cancellations")
        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page)
            tops = await page.locator(".kpi").evaluate_all("kpis => kpis.map(k => k.getBoundingClientRect().top)")
            assert len(set(tops)) == 1, f"the KPIs take more than one row at {width}px: {tops}"
            texts = page.locator(".kpi .label, .kpi .amount, .kpi .value:not(:has(.amount))")
            assert await texts.evaluate_all(_WRAPPED) == [], width


@pytest.mark.long
async def test_books_page_shows_refunds_statement_price_lists_and_promotions(served: Served) -> None:
    s = served
    vase = await product(s.api, s.admin, "VS-1", LONG_NAME, "80.00", seller_id="atelier-7")
    placed = await order(s, vase["id"], 3, "b-1")
    made = await refund(s, placed, vase["id"], 1, "b-r1")
    # The widest compact window whatever the hour the test runs at: another day of this year at a
    # two-digit hour ("Nov 22, 10:58 PM → Nov 26, 10:58 PM"; on the day itself it is only the clock).
    today = datetime.now(UTC).replace(hour=22, minute=58, second=0, microsecond=0)
    wide = {"starts_at": (today - timedelta(days=2)).isoformat(), "ends_at": (today + timedelta(days=2)).isoformat()}
    price_list = {
        "name": "Trade customers",
        "currency": "TRY",
        "customer_groups": ["b2b"],
        "priority": 5,
        "prices": [{"product_id": vase["id"], "amount": "70.00"}],
        **wide,
    }
    await ok(await s.api.post("/api/v1/price-lists", json=price_list, headers=s.admin.headers), 201)
    promotions = [
        {"name": "5 % off big baskets", "kind": "PERCENT_OFF", "config": {"percent": 5, "max_discount": "40.00"},
         "conditions": {"min_subtotal": "500.00", "currency": "TRY"}, "starts_at": "2020-01-01T12:00:00Z"},
        {"name": "Three for two", "kind": "BUY_X_GET_Y", "combinable": False, "starts_at": at(-60),
         "config": {"buy": {"quantity": 2, "category_ids": ["electronics"]},
                    "get": {"quantity": 1, "category_ids": ["electronics"]}}},
        {"name": "Vases ship free", "kind": "FREE_DELIVERY", "conditions": {"product_ids": [vase["id"]]},
         "combines_with_coupons": False, "starts_at": at(-60), "ends_at": at(600), "funded_by": "platform"},
        {"name": "Long weekend", "kind": "FREE_DELIVERY", "conditions": {"currency": "TRY"}, **wide},
        {"name": "Any 3 from home", "kind": "FIXED_PRICE_BUNDLE", "group": "spring", "starts_at": at(-60),
         "config": {"category_ids": ["home"], "quantity": 3, "price": "150.00", "currency": "TRY"},
         "budget": {"amount": "500.00", "currency": "TRY"}},
    ]  # fmt: skip
    for promotion in promotions:
        await ok(await s.api.post("/api/v1/promotions", json=promotion, headers=s.admin.headers), 201)
    spring = {"code": "SPRING", "type": "PERCENTAGE", "value": 10, "valid_from": "2020-01-01T00:00:00Z"}
    await ok(await s.api.post("/api/v1/coupons", json=spring, headers=s.admin.headers), 201)
    codes = {"count": 25, "prefix": "SPR-"}
    await ok(await s.api.post("/api/v1/coupons/SPRING/codes", json=codes, headers=s.admin.headers), 201)
    statement = await ok(await s.api.get("/api/v1/sellers/atelier-7/statement", headers=s.admin.headers))

    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, watch):
        await log_in(page, s.base_url, "/dashboard/books", "admin")
        refund_row = page.locator("#refund-rows tr.refund")
        await expect(refund_row).to_have_count(1)
        await expect(refund_row).to_contain_text(f"{made['total_refunded']} TRY")
        await expect(refund_row).to_contain_text("arrived broken")
        await expect(page.get_by_label("Seller", exact=True)).to_have_value("atelier-7")
        await expect(page.locator("#statement-totals")).to_contain_text(f"{statement['payout']} TRY")
        await expect(page.locator("#statement-rows tr")).to_have_count(len(statement["days"]))
        await expect(page.locator("#price-list-rows")).to_contain_text("Trade customers")
        await expect(page.locator("#price-list-rows")).to_contain_text("b2b")
        await expect(page.locator("#panel-statement th").last).to_have_text("Payout (TRY)")
        # Each offer and its conditions in words, never the configuration's JSON.
        offers = page.locator("#promotion-rows tr")
        big, three, ships = (offers.filter(has_text=name) for name in ("5 % off big", "Three for two", "Vases ship"))
        await expect(big.locator("td.offer")).to_have_text("5 % off, at most 40.00 TRY")
        await expect(big.locator("td.conditions")).to_have_text("baskets from 500.00 TRY")
        await expect(big.locator("td.combines")).to_have_text("promotions and coupons")
        await expect(big.locator("td").nth(5)).to_have_text("Jan 1, 2020 → open-ended")
        await expect(three.locator("td.offer")).to_have_text("Buy 2 from electronics, get 1 free")
        await expect(three.locator("td.conditions")).to_have_text("every basket")
        await expect(three.locator("td.combines")).to_have_text("coupons")
        await expect(ships.locator("td.offer")).to_have_text("Free delivery")
        batch = page.locator("#code-batch-rows tr")
        await expect(batch).to_have_count(1)
        await expect(batch).to_contain_text("SPRING")
        await expect(batch).to_contain_text("SPR-")
        await expect(batch.locator("td").nth(2)).to_have_text("25")
        await expect(batch.locator("td").nth(3)).to_have_text("0")
        # docs/promotions.md#merchandisers-promotions: the kind in words, its group and its budget's use.
        await expect(offers.filter(has_text="Any 3 from home").locator("td.offer")).to_have_text(
            "Any 3 from home for 150.00 TRY; the best of group spring; budget 0.00 TRY of 500.00 TRY used"
        )
        await expect(ships.locator("td.conditions")).to_have_text(f"on {LONG_NAME} only")
        await expect(ships.locator("td.combines")).to_have_text("promotions")
        # Who pays for each discount: the seller unless the platform funds it.
        await expect(ships.locator("td.funded")).to_have_text("the platform")
        await expect(big.locator("td.funded")).to_have_text("the seller")
        await expect(page.locator("#promotion-rows")).not_to_contain_text("{")
        # A bad range is refused in words (the API's 422, which the browser also logs).
        watch.expect_console_error("422 (Unprocessable Entity)")
        await page.get_by_label("From", exact=True).fill("2030-01-01")
        await page.get_by_role("button", name="Show").click()
        await expect(page.locator("#message")).to_contain_text("from must not be after to")
        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page)
            # Nothing of a promotion or a price list is cut short: offers wrap, dates are compact.
            assert await cut_cells(page, "#promotion-rows", "#price-list-rows") == [], width


@pytest.mark.long
async def test_a_shopper_gets_no_books(served: Served) -> None:
    async with chromium() as browser, guarded_page(browser, served.base_url) as (page, watch):
        watch.expect_console_error("403 (Forbidden)")  # the page itself answers 403
        await log_in(page, served.base_url, "/dashboard/books", "shopper")
        await expect(page.get_by_role("alert")).to_contain_text("needs an administrator")
        await expect(page.locator("#refund-rows")).to_have_count(0)
    books = await served.api.get("/api/v1/dashboard/books", headers=served.shopper.headers)
    assert books.status_code == 403


async def test_landing_page_links_every_door_and_no_page_lacks_its_icon(served: Served) -> None:
    async with chromium() as browser, guarded_page(browser, served.base_url) as (page, _):
        await page.goto(served.base_url + "/")
        for name, path in (("Pricing dashboard", "/dashboard"), ("Store", "/store"), ("API docs", "/docs")):
            await expect(page.locator(".doors").get_by_role("link", name=name)).to_have_attribute("href", path)
        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page, ".landing")
        for path in ("/", "/dashboard", "/store", "/dashboard/books"):
            await page.goto(served.base_url + path)
            icon = await page.locator("link[rel=icon]").get_attribute("href")
            assert icon is not None
            assert (await page.request.get(served.base_url + icon)).status == 200
        await page.get_by_role("link", name="API docs", exact=True).first.click()
        await page.wait_for_url(served.base_url + "/docs")
    favicon = await served.api.get("/favicon.ico")
    assert (favicon.status_code, favicon.headers["content-type"]) == (200, "image/svg+xml")
    landing = await served.api.get("/")
    assert landing.status_code == 200
    assert "default-src 'none'" in landing.headers["content-security-policy"]


STATIC = Path(__file__).resolve().parents[3] / "quote_service" / "pages" / "static"
_PAINTED_AT = """([x, y]) => {
  const chart = Chart.getChart(document.getElementById('c'));
  const px = Math.round(chart.scales.x.getPixelForValue(x)), py = Math.round(chart.scales.y.getPixelForValue(y));
  const ratio = chart.canvas.width / chart.width;
  const data = chart.ctx.getImageData((px - 1) * ratio, (py - 2) * ratio, 3 * ratio, 5 * ratio).data;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 128) return true;
  return false;
}"""


async def test_the_price_chart_holds_each_price_until_its_next_move() -> None:
    """Our price and a competitor's are step lines that keep a price until the next one: halfway
    between two prices the line is at the first, not already at the second (Chart.js's stepped
    "after" draws the rise at the earlier point, so every move looked early)."""
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 900, "height": 500})
        await page.set_content('<div style="width:800px;height:400px"><canvas id="c"></canvas></div>')
        for script in ("vendor/chart.js-4.6.1/chart.umd.min.js", "common.js", "dashboard_charts.js"):
            await page.add_script_tag(path=STATIC / script)
        await page.evaluate(
            """() => DashCharts.price(document.getElementById('c'), { currency: 'TRY', now: 100000,
                 history: [{ t: 0, price: 100 }, { t: 60000, price: 200, move: true, source: 'manual', reason: 'up' }],
                 competitors: new Map([['rival', [{ x: 20000, y: 150 }, { x: 80000, y: 250 }]]]) })"""
        )
        painted = [await page.evaluate(_PAINTED_AT, [x, y]) for x, y in ((30000, 100), (30000, 200))]
        assert painted == [True, False]  # our 100 holds until the move at 60000
        painted = [await page.evaluate(_PAINTED_AT, [x, y]) for x, y in ((50000, 150), (50000, 250))]
        assert painted == [True, False]  # the rival's 150 holds until it is seen at 250


async def test_the_guards_catch_outside_requests_console_errors_and_clipping() -> None:
    """The helpers every page test leans on can fail: a CDN script, a console error, a table
    wider than its panel and an untitled ellipsis are each reported."""
    html = """<!doctype html><html><body style="margin:0">
      <script src="https://cdn.example.com/chart.js"></script>
      <script>console.error("boom")</script>
      <section class="panel" id="wide" style="width:300px">
        <table style="width:600px"><tr><td>x</td></tr></table></section>
      <section class="panel" id="cut" style="width:300px">
        <p style="overflow:hidden;text-overflow:ellipsis;white-space:nowrap">
        a sentence far too long to fit in three hundred pixels of panel width without being cut</p></section>
    </body></html>"""
    async with chromium() as browser:
        with pytest.raises(AssertionError, match=r"cdn\.example\.com"):
            async with guarded_page(browser, "http://127.0.0.1:9") as (page, watch):
                await page.set_content(html)
        async with guarded_page(browser, "http://127.0.0.1:9") as (page, watch):
            watch.expect_console_error("")
            await page.set_content(html.replace("https://cdn.example.com/chart.js", "data:text/javascript,"))
            assert any("boom" in e for e in watch.console_errors)
            problems = await layout_problems(page)
            assert any(p.startswith("#wide: content 600px wide in a 300px panel") for p in problems)
            assert any("is cut with no title" in p for p in problems)


async def test_the_agents_panel_shows_the_demo_agents_sessions_and_orders_at_1280_and_1920(
    served: Served, settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """seed-demo's agent (cli/demo_agent.py) checks out three sessions (one completed, one canceled, one left
    open) and buys in a flash sale; the panel shows its row as GET /api/v1/analytics/agents has it, laid out
    at both widths, with a screenshot of each under the test's tmp_path."""
    s = served
    demo_agent = await seed_agent(settings, pool)
    assert demo_agent.key is not None
    agent = Agent(s.api, {"Authorization": f"Bearer {demo_agent.key}"})  # type: ignore[arg-type]
    goods = await market(s.api, s.admin)  # type: ignore[arg-type]
    body = {"items": [{"id": goods["a"]["id"], "quantity": 1}], "fulfillment_address": ADDRESS}
    sessions = [acp_session(await agent.create(body), 201) for _ in range(3)]
    assert acp_session(await agent.update(sessions[0]["id"], {"fulfillment_option_id": "standard"}))["status"] == (
        "ready_for_payment"
    )
    payment = {"payment_data": {"token": "spt_panel", "provider": "stripe"}}
    assert acp_session(await agent.complete(sessions[0]["id"], payment))["status"] == "completed"
    acp_session(await s.api.post(f"{ACP}/{sessions[1]['id']}/cancel", headers=agent.keyed()))
    item = {"product_id": goods["b"]["id"], "flash_price": "20.00", "allocated_stock": 10, "per_user_limit": 5}
    sale_body = {"name": "Agent lunch deal", "starts_at": at(-5), "ends_at": at(60), "items": [item]}
    sale = await ok(await s.api.post("/api/v1/flash-sales", json=sale_body, headers=s.admin.headers), 201)
    buy = {"product_id": goods["b"]["id"], "quantity": 1, "customer_id": "agent-customer"}
    bought = await s.api.post(f"/api/v1/flash-sales/{sale['id']}/purchases", json=buy, headers=agent.keyed())
    await ok(bought, 201)
    # 3 sessions, 1 completed, 1 abandoned, none expired, 33.3 %; 2 orders (the session's, the purchase), 1 flash.
    expected = ["demo-agent", "3", "1", "1", "0", "33.3 %", "2", "1"]

    async with chromium() as browser, guarded_page(browser, s.base_url) as (page, _):
        await log_in(page, s.base_url, "/dashboard", "admin")
        panel = page.locator("#panel-agents")
        await expect(panel).to_be_visible()
        row = page.locator(f'#agent-rows tr[data-key="{demo_agent.key_id}"]')
        await expect(row.locator("td")).to_have_text(expected)
        headers = await panel.locator("thead th").all_text_contents()
        assert headers == [
            "Agent",
            "Sessions",
            "Completed",
            "Abandoned",
            "Expired",
            "Conversion",
            "Orders",
            "Flash buys",
        ]
        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page)
            await expect(row.locator("td")).to_have_text(expected)
            # Each heading on one line: none broken inside a word ("Abandone/d" in a column too narrow).
            lines = await panel.locator("thead th").evaluate_all(
                """cells => cells.map(c => { const r = document.createRange(); r.selectNodeContents(c);
                     return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; })"""
            )
            assert lines == [1] * len(headers), (width, dict(zip(headers, lines, strict=True)))
            await panel.scroll_into_view_if_needed()
            await panel.screenshot(path=tmp_path / f"agents-panel-{width}.png")
            await page.screenshot(path=tmp_path / f"dashboard-{width}.png", full_page=True)
            assert (tmp_path / f"agents-panel-{width}.png").stat().st_size > 0
