"""The governance page (/dashboard/governance) in a real browser (Playwright driving
/usr/bin/chromium) against a real `quote-service serve` with CHANGE_APPROVAL=required: admin A's
change waits as a change request, A's own approve shows the API's self-approval refusal, admin B
sees the diff and approves, the change applies and the entity's audit trail shows it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from quote_service.config import Settings
from tests.integration.audit.test_change_requests import RATE, RATES, requested
from tests.integration.browser import (
    LAYOUT_WIDTHS,
    assert_laid_out,
    chromium,
    guarded_page,
    log_in,
    needs_chromium,
    screenshot_path,
    set_width,
)
from tests.integration.conftest import Caller, make_caller
from tests.integration.pages.test_pages_browser import ok, product
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.integration.servers import cli_env, running_server
from tests.waiting import until

pytestmark = [pytest.mark.slow, needs_chromium]
PAGE = "/dashboard/governance"


@contextlib.asynccontextmanager
async def serving(settings: Settings, **env: str) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A real server on this test's stores (with `env` besides), and an HTTP client to it."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING", **env)
    with running_server(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield base, client


@pytest.fixture
async def four_eyes(settings: Settings) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A real server whose admin writes wait for a second admin, and an HTTP client to it."""
    async with serving(settings, CHANGE_APPROVAL="required") as served:
        yield served


