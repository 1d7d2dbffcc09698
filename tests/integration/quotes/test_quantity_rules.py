"""Quantity rules on products and price-list entries at the quote (docs/pricing.md#quantity-rules):
an item that breaks one is 422 QUANTITY_RULE naming `items[i].quantity` with what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.catalog.test_catalog import PRODUCTS, create_product, product_body
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.promotions.test_promotion_quotes import QUOTE, Client

CASE = {"min_qty": 6, "max_qty": 24, "step": 6}


def basket(*items: tuple[dict[str, Any], int], **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": fields.pop("customer_id", "c-rules"),
        "items": [{"product_id": product["id"], "quantity": quantity} for product, quantity in items],
        "delivery_address": {"city": "Ankara", "country": "TR"},
        "currency": "TRY",
        **fields,
    }


async def test_a_product_read_back_with_its_rules_and_one_without_has_none(client: Client, admin: Caller) -> None:
    ruled = await create_product(client, admin, quantity_rules=CASE)
    plain = await create_product(client, admin)

    assert ruled["quantity_rules"] == {**CASE, "max_per_customer": None, "window_days": 30}
    assert "quantity_rules" not in plain
    read = expect_ok(await client.get(f"{PRODUCTS}/{ruled['id']}", headers=admin.headers))
    assert read["quantity_rules"] == ruled["quantity_rules"]
    patched = expect_ok(
        await client.patch(f"{PRODUCTS}/{ruled['id']}", json={"quantity_rules": None}, headers=admin.headers)
    )
    assert "quantity_rules" not in patched


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"min_qty": 5, "max_qty": 4}, "quantity_rules.max_qty"),
        ({"min_qty": 2, "step": 0}, "quantity_rules.step"),
        ({"step": 20, "max_qty": 10}, "quantity_rules.step"),
        ({"min_qty": 3, "max_per_customer": 2}, "quantity_rules.max_per_customer"),
        ({"min_qty": 0}, "quantity_rules.min_qty"),
        ({"max_per_customer": 2, "window_days": 400}, "quantity_rules.window_days"),
        ({"maximum": 2}, "quantity_rules.maximum"),
    ],
)
async def test_rules_no_quantity_could_meet_are_refused_naming_the_field(
    client: Client, admin: Caller, rules: dict[str, Any], field: str
) -> None:
    body = expect_error(
        await client.post(PRODUCTS, json=product_body(quantity_rules=rules), headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert [d["field"] for d in body["error"]["details"]] == [field]


async def test_items_breaking_their_rules_are_refused_each_with_what_is_allowed(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    cased = await create_product(client, admin, quantity_rules=CASE)
    stepped = await create_product(client, admin, quantity_rules={"step": 4})
    plain = await create_product(client, admin)

    refused = expect_error(
        await client.post(QUOTE, json=basket((plain, 7), (cased, 8), (stepped, 6), (cased, 30)), headers=service_key),
        422,
        "QUANTITY_RULE",
    )

    assert refused["error"]["details"] == [
        {
            "field": "items[1].quantity",
            "message": "must be 6, 12, 18, ... (steps of 6)",
            "min_qty": 6,
            "max_qty": 24,
            "step": 6,
            "remaining_for_customer": None,
        },
        {
            "field": "items[2].quantity",
            "message": "must be 4, 8, 12, ... (steps of 4)",
            "min_qty": None,
            "max_qty": None,
            "step": 4,
            "remaining_for_customer": None,
        },
        {
            "field": "items[3].quantity",
            "message": "must be at most 24",
            "min_qty": 6,
            "max_qty": 24,
            "step": 6,
            "remaining_for_customer": None,
        },
    ]
    below = expect_error(await client.post(QUOTE, json=basket((cased, 5)), headers=service_key), 422, "QUANTITY_RULE")
    assert below["error"]["details"][0]["message"] == "must be at least 6"
    fine = expect_ok(await client.post(QUOTE, json=basket((cased, 18), (stepped, 8), (plain, 7)), headers=service_key))
    assert [line["quantity"] for line in fine["items"]] == [18, 8, 7]
    assert "quantity_limits" not in fine


async def test_a_price_list_entrys_rules_replace_the_products_for_the_items_it_prices(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(
        client, admin, base_price="10.00", min_price="5.00", cost_price="1.00", quantity_rules={"max_qty": 5}
    )
    trade = {
        "name": "Trade",
        "currency": "TRY",
        "customer_groups": ["b2b"],
        "prices": [{"product_id": product["id"], "amount": "8.00", "quantity_rules": {"min_qty": 10, "step": 10}}],
    }
    created = expect_ok(await client.post("/api/v1/price-lists", json=trade, headers=admin.headers), 201)
    assert created["prices"][0]["quantity_rules"] == {
        "min_qty": 10,
        "max_qty": None,
        "step": 10,
        "max_per_customer": None,
        "window_days": 30,
    }

    shop = expect_error(await client.post(QUOTE, json=basket((product, 10)), headers=service_key), 422, "QUANTITY_RULE")
    by_the_case = expect_ok(
        await client.post(QUOTE, json=basket((product, 20), customer_group="b2b"), headers=service_key)
    )
    single = expect_error(
        await client.post(QUOTE, json=basket((product, 3), customer_group="b2b"), headers=service_key),
        422,
        "QUANTITY_RULE",
    )

    assert shop["error"]["details"][0]["message"] == "must be at most 5"
    assert (by_the_case["items"][0]["price_source"], by_the_case["subtotal"]) == ("price_list", "160.00")
    assert single["error"]["details"][0]["message"] == "must be at least 10"
    listed = expect_ok(await client.get(f"/api/v1/price-lists/{created['id']}", headers=admin.headers))
    assert listed["prices"][0]["quantity_rules"]["step"] == 10


async def test_a_rule_set_on_a_product_takes_effect_at_once_and_goes_with_it(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin)
    expect_ok(await client.post(QUOTE, json=basket((product, 1)), headers=service_key))

    expect_ok(
        await client.patch(
            f"{PRODUCTS}/{product['id']}", json={"quantity_rules": {"min_qty": 2}}, headers=admin.headers
        )
    )
    expect_error(await client.post(QUOTE, json=basket((product, 1)), headers=service_key), 422, "QUANTITY_RULE")
    expect_ok(await client.patch(f"{PRODUCTS}/{product['id']}", json={"quantity_rules": None}, headers=admin.headers))
    expect_ok(await client.post(QUOTE, json=basket((product, 1)), headers=service_key))
