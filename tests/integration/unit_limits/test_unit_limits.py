"""Per-customer quantity limits (docs/pricing.md#quantity-rules): counted from the
customer's orders of the window, again under a lock at the order (409 QUANTITY_RULE), given back by
cancels and refunds; the quote path's counters in Redis are advice PostgreSQL confirms."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from quote_service.cache.redis import RedisClient
from quote_service.unit_limits.counters import purchases_key
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import buy, flash_product, new_sale
from tests.integration.orders.test_orders_api import key
from tests.integration.promotions.test_promotion_quotes import QUOTE, Client, outcomes
from tests.integration.servers import RaceServer

TWO_A_MONTH = {"max_per_customer": 2}


def basket(product: dict[str, Any], quantity: int, customer_id: str = "c-limited", **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "items": [{"product_id": product["id"], "quantity": quantity}],
        "delivery_address": {"city": "Ankara", "country": "TR"},
        "currency": "TRY",
        **fields,
    }


async def quoted(client: Client, headers: dict[str, str], product: dict[str, Any], quantity: int, **kw: Any) -> Any:
    return expect_ok(await client.post(QUOTE, json=basket(product, quantity, **kw), headers=headers))


async def refused(client: Client, headers: dict[str, str], product: dict[str, Any], quantity: int) -> Any:
    body = expect_error(await client.post(QUOTE, json=basket(product, quantity), headers=headers), 422, "QUANTITY_RULE")
    return body["error"]["details"]


async def ordered(client: Client, headers: dict[str, str], quote: dict[str, Any]) -> Any:
    return expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers={**headers, **key()}), 201
    )


async def refused_at_the_order(
    client: Client, headers: dict[str, str], product: dict[str, Any], quantity: int
) -> tuple[Any, Any]:
    """Two quotes of `quantity` units, the first ordered: the second's order refused 409 QUANTITY_RULE (its
    body), and the second quote."""
    early = await quoted(client, headers, product, quantity)
    late = await quoted(client, headers, product, quantity, channel="app")  # another body: another quote
    await ordered(client, headers, early)
    body = expect_error(
        await client.post("/api/v1/orders", json={"quote_id": late["quote_id"]}, headers={**headers, **key()}),
        409,
        "QUANTITY_RULE",
    )
    return body, late


async def test_the_customers_orders_count_and_other_customers_do_not(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, quantity_rules=TWO_A_MONTH)
    first = await quoted(client, service_key, product, 2)
    await ordered(client, service_key, first)

    details = await refused(client, service_key, product, 1)
    other = await quoted(client, service_key, product, 2, customer_id="c-other")

    assert first["quantity_limits"] == [
        {"product_id": product["id"], "max_per_customer": 2, "window_days": 30, "remaining_for_customer": 2}
    ]
    assert details == [
        {
            "field": "items[0].quantity",
            "message": "at most 2 per customer in 30 days: 0 left for this customer",
            "min_qty": None,
            "max_qty": None,
            "step": None,
            "remaining_for_customer": 0,
        }
    ]
    assert other["quantity_limits"][0]["remaining_for_customer"] == 2
    three = expect_error(
        await client.post(QUOTE, json=basket(product, 3, "c-new"), headers=service_key), 422, "QUANTITY_RULE"
    )
    assert three["error"]["details"][0]["remaining_for_customer"] == 2


async def test_an_order_whose_customer_reached_the_limit_since_its_quote_is_refused_409(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, quantity_rules={"max_per_customer": 3, "window_days": 7})

    body, _ = await refused_at_the_order(client, service_key, product, 2)

    assert body["error"]["details"] == [
        {
            "field": "items[0].quantity",
            "message": "at most 3 per customer in 7 days: 1 left for this customer, the quote has 2",
            "min_qty": None,
            "max_qty": None,
            "step": None,
            "remaining_for_customer": 1,
        }
    ]
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1
    assert await pool.fetchval("SELECT stock FROM products WHERE id = $1", product["id"]) == 8
    assert (await refused(client, service_key, product, 2))[0]["remaining_for_customer"] == 1


async def test_a_409_at_the_order_names_the_items_rules_as_the_422_at_the_quote_does(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """The order's refusal carries the rule's min_qty, max_qty and step (they were null) beside what the
    customer has left, as a quote's refusal of the same item does."""
    rules = {"min_qty": 2, "max_qty": 4, "step": 2, "max_per_customer": 6}
    product = await create_product(client, admin, quantity_rules=rules)

    body, late = await refused_at_the_order(client, service_key, product, 4)
    at_quote = await refused(client, service_key, product, 4)

    allowed = {"min_qty": 2, "max_qty": 4, "step": 2, "remaining_for_customer": 2}
    assert [{k: d[k] for k in allowed} for d in body["error"]["details"]] == [allowed]
    assert [{k: d[k] for k in allowed} for d in at_quote] == [allowed]
    assert body["error"]["details"][0]["field"] == "items[0].quantity"
    assert late["quantity_limits"] == [
        {"product_id": product["id"], "max_per_customer": 6, "window_days": 30, "remaining_for_customer": 6,
         "min_qty": 2, "max_qty": 4, "step": 2}
    ]  # fmt: skip