@pytest.fixture
async def at_once(settings: Settings) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A real server whose admin writes apply at once, and an HTTP client to it."""
    async with serving(settings) as served:
        yield served


@pytest.fixture
async def reviewer(settings: Settings, password_hash: str) -> Caller:
    return await make_caller(settings, password_hash, "reviewer", "admin")


async def a_rate(api: httpx.AsyncClient, admin: Caller, reviewer: Caller) -> dict[str, Any]:
    """A commission rate to change (12.5 %): A asks for it, B approves it through the API."""
    created = await requested(await api.post(RATES, json=RATE, headers=admin.headers))
    approved = await ok(await api.post(f"/api/v1/change-requests/{created}/approve", headers=reviewer.headers))
    rate: dict[str, Any] = approved["result"]["data"]
    return rate


async def test_a_change_request_approved_on_the_page_applies_and_is_audited(
    four_eyes: tuple[str, httpx.AsyncClient], admin: Caller, reviewer: Caller
) -> None:
    base_url, api = four_eyes
    rate = await a_rate(api, admin, reviewer)
    # A changes the rate: a change request, not yet applied.
    change_id = await requested(await api.patch(f"{RATES}/{rate['id']}", json={"rate": "13"}, headers=admin.headers))
    assert float((await ok(await api.get(f"{RATES}/{rate['id']}", headers=admin.headers)))["rate"]) == 12.5

    async with chromium() as browser:
        # A cannot approve their own request: the page says why, in the API's words.
        async with guarded_page(browser, base_url) as (page, guard):
            guard.expect_console_error("403")
            await log_in(page, base_url, PAGE, "admin")
            row = page.locator(f"#change-{change_id}")
            await expect(row).to_contain_text("rate:")
            await row.get_by_role("button", name="Approve").click()
            await expect(row.locator(".refusal")).to_contain_text("another admin must")
            await expect(row.locator(".refusal")).to_contain_text("SELF_APPROVAL")
            await expect(row.get_by_role("button", name="Approve")).to_be_enabled()

        # B sees the diff and approves it.
        async with guarded_page(browser, base_url) as (page, _):
            await log_in(page, base_url, PAGE, "reviewer")
            await expect(page.get_by_role("link", name="Audit and approvals")).to_have_attribute("aria-current", "page")
            row = page.locator(f"#change-{change_id}")
            field = row.locator("li[data-field=rate]")
            await expect(field.locator("del")).to_have_text("12.5")
            await expect(field.locator("ins")).to_have_text("13")
            await expect(row).to_contain_text("admin")
            for width in LAYOUT_WIDTHS:
                await set_width(page, width)
                await assert_laid_out(page)
            await row.get_by_role("button", name="Approve").click()
            await expect(page.locator("#message")).to_contain_text("approved and applied")
            await expect(row).to_have_count(0)
            await expect(page.locator("#change-rows")).to_contain_text("No change requests wait")

            # The change applied: the API shows it.
            shown = await ok(await api.get(f"{RATES}/{rate['id']}", headers=admin.headers))
            assert float(shown["rate"]) == 13

            # The rate's audit trail, newest first: B's update (12.5 → 13), then the create.
            await page.locator("#audit-type").select_option("commission_rate")
            await page.locator("#audit-id").fill(rate["id"])
            await page.get_by_role("button", name="Show").click()
            await expect(page.locator("#audit-scope")).to_contain_text(rate["id"])
            trail = page.locator("#audit-rows tr.audit")
            await expect(trail).to_have_count(2)
            newest = trail.nth(0)
            await expect(newest).to_have_attribute("data-action", "update")
            await expect(newest).to_contain_text("reviewer")
            rate_change = newest.locator("li[data-field=rate]")
            await expect(rate_change.locator("del")).to_have_text(re.compile(r"^12\.50*$"))
            await expect(rate_change.locator("ins")).to_have_text(re.compile(r"^13(\.0*)?$"))
            request_id = await newest.locator("td").nth(5).get_attribute("title")
            assert request_id is not None
            assert len(request_id) >= 16  # the writing request's X-Request-ID, not the empty cell's dash
            await expect(trail.nth(1)).to_have_attribute("data-action", "create")

            # Clicking an audit row's entity shows that entity's trail: the change request's own.
            await page.locator("#audit-all").click()
            request_row = page.locator("#audit-rows tr.audit", has_text=change_id).first
            await request_row.get_by_role("button", name=f"change_request {change_id}").click()
            await expect(page.locator("#audit-id")).to_have_value(change_id)
            actions = page.locator("#audit-rows tr.audit")
            await expect(actions).to_have_count(3)
            for i, action in enumerate(("apply", "approve", "create")):
                await expect(actions.nth(i)).to_have_attribute("data-action", action)
            for width in LAYOUT_WIDTHS:
                await set_width(page, width)
                await assert_laid_out(page)
            await page.screenshot(path=screenshot_path("governance.png"), full_page=True)


async def test_a_shopper_is_refused_the_governance_page(
    four_eyes: tuple[str, httpx.AsyncClient], shopper: Caller
) -> None:
    base_url, _ = four_eyes
    async with chromium() as browser, guarded_page(browser, base_url) as (page, guard):
        guard.expect_console_error("403")
        await log_in(page, base_url, PAGE, "shopper")
        await expect(page.get_by_role("alert")).to_contain_text("needs an administrator")
        await expect(page.locator("#change-rows")).to_have_count(0)


@pytest.mark.long
async def test_a_conflict_is_said_and_a_rejection_leaves_the_list(
    four_eyes: tuple[str, httpx.AsyncClient], admin: Caller, reviewer: Caller
) -> None:
    base_url, api = four_eyes
    rate_path = f"{RATES}/{(await a_rate(api, admin, reviewer))['id']}"
    first = await requested(await api.patch(rate_path, json={"rate": "13"}, headers=admin.headers))
    second = await requested(await api.patch(rate_path, json={"rate": "14"}, headers=admin.headers))
    third = await requested(await api.patch(rate_path, json={"rate": "15"}, headers=admin.headers))

    async with chromium() as browser, guarded_page(browser, base_url) as (page, guard):
        guard.expect_console_error("409")
        await log_in(page, base_url, PAGE, "reviewer")
        await expect(page.locator("#change-rows tr.change")).to_have_count(3)
        # The first applies; the second was asked of the rate as it was before: a conflict.
        await page.locator(f"#change-{first}").get_by_role("button", name="Approve").click()
        await expect(page.locator(f"#change-{first}")).to_have_count(0)
        await page.locator(f"#change-{second}").get_by_role("button", name="Approve").click()
        await expect(page.locator("#message")).to_contain_text("CHANGE_CONFLICT")
        await expect(page.locator("#message")).to_contain_text(second)
        await expect(page.locator(f"#change-{second}")).to_have_count(0)
        await page.locator(f"#change-{third}").get_by_role("button", name="Reject").click()
        await expect(page.locator("#message")).to_contain_text("rejected")
        await expect(page.locator("#change-rows")).to_contain_text("No change requests wait")

    statuses = {
        c["id"]: c["status"]
        for c in (await ok(await api.get("/api/v1/change-requests", headers=admin.headers)))["items"]
    }
    assert (statuses[first], statuses[second], statuses[third]) == ("applied", "conflicted", "rejected")
    assert float((await ok(await api.get(rate_path, headers=admin.headers)))["rate"]) == 13


def signed(value: Decimal) -> str:
    """A delta as the page writes it: a sign, two decimals ("+0.00", never "-0.00")."""
    cents = value.quantize(Decimal("0.01"))
    return f"+{cents}" if cents >= 0 else str(cents)


@pytest.mark.long
async def test_a_simulation_is_shown_next_to_its_request(
    four_eyes: tuple[str, httpx.AsyncClient], admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    base_url, api = four_eyes
    rate = await a_rate(api, admin, reviewer)
    # Quotes of the rate's category and currency, logged before the change is asked.
    for quantity in (1, 2, 4):
        item = {"product_id": "sim-item", "quantity": quantity, "unit_price": 25.50}
        items = [{**item, "category_id": rate["category_id"]}]
        body = quote_body(items=items, is_express_delivery=False, currency=rate["currency"])
        await ok(await api.post(QUOTE, json=body, headers=admin.headers))

    async def logged() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM quote_log") == 3)

    await until(logged, "the quotes' log rows")
    change_id = await requested(await api.patch(f"{RATES}/{rate['id']}", json={"rate": "13"}, headers=admin.headers))
    gone = await requested(await api.patch(f"{RATES}/{rate['id']}", json={"rate": "14"}, headers=admin.headers))

    async with chromium() as browser, guarded_page(browser, base_url) as (page, guard):
        guard.expect_console_error("422")
        await log_in(page, base_url, PAGE, "reviewer")
        # A request gone since the page loaded: the API's 422 is said on its row.
        await expect(page.locator(f"#change-{gone}")).to_have_count(1)
        await pool.execute("DELETE FROM change_requests WHERE id = $1::uuid", gone)
        await page.locator(f"#change-{gone}").get_by_role("button", name="Simulate").click()
        refused = page.locator(f"#change-{gone} .simulation.failed")
        await expect(refused).to_contain_text("VALIDATION_FAILED")
        await expect(refused).to_contain_text("change_request_id: not found")

        row = page.locator(f"#change-{change_id}")
        await row.get_by_role("button", name="Simulate").click()
        shown = row.locator(".simulation")
        await expect(shown).to_contain_text("changed ·")
        simulation_id = await shown.get_attribute("data-simulation")
        result = await ok(await api.get(f"/api/v1/simulations/{simulation_id}", headers=admin.headers))
        assert result["status"] == "done"
        assert (result["quotes"], result["changed_quotes"]) == (3, 3)
        [(currency, delta)] = result["delta"].items()
        commission = Decimal(delta["commission"]["category"]) + Decimal(delta["commission"]["seller"])
        assert commission > 0  # 12.5 % → 13 % of the category's sales
        await expect(shown).to_have_text(
            f"3 quotes, 3 changed · {currency} total {signed(Decimal(delta['total']))}, commission {signed(commission)}"
        )
        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page)
    # Nothing applied: the request still waits, the rate is as it was.
    assert float((await ok(await api.get(f"{RATES}/{rate['id']}", headers=admin.headers)))["rate"]) == 12.5
    asked = await ok(await api.get(f"/api/v1/change-requests/{change_id}", headers=admin.headers))
    assert asked["status"] == "pending"


BOOKKEEPING = ("id", "version", "cache_version", "created_at", "created_by", "updated_at", "updated_by")


@pytest.mark.long
async def test_the_audit_trail_names_products_and_leaves_out_bookkeeping(
    at_once: tuple[str, httpx.AsyncClient], admin: Caller
) -> None:
    base_url, api = at_once
    kettle = await product(api, admin, "GOV-1", "Copper Kettle", "100.00")
    patch = {"current_price": "90.00"}
    await ok(await api.patch(f"/api/v1/products/{kettle['id']}", json=patch, headers=admin.headers))
    rule = {
        "name": "kettle tiers", "type": "QUANTITY_TIER", "product_id": kettle["id"],
        "effective_from": "2020-01-01T00:00:00Z",
        "configuration": {"tiers": [{"min_quantity": 2, "adjust_percent": "-5"}]},
    }  # fmt: skip
    await ok(await api.post("/api/v1/pricing-rules", json=rule, headers=admin.headers), 201)
    euro = {"name": "EU web", "currency": "EUR", "prices": [{"product_id": kettle["id"], "amount": "23.60"}]}
    await ok(await api.post("/api/v1/price-lists", json=euro, headers=admin.headers), 201)

    async with chromium() as browser, guarded_page(browser, base_url) as (page, _):
        await log_in(page, base_url, PAGE, "admin")
        rows = page.locator("#audit-rows tr.audit")
        # The product's price change: the product by its name, the one field an admin changed.
        update = page.locator("#audit-rows tr.audit[data-action=update]")
        await expect(update.locator("button.entity")).to_have_text("product Copper Kettle")
        await expect(update.locator("li[data-field]")).to_have_count(1)
        await expect(update.locator("li[data-field=current_price] ins")).to_have_text(re.compile(r"^90(\.00)?$"))
        # What a create set, a product it names by name; never the rows' bookkeeping.
        made_rule = rows.filter(has_text="kettle tiers")
        await expect(made_rule.locator("li[data-field=product_id] ins")).to_have_text("Copper Kettle")
        price = rows.filter(has=page.locator("button.entity", has_text="price_list_price"))
        await expect(price.locator("button.entity")).to_have_text("price_list_price Copper Kettle in EU web")
        await expect(price.locator("li[data-field=product_id] ins")).to_have_text("Copper Kettle")
        await expect(price.locator("li[data-field=price_list_id] ins")).to_have_text("EU web")
        for field in BOOKKEEPING:
            await expect(page.locator(f"#audit-rows li[data-field={field}]")).to_have_count(0)
        for width in LAYOUT_WIDTHS:
            await set_width(page, width)
            await assert_laid_out(page)
        # The product's own trail, from its name: its update, then its create.
        await update.locator("button.entity").click()
        await expect(page.locator("#audit-id")).to_have_value(kettle["id"])
        await expect(page.locator("#audit-type")).to_have_value("product")
        await expect(rows).to_have_count(2)
