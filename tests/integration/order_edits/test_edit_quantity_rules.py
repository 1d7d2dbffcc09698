"""Order edits obey quantity rules (docs/orders-and-refunds.md#quantity-rules-and-edits): an edit that changes a
product's units is checked against its rules as a quote's items are (422 QUANTITY_RULE naming the edit's field,
with what is allowed), and its commit counts the customer's units again under the same per-customer lock as an
order (409 QUANTITY_RULE). An edited order's units count once.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.order_edits.test_edits_api import ORDERS, Client, basket, commit, place, preview, stock_of


def detail(refused: dict[str, Any]) -> dict[str, Any]:
    [found] = refused["error"]["details"]
    return dict(found)


async def test_an_edit_may_not_add_past_a_limit_per_customer(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    one = await create_product(client, admin, stock=50, quantity_rules={"max_per_customer": 1})
    order = await place(client, shopper.headers, basket(str(shopper.id), (one, 1)))
    refused = expect_error(
        await preview(client, shopper.headers, order["id"], {"add": [{"product_id": one["id"], "quantity": 20}]}),
        422,
        "QUANTITY_RULE",
    )
    found = detail(refused)
    assert found["field"] == "add[0].quantity"
    assert "per customer" in found["message"]
    assert found["remaining_for_customer"] == 1  # what the edited order may hold of it
    assert await stock_of(pool, one) == 49
    now = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=shopper.headers))
    assert (now["revision"], [line["quantity"] for line in now["items"]]) == (1, [1])


async def test_an_edit_is_held_to_the_items_rules(client: Client, admin: Caller, shopper: Caller) -> None:
    rules = {"max_qty": 2, "max_per_customer": 3}
    two = await create_product(client, admin, stock=50, quantity_rules=rules)
    order = await place(client, shopper.headers, basket(str(shopper.id), (two, 2)))
    for units in (5, 1):  # 2 + 5, or 2 + 1: the line would hold more than max_qty
        body = {"add": [{"product_id": two["id"], "quantity": units}]}
        found = detail(expect_error(await preview(client, shopper.headers, order["id"], body), 422, "QUANTITY_RULE"))
        assert (found["field"], found["max_qty"], found["min_qty"], found["step"]) == ("add[0].quantity", 2, None, None)
    # Steps of 2: taking one unit out of two leaves a quantity a quote would refuse, naming the removal.
    paired = await create_product(client, admin, stock=50, quantity_rules={"step": 2})
    other = await create_product(client, admin, stock=50)
    pairs = await place(client, shopper.headers, basket(str(shopper.id), (paired, 2), (other, 1)))
    body = {"remove": [{"product_id": paired["id"], "quantity": 1}]}
    found = detail(expect_error(await preview(client, shopper.headers, pairs["id"], body), 422, "QUANTITY_RULE"))
    assert (found["field"], found["step"]) == ("remove[0].quantity", 2)
    # An edit that leaves the limited product as it is, is not judged on it.
    untouched = {"add": [{"product_id": other["id"], "quantity": 1}]}
    expect_ok(await preview(client, shopper.headers, pairs["id"], untouched), 201)


async def test_a_commit_counts_the_customers_units_again_under_the_lock(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    three = await create_product(client, admin, stock=50, quantity_rules={"max_per_customer": 3})
    customer = f"c-{uuid.uuid4().hex[:8]}"
    order = await place(client, service_key, basket(customer, (three, 2)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": three["id"], "quantity": 1}]}), 201
    )
    await place(client, service_key, basket(customer, (three, 1)))  # the third unit, ordered meanwhile
    refused = expect_error(await commit(client, service_key, order["id"], shown["edit_id"]), 409, "QUANTITY_RULE")
    found = detail(refused)
    assert found["field"] == "add[0].quantity"
    assert found["remaining_for_customer"] == 2
    assert await stock_of(pool, three) == 47  # nothing written
    now = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=service_key))
    assert now["revision"] == 1


async def test_an_edited_order_counts_its_units_once(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    five = await create_product(client, admin, stock=50, quantity_rules={"max_per_customer": 5})
    customer = f"c-{uuid.uuid4().hex[:8]}"
    order = await place(client, service_key, basket(customer, (five, 3)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"remove": [{"product_id": five["id"], "quantity": 2}]}), 201
    )
    expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    # The order holds 1 unit now (its 3 retired with the edit): 4 more fit.
    quote = await client.post("/api/v1/quote", json=basket(customer, (five, 4)), headers=service_key)
    assert quote.status_code == 200, quote.text
    later = await place(client, service_key, basket(customer, (five, 4)))
    assert later["items"][0]["quantity"] == 4
