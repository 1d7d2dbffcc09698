"""GET /api/v1/products/{id}/price: the quote engine's steps 1-3 for one product, quantity, tier, region.

Every expected price here is also checked against POST /quote for the same item and context:
the look-up is the quote's own pricing, not a second one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import PRODUCTS, create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import buy, new_sale

Client = AsyncTestClient[Litestar]
RULES = "/api/v1/pricing-rules"
START = "2025-01-01T00:00:00Z"


def price_path(product_id: str) -> str:
    return f"{PRODUCTS}/{product_id}/price"


async def rule(client: Client, admin: Caller, name: str, type_: str, configuration: dict[str, Any], **more: Any) -> str:
    body = {"name": name, "type": type_, "configuration": configuration, "effective_from": START, **more}
    return str(expect_ok(await client.post(RULES, json=body, headers=admin.headers), 201)["id"])


@pytest.fixture
async def priced(client: Client, admin: Caller) -> dict[str, Any]:
    """A TRY product at 100.00 (floor 80.00) and three price rules, applied highest priority first:
    +20 % in Istanbul (all day), a tier discount (gold -10 %, bronze -40 %), -5 % from 10 units."""
    product = await create_product(client, admin, base_price="100.00", min_price="80.00", cost_price="50.00")
    ids = {
        "istanbul": await rule(
            client, admin, "istanbul-uplift", "TIME_WINDOW",
            {"adjust_percent": 20, "start_time": "00:00", "end_time": "24:00"}, region="Istanbul", priority=3,
        ),
        "tier": await rule(client, admin, "tiers", "USER_TIER", {"tiers": {"gold": -10, "bronze": -40}}, priority=2),
        "bulk": await rule(
            client, admin, "bulk", "QUANTITY_TIER", {"tiers": [{"min_quantity": 10, "adjust_percent": -5}]}, priority=1
        ),
    }  # fmt: skip
    return {"product": product, "rules": ids}


async def quoted_lines(
    client: Client, headers: dict[str, str], product_id: str, quantity: int, *, tier: str | None, city: str
) -> list[dict[str, Any]]:
    """The lines POST /quote makes of this item in this context."""
    body: dict[str, Any] = {
        "customer_id": "anyone",
        "items": [{"product_id": product_id, "quantity": quantity}],
        "delivery_address": {"city": city, "country": "TR"},
        "currency": "TRY",
    }
    if tier is not None:
        body["customer_tier"] = tier
    lines: list[dict[str, Any]] = expect_ok(await client.post("/api/v1/quote", json=body, headers=headers))["items"]
    return lines


@pytest.mark.parametrize(
    ("params", "unit_price", "rules"),
    [
        ({}, "100.00", []),
        ({"quantity": 10}, "95.00", ["bulk"]),
        ({"quantity": 10, "user_tier": "gold", "region": "Istanbul"}, "102.60", ["istanbul", "tier", "bulk"]),
        ({"quantity": 3, "user_tier": "gold", "region": "istanbul"}, "108.00", ["istanbul", "tier"]),
        ({"quantity": 10, "user_tier": "bronze"}, "80.00", ["tier", "bulk"]),  # 57.00 floored at min_price
        ({"user_tier": "silver", "region": "Ankara"}, "100.00", []),
    ],
)
async def test_the_price_is_the_quote_engines_for_that_context(
    client: Client,
    priced: dict[str, Any],
    service_key: dict[str, str],
    params: dict[str, Any],
    unit_price: str,
    rules: list[str],
) -> None:
    product_id = priced["product"]["id"]

    answer = expect_ok(await client.get(price_path(product_id), params=params, headers=service_key))

    quantity = params.get("quantity", 1)
    assert answer["unit_price"] == unit_price
    assert answer["list_price"] == "100.00"
    assert answer["subtotal"] == str((Decimal(unit_price) * quantity).quantize(Decimal("0.01")))
    assert (answer["quantity"], answer["currency"], answer["flash_sale_id"]) == (quantity, "TRY", None)
    assert [r["rule_id"] for r in answer["applied_rules"]] == [priced["rules"][name] for name in rules]
    assert answer["user_tier"] == params.get("user_tier")
    # The same item in a quote, in the same context, is priced the same, by the same rules.
    lines = await quoted_lines(
        client, service_key, product_id, quantity, tier=params.get("user_tier"), city=params.get("region", "Izmir")
    )
    assert [(line["unit_price"], line["applied_rules"]) for line in lines] == [
        (answer["unit_price"], answer["applied_rules"])
    ]


async def test_a_shopper_is_priced_at_its_own_tier(client: Client, priced: dict[str, Any], shopper: Caller) -> None:
    """The shopper fixture's account is gold: it may repeat its tier, never claim another."""
    path = price_path(priced["product"]["id"])

    own = expect_ok(await client.get(path, params={"quantity": 10, "region": "Istanbul"}, headers=shopper.headers))
    restated = expect_ok(await client.get(path, params={"quantity": 10, "user_tier": "GOLD"}, headers=shopper.headers))
    claimed = await client.get(path, params={"user_tier": "bronze"}, headers=shopper.headers)

    assert (own["unit_price"], own["user_tier"]) == ("102.60", "gold")
    assert restated["unit_price"] == "85.50"
    assert list(field_errors(expect_error(claimed, 422, "VALIDATION_FAILED"))) == ["user_tier"]


