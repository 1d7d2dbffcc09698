"""POST /api/v1/prices (docs/markets.md#display-prices): each product's price is what a real
one-product quote charges per unit, for many kinds of product; errors per product never fail the call."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import new_sale
from tests.integration.price_lists.test_price_list_quotes import key_headers, user_headers
from tests.integration.quotes.test_markets import product

Client = AsyncTestClient[Litestar]
PRICES = "/api/v1/prices"
SINCE = "2025-01-01T00:00:00+00:00"
NOWHERE = {"city": "Nowhere", "country": "ZZ"}  # no regional rule: the place a display price has


async def prices(client: Client, headers: dict[str, str], ids: list[str], **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(PRICES, json={"product_ids": ids, **body}, headers=headers))
    return data


async def charged_per_unit(
    client: Client, headers: dict[str, str], product_id: str, quantity: int = 1, **body: Any
) -> tuple[str, dict[str, Any]]:
    """A real quote of `quantity` units of the product alone: (line total after discounts ÷ quantity, quote)."""
    quote_body = {
        "customer_id": "c-1",
        "items": [{"product_id": product_id, "quantity": quantity}],
        "delivery_address": NOWHERE,
        "currency": "TRY",
        **body,
    }
    quote: dict[str, Any] = expect_ok(await client.post("/api/v1/quote", json=quote_body, headers=headers))
    total = sum(Decimal(line["line_subtotal"]) - Decimal(line["discount"]) for line in quote["items"])
    return str((total / quantity).quantize(Decimal("0.01"))), quote


@pytest.fixture
async def shelf(client: Client, admin: Caller) -> dict[str, str]:
    """Net TRY products, one under a rule, one under an automatic promotion, one on a flash sale, and one
    with a tax-inclusive EUR web price list."""
    ids = {
        "plain": await product(client, admin, "100.00"),
        "cheap": await product(client, admin, "9.99"),
        "ruled": await product(client, admin, "250.00", category_id="ruled-cat"),
        "promoted": await product(client, admin, "80.00", category_id="promo-cat"),
        "euro": await product(client, admin, "100.00"),
    }
    _, flashed = await new_sale(client, admin)
    ids["flash"] = flashed["id"]
    rule = {
        "name": "ruled -10 %", "type": "QUANTITY_TIER",
        "configuration": {"tiers": [{"min_quantity": 1, "adjust_percent": -10}]},
        "category_id": "ruled-cat", "effective_from": SINCE,
    }  # fmt: skip
    expect_ok(await client.post("/api/v1/pricing-rules", json=rule, headers=admin.headers), 201)
    promotion = {
        "name": "Promo 25 %", "kind": "PERCENT_OFF", "config": {"percent": 25},
        "conditions": {"category_ids": ["promo-cat"]}, "starts_at": SINCE,
    }  # fmt: skip
    expect_ok(await client.post("/api/v1/promotions", json=promotion, headers=admin.headers), 201)
    euro_list = {
        "name": "EU web", "currency": "EUR", "channels": ["web"], "prices_include_tax": True,
        "prices": [{"product_id": ids["euro"], "amount": "23.60"}],
    }  # fmt: skip
    expect_ok(await client.post("/api/v1/price-lists", json=euro_list, headers=admin.headers), 201)
    return ids


async def test_every_price_is_what_a_one_product_quote_charges_per_unit(
    client: Client, admin: Caller, shelf: dict[str, str]
) -> None:
    shown = await prices(client, admin.headers, list(shelf.values()), currency="TRY")

    assert shown["errors"] == []
    by_id = {item["product_id"]: item for item in shown["items"]}
    assert list(by_id) == list(shelf.values())  # in the order asked
    for name, product_id in shelf.items():
        per_unit, quote = await charged_per_unit(client, admin.headers, product_id)
        assert by_id[product_id]["price"] == per_unit, name
        assert by_id[product_id]["list_price"] == quote["items"][0]["list_unit_price"], name
    assert by_id[shelf["plain"]] | {"product_id": "-"} == {
        "product_id": "-", "currency": "TRY", "list_price": "100.00", "price": "100.00", "net": "100.00",
        "gross": "118.00", "tax_rate": "18", "prices_include_tax": False, "price_source": "catalog",
        "price_list_id": None, "flash_sale_id": None, "promotions": [], "prior_price": None,
        "reduction_started_at": None,
    }  # fmt: skip
    assert by_id[shelf["ruled"]]["price"] == "225.00"
    promoted = by_id[shelf["promoted"]]
    assert (promoted["price"], [(p["name"], p["amount"]) for p in promoted["promotions"]]) == (
        "60.00",
        [("Promo 25 %", "20.00")],
    )
    flashed = by_id[shelf["flash"]]
    assert (flashed["price"], flashed["price_source"], flashed["flash_sale_id"] is not None) == (
        "15.00",
        "flash_sale",
        True,
    )


async def test_a_tax_inclusive_euro_web_list_shows_its_gross_price(
    client: Client, admin: Caller, shelf: dict[str, str]
) -> None:
    shown = await prices(client, admin.headers, [shelf["euro"], shelf["plain"]], currency="EUR", channel="web")

    per_unit, quote = await charged_per_unit(client, admin.headers, shelf["euro"], currency="EUR", channel="web")
    [item] = shown["items"]
    assert (item["price"], item["gross"], item["net"], item["prices_include_tax"]) == (per_unit, "23.60", "20.00", True)
    assert (item["price_source"], item["price_list_id"]) == ("price_list", quote["items"][0]["price_list_id"])
    assert shown["errors"] == [{"product_id": shelf["plain"], "code": "CURRENCY_NOT_PRICED"}]
    # the list is for the web channel only
    app = await prices(client, admin.headers, [shelf["euro"]], currency="EUR", channel="app")
    assert app == {"items": [], "errors": [{"product_id": shelf["euro"], "code": "CURRENCY_NOT_PRICED"}]}


async def test_quantity_prices_as_a_quote_of_that_many_units(
    client: Client, admin: Caller, shelf: dict[str, str]
) -> None:
    # 3 flash units at most per customer... the sale allows 2: the third unit is at the catalog price.
    shown = await prices(client, admin.headers, [shelf["flash"], shelf["cheap"]], currency="TRY", quantity=3)
    for item in shown["items"]:
        per_unit, _ = await charged_per_unit(client, admin.headers, item["product_id"], 3)
        assert item["price"] == per_unit


async def test_unknown_and_inactive_products_are_errors_not_failures(client: Client, admin: Caller) -> None:
    live = await create_product(client, admin)
    gone = await create_product(client, admin)
    expect_ok(await client.patch(f"/api/v1/products/{gone['id']}", json={"is_active": False}, headers=admin.headers))
    unknown = "00000000-0000-4000-8000-000000000001"

    shown = await prices(client, admin.headers, [unknown, live["id"], "not-a-uuid", gone["id"]], currency="TRY")

    assert [item["product_id"] for item in shown["items"]] == [live["id"]]
    assert shown["errors"] == [
        {"product_id": unknown, "code": "NOT_FOUND"},
        {"product_id": "not-a-uuid", "code": "NOT_FOUND"},
        {"product_id": gone["id"], "code": "NOT_FOUND"},
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"product_ids": [f"p-{n}" for n in range(201)], "currency": "TRY"}, "product_ids"),
        ({"product_ids": [], "currency": "TRY"}, "product_ids"),
        ({"product_ids": ["p-1", "p-2", "p-1"], "currency": "TRY"}, "product_ids[2]"),
        ({"product_ids": ["p-1"], "currency": "EURO"}, "currency"),
        ({"product_ids": ["p-1"], "currency": "XYZ"}, "currency"),
        ({"product_ids": ["p-1"], "currency": "TRY", "quantity": 0}, "quantity"),
        ({"product_ids": ["p-1"]}, "currency"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: Client, admin: Caller, body: dict[str, Any], field: str
) -> None:
    response = await client.post(PRICES, json=body, headers=admin.headers)
    assert field in field_errors(expect_error(response, 422, "VALIDATION_FAILED")), response.text


async def test_a_shopper_prices_as_itself_and_a_service_key_states_the_group(client: Client, admin: Caller) -> None:
    product_id = await product(client, admin, "100.00")
    trade = {"name": "Trade", "currency": "TRY", "customer_groups": ["b2b"],
             "prices": [{"product_id": product_id, "amount": "80.00"}]}  # fmt: skip
    expect_ok(await client.post("/api/v1/price-lists", json=trade, headers=admin.headers), 201)
    service = await key_headers(client, admin)
    _, shopper = await user_headers(client, admin)

    b2b = await prices(client, service, [product_id], currency="TRY", customer_group="b2b")
    retail = await prices(client, shopper, [product_id], currency="TRY")
    refused = await client.post(
        PRICES, json={"product_ids": [product_id], "currency": "TRY", "customer_group": "b2b"}, headers=shopper
    )

    assert b2b["items"][0]["price"] == "80.00"
    assert retail["items"][0]["price"] == "100.00"
    assert "customer_group" in field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))


async def test_anonymous_callers_are_refused(client: Client) -> None:
    response = await client.post(PRICES, json={"product_ids": ["p-1"], "currency": "TRY"})
    assert response.status_code == 401


# --- prior price (docs/markets.md#prior-price-for-announced-reductions) -----------------------------


async def test_a_flash_sale_shows_the_lowest_price_of_the_30_days_before_it_began(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    sale, flashed = await new_sale(client, admin)
    plain = await product(client, admin, "100.00")
    started = datetime.fromisoformat(sale["starts_at"])
    history = [(50, "19.00"), (40, "22.00"), (20, "30.00"), (10, "25.50")]
    for ago, price in history:  # 19.00 was replaced before the 30 days; 22.00 was in force when they began
        await pool.execute(
            """INSERT INTO price_history (product_id, old_price, new_price, reason, source, actor, changed_at)
               VALUES ($1, NULL, $2, 'test', 'manual', 'test', $3)""",
            UUID(flashed["id"]), Decimal(price), started - timedelta(days=ago),
        )  # fmt: skip

    shown = await prices(client, admin.headers, [flashed["id"], plain], currency="TRY")

    reduced, regular = shown["items"]
    assert (reduced["price"], reduced["prior_price"]) == ("15.00", "22.00")
    assert datetime.fromisoformat(reduced["reduction_started_at"]) == started
    assert (regular["prior_price"], regular["reduction_started_at"]) == (None, None)
    # a quote's lines: the reduced one carries the same; the other has neither key (as before)
    _, quote = await charged_per_unit(client, admin.headers, flashed["id"])
    [line] = quote["items"]
    assert (line["prior_price"], datetime.fromisoformat(line["reduction_started_at"])) == ("22.00", started)
    _, plain_quote = await charged_per_unit(client, admin.headers, plain)
    assert "prior_price" not in plain_quote["items"][0]
    assert "reduction_started_at" not in plain_quote["items"][0]


async def test_a_reduction_with_no_history_before_it_has_no_prior_price(
    client: Client, admin: Caller, shelf: dict[str, str]
) -> None:
    shown = await prices(client, admin.headers, [shelf["promoted"], shelf["flash"]], currency="TRY")

    promoted, flashed = shown["items"]
    # created just now: nothing in the price history before either reduction began
    assert (promoted["prior_price"], datetime.fromisoformat(promoted["reduction_started_at"])) == (
        None,
        datetime.fromisoformat(SINCE),
    )
    assert flashed["prior_price"] is None
    assert flashed["reduction_started_at"] is not None
