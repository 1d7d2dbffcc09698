"""The kinds merchandisers ask for over HTTP (docs/promotions.md): bundles, spend tiers, gifts, selection,
distribution, groups, budgets and per-customer limits; each bad value a 422 on its field."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.orders.test_orders_api import key
from tests.integration.promotions.test_promotion_quotes import books, quote_of
from tests.integration.promotions.test_promotions_api import (
    PROMOTIONS,
    Client,
    create_promotion,
    expect_refused,
)

BUNDLE = {"category_ids": ["books"], "quantity": 3, "price": "100", "currency": "try"}
TIERS = {"tiers": [{"min_subtotal": 1000, "amount": 120}, {"min_subtotal": "500", "amount": "50"}], "currency": "TRY"}


async def test_new_kinds_read_back_as_sent_with_amounts_in_the_currency_digits(client: Client, admin: Caller) -> None:
    bundle = await create_promotion(client, admin, name="Any 3 for 100", kind="FIXED_PRICE_BUNDLE", config=BUNDLE)
    tiers = await create_promotion(client, admin, name="Spend more", kind="SPEND_TIERS", config=TIERS, group="g")
    gift = await create_promotion(
        client,
        admin,
        name="A mug",
        kind="GIFT",
        config={"product_id": "p-1", "quantity": 1, "min_subtotal": 300, "currency": "TRY"},
        budget={"amount": "1000", "currency": "try"},
        per_customer_limit=1,
    )
    most = await create_promotion(
        client,
        admin,
        config={
            "buy": {"quantity": 1, "category_ids": ["books"]},
            "get": {"quantity": 1, "category_ids": ["books"], "percent_off": 50},
            "selection": "most_expensive",
            "distribution": "even",
        },
    )

    assert bundle["config"] == {"category_ids": ["books"], "quantity": 3, "price": "100.00", "currency": "TRY"}
    assert tiers["config"] == {
        "tiers": [{"min_subtotal": "500.00", "amount": "50.00"}, {"min_subtotal": "1000.00", "amount": "120.00"}],
        "currency": "TRY",
    }
    assert tiers["group"] == "g"
    assert (tiers["budget"], tiers["budget_used"], tiers["budget_remaining"]) == (None, None, None)
    assert gift["budget"] == {"amount": "1000.00", "currency": "TRY"}
    assert (gift["budget_used"], gift["budget_remaining"], gift["per_customer_limit"]) == ("0.00", "1000.00", 1)
    assert (most["config"]["selection"], most["config"]["distribution"]) == ("most_expensive", "even")
    assert expect_ok(await client.get(f"{PROMOTIONS}/{gift['id']}", headers=admin.headers)) == gift


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"kind": "FIXED_PRICE_BUNDLE", "config": {**BUNDLE, "quantity": 0}}, {"config.quantity"}),
        ({"kind": "FIXED_PRICE_BUNDLE", "config": {**BUNDLE, "price": "-1"}}, {"config.price"}),
        ({"kind": "FIXED_PRICE_BUNDLE", "config": {**BUNDLE, "price": "1.001"}}, {"config.price"}),
        ({"kind": "FIXED_PRICE_BUNDLE", "config": {**BUNDLE, "category_ids": []}}, {"config.product_ids"}),
        ({"kind": "FIXED_PRICE_BUNDLE", "config": {**BUNDLE, "currency": "XYZ"}}, {"config.currency"}),
        (
            {"kind": "FIXED_PRICE_BUNDLE", "config": BUNDLE, "conditions": {"currency": "EUR"}},
            {"conditions.currency"},
        ),
        ({"kind": "SPEND_TIERS", "config": {"tiers": [], "currency": "TRY"}}, {"config.tiers"}),
        (
            {
                "kind": "SPEND_TIERS",
                "config": {"tiers": [{"min_subtotal": 5, "amount": 1, "percent": 5}], "currency": "TRY"},
            },
            {"config.tiers[0].amount"},
        ),
        (
            {"kind": "SPEND_TIERS", "config": {"tiers": [{"min_subtotal": 5, "percent": 101}], "currency": "TRY"}},
            {"config.tiers[0].percent"},
        ),
        (
            {"kind": "SPEND_TIERS", "config": {"tiers": [{"min_subtotal": 5, "amt": 1}], "currency": "TRY"}},
            {"config.tiers[0].amt"},
        ),
        (
            {"kind": "SPEND_TIERS", "config": {"tiers": [{"min_subtotal": 5, "amount": 1}] * 2, "currency": "TRY"}},
            {"config.tiers"},
        ),
        ({"kind": "GIFT", "config": {"product_id": "", "quantity": 1}}, {"config.product_id"}),
        ({"kind": "GIFT", "config": {"product_id": "p", "quantity": 0}}, {"config.quantity"}),
        ({"kind": "GIFT", "config": {"product_id": "p", "min_subtotal": 5}}, {"config.currency"}),
        ({"kind": "GIFT", "config": {}}, {"config.product_id"}),
        (
            {
                "config": {
                    "buy": {"quantity": 1, "category_ids": ["b"]},
                    "get": {"quantity": 1, "category_ids": ["b"]},
                    "selection": "random",
                }
            },
            {"config.selection"},
        ),
        ({"kind": "PERCENT_OFF", "config": {"percent": 5, "distribution": "lumpy"}}, {"config.distribution"}),
        ({"group": ""}, {"group"}),
        ({"budget": {"amount": 0, "currency": "TRY"}}, {"budget.amount"}),
        ({"budget": {"amount": "1.001", "currency": "TRY"}}, {"budget.amount"}),
        ({"budget": {"amount": 10}}, {"budget.currency"}),
        ({"budget": {"amount": 10, "currency": "XYZ"}}, {"budget.currency"}),
        (
            {
                "kind": "AMOUNT_OFF",
                "config": {"amount": 5, "currency": "EUR"},
                "budget": {"amount": 10, "currency": "TRY"},
            },
            {"budget.currency"},
        ),
        ({"per_customer_limit": 0}, {"per_customer_limit"}),
        ({"budget_used": "5"}, {"budget_used"}),
    ],
)
async def test_bad_values_of_the_new_fields_are_422_on_their_field_and_change_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool, overrides: dict[str, Any], fields: set[str]
) -> None:
    await expect_refused(client, admin, pool, overrides, fields)


async def test_a_quote_prices_a_bundle_and_names_the_groups_loser(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    basket = await books(client, admin, "50.00", "40.00", "30.00", "20.00")
    bundle = await create_promotion(
        client, admin, name="Any 3 for 100", kind="FIXED_PRICE_BUNDLE", config=BUNDLE, group="b"
    )
    loser = await create_promotion(client, admin, name="5 %", kind="PERCENT_OFF", config={"percent": 5}, group="b")

    data = await quote_of(client, service_key, basket)

    assert data["applied_promotions"] == [
        {"promotion_id": bundle["id"], "name": "Any 3 for 100", "kind": "FIXED_PRICE_BUNDLE", "amount": "20.00"}
    ]
    assert data["rejected_promotions"] == [
        {
            "promotion_id": loser["id"],
            "name": "5 %",
            "reason": "BEST_IN_GROUP",
            "detail": "Any 3 for 100 of its group 'b' takes 13.00 more off",
        }
    ]
    assert [line["discount"] for line in data["items"]] == ["8.33", "6.67", "5.00", "0.00"]


async def test_a_gift_is_a_free_line_its_order_takes_the_stock_and_an_empty_shelf_is_gift_unavailable(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    basket = await books(client, admin, "300.00")
    mug = (await books(client, admin, "80.00"))[0]
    await pool.execute("UPDATE products SET stock = 1 WHERE id = $1", uuid.UUID(mug["id"]))
    gift = await create_promotion(
        client,
        admin,
        name="A mug",
        kind="GIFT",
        config={"product_id": mug["id"], "min_subtotal": 250, "currency": "TRY"},
    )

    small = await quote_of(client, service_key, await books(client, admin, "100.00"))
    data = await quote_of(client, service_key, basket)
    placed = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": data["quote_id"]}, headers={**service_key, **key()}), 201
    )
    after = await quote_of(client, service_key, basket)

    assert small["applied_promotions"] == small["rejected_promotions"] == []  # under its min_subtotal
    assert data["applied_promotions"] == [
        {"promotion_id": gift["id"], "name": "A mug", "kind": "GIFT", "amount": "0.00"}
    ]
    line = data["items"][-1]
    assert (line["product_id"], line["quantity"], line["unit_price"], line["line_subtotal"], line["tax"]) == (
        mug["id"],
        1,
        "0.00",
        "0.00",
        "0.00",
    )
    assert (line["is_gift"], line["promotion_id"], line["price_source"]) == (True, gift["id"], "gift")
    assert "is_gift" not in data["items"][0]
    assert [(i["price_source"], i["unit_price"]) for i in placed["items"]] == [("catalog", "300.00"), ("gift", "0.00")]
    assert await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(mug["id"])) == 0
    assert [(p["reason"], p["detail"]) for p in after["rejected_promotions"]] == [
        ("GIFT_UNAVAILABLE", "its gift is out of stock (0 left)")
    ]
    assert len(after["items"]) == 1