async def test_flash_units_are_priced_first_within_the_customers_limit(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    """A sale at 15.00 with 2 units per customer on a 25.50 product: 3 units are 2 at the flash
    price and 1 at the list price; a shopper who already bought its 2 pays the list price."""
    sale, product = await new_sale(client, admin)
    path = price_path(product["id"])

    anonymous = expect_ok(await client.get(path, params={"quantity": 3}, headers=service_key))
    expect_ok(await buy(client, shopper.headers, sale, quantity=2), 201)
    after_buying = expect_ok(await client.get(path, params={"quantity": 3}, headers=shopper.headers))

    assert [(x["quantity"], x["unit_price"], x["price_source"]) for x in anonymous["lines"]] == [
        (2, "15.00", "flash_sale"),
        (1, "25.50", "catalog"),
    ]
    assert (anonymous["subtotal"], anonymous["unit_price"]) == ("55.50", "18.50")
    assert anonymous["flash_sale_id"] == sale["id"]
    assert (after_buying["unit_price"], after_buying["flash_sale_id"], len(after_buying["lines"])) == ("25.50", None, 1)


async def test_rules_are_skipped_while_dynamic_pricing_is_off(
    client: Client, admin: Caller, priced: dict[str, Any], service_key: dict[str, str]
) -> None:
    flag = {"key": "dynamic_pricing", "name": "Dynamic pricing", "type": "BOOLEAN", "value": False}
    expect_ok(await client.post("/api/v1/feature-flags", json=flag, headers=admin.headers), 201)

    answer = expect_ok(
        await client.get(price_path(priced["product"]["id"]), params={"quantity": 10}, headers=service_key)
    )

    assert (answer["unit_price"], answer["applied_rules"]) == ("100.00", [])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 10_001}, "quantity"),
        ({"quantity": -3}, "quantity"),
        ({"quantity": "two"}, "quantity"),
        ({"quantity": "1.5"}, "quantity"),
        ({"user_tier": ""}, "user_tier"),
        ({"user_tier": "x" * 65}, "user_tier"),
        ({"region": ""}, "region"),
        ({"region": "x" * 101}, "region"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    client: Client, admin: Caller, service_key: dict[str, str], params: dict[str, Any], field: str
) -> None:
    product = await create_product(client, admin)

    response = await client.get(price_path(product["id"]), params=params, headers=service_key)

    assert list(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == [field]


async def test_unknown_inactive_and_anonymous(client: Client, admin: Caller, service_key: dict[str, str]) -> None:
    product = await create_product(client, admin)
    expect_error(await client.get(price_path(product["id"])), 401, "UNAUTHORIZED")
    expect_error(
        await client.get(price_path("00000000-0000-4000-8000-000000000000"), headers=service_key), 404, "NOT_FOUND"
    )
    expect_error(await client.get(price_path("not-a-uuid"), headers=service_key), 404, "NOT_FOUND")
    expect_ok(await client.delete(f"{PRODUCTS}/{product['id']}", headers=admin.headers))
    expect_error(await client.get(price_path(product["id"]), headers=service_key), 409, "PRODUCT_UNAVAILABLE")