async def test_cancels_and_refunds_give_the_units_back(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, quantity_rules=TWO_A_MONTH)
    order = await ordered(client, service_key, await quoted(client, service_key, product, 2))
    refund = {"lines": [{"product_id": product["id"], "quantity": 1}]}
    expect_ok(
        await client.post(f"/api/v1/orders/{order['id']}/refunds", json=refund, headers={**service_key, **key()}), 201
    )

    one_back = await quoted(client, service_key, product, 1)
    await refused(client, service_key, product, 2)
    second = await ordered(client, service_key, one_back)
    await refused(client, service_key, product, 1)
    expect_ok(await client.post(f"/api/v1/orders/{second['id']}/cancel", json={}, headers={**service_key, **key()}))

    assert one_back["quantity_limits"][0]["remaining_for_customer"] == 1
    assert (await quoted(client, service_key, product, 1))["quantity_limits"][0]["remaining_for_customer"] == 1


async def test_orders_before_the_window_do_not_count(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, quantity_rules={"max_per_customer": 1, "window_days": 1})
    await ordered(client, service_key, await quoted(client, service_key, product, 1))
    await refused(client, service_key, product, 1)

    await pool.execute("UPDATE orders SET created_at = created_at - interval '25 hours'")

    # The counter still holds the order as it was: PostgreSQL, asked before refusing, says it is gone.
    again = await quoted(client, service_key, product, 1)
    assert again["quantity_limits"][0]["remaining_for_customer"] == 1
    await ordered(client, service_key, again)


async def test_a_counter_left_too_high_refuses_nobody_and_one_lost_is_learned_at_the_order(
    client: Client, admin: Caller, service_key: dict[str, str], redis: RedisClient
) -> None:
    product = await create_product(client, admin, quantity_rules=TWO_A_MONTH)
    counter = purchases_key("c-limited", product["id"])
    await redis.set(counter, b"9999999999/5")  # older than any version: 5 units that no order holds

    first = await quoted(client, service_key, product, 2)
    assert first["quantity_limits"][0]["remaining_for_customer"] == 2
    assert await redis.get(counter) == b":0"  # learned PostgreSQL's (nothing bought) before answering
    second = await quoted(client, service_key, product, 2, channel="app")
    await ordered(client, service_key, first)
    await redis.delete(counter)  # Redis lost what the order wrote

    expect_error(
        await client.post("/api/v1/orders", json={"quote_id": second["quote_id"]}, headers={**service_key, **key()}),
        409,
        "QUANTITY_RULE",
    )
    assert (await redis.get(counter) or b"").endswith(b"/2:1")
    await refused(client, service_key, product, 1)


@pytest.mark.slow
async def test_twenty_racing_orders_for_two_per_customer_store_exactly_two_units(
    client: Client, server: RaceServer, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=100, quantity_rules=TWO_A_MONTH)
    quotes = [await quoted(client, service_key, product, 1, channel=f"web{n}") for n in range(20)]

    responses = await server.race(
        len(quotes),
        lambda http, n: http.post(
            "/api/v1/orders", json={"quote_id": quotes[n]["quote_id"]}, headers={**service_key, **key()}
        ),
    )

    assert outcomes(responses) == {(201, "ok"): 2, (409, "QUANTITY_RULE"): 18}
    assert await pool.fetchval("SELECT sum(l.quantity) FROM order_lines l") == 2
    assert await pool.fetchval("SELECT stock FROM products WHERE id = $1", product["id"]) == 98


async def test_flash_purchases_are_held_to_the_products_quantity_rules(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    # The sale would let a customer buy 10; the product's rules say at most 2 a month, in steps of 1 from 1.
    product = await flash_product(client, admin)
    expect_ok(await client.patch(f"/api/v1/products/{product['id']}", json={"quantity_rules": TWO_A_MONTH},
                                 headers=admin.headers))  # fmt: skip
    sale, _ = await new_sale(client, admin, product=product, item={"per_user_limit": 10})
    customer = {"customer_id": "c-flash-limited"}

    expect_error(await buy(client, service_key, sale, quantity=3, **customer), 422, "QUANTITY_RULE")
    expect_ok(await buy(client, service_key, sale, quantity=2, **customer), 201)
    # The purchases are orders: the third unit is refused under the customer's lock, nothing sold.
    expect_error(await buy(client, service_key, sale, quantity=1, **customer), 409, "QUANTITY_RULE")
    units = "SELECT coalesce(sum(quantity), 0) FROM flash_purchases WHERE customer_id = $1"
    assert await pool.fetchval(units, customer["customer_id"]) == 2
    # Another customer's units are its own.
    expect_ok(await buy(client, service_key, sale, quantity=2, customer_id="c-flash-other"), 201)


@pytest.mark.slow
async def test_twenty_racing_flash_purchases_for_two_per_customer_store_exactly_two_units(
    client: Client, server: RaceServer, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    product = await flash_product(client, admin)
    expect_ok(await client.patch(f"/api/v1/products/{product['id']}", json={"quantity_rules": TWO_A_MONTH},
                                 headers=admin.headers))  # fmt: skip
    sale, _ = await new_sale(client, admin, product=product, item={"per_user_limit": 20, "allocated_stock": 50})

    responses = await server.race(
        20,
        lambda http, n: buy(http, service_key, sale, customer_id="c-flash-racer"),
    )

    assert outcomes(responses) == {(201, "ok"): 2, (409, "QUANTITY_RULE"): 18}
    assert await pool.fetchval("SELECT sum(quantity) FROM flash_purchases") == 2
    assert await pool.fetchval("SELECT sum(l.quantity) FROM order_lines l") == 2
