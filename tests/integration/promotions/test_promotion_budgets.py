"""Promotion budgets and per-customer limits at orders (docs/promotions.md, docs/promotions.md#budgets):
exact under concurrency, given back by cancels and refunds, shown on the promotion."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.orders.test_orders_api import key
from tests.integration.promotions.test_promotion_quotes import Client, books, outcomes, quote_of, race_orders
from tests.integration.promotions.test_promotions_api import PROMOTIONS, create_promotion
from tests.integration.servers import RaceServer
from tests.waiting import until

FIVE_OFF = {"kind": "AMOUNT_OFF", "config": {"amount": 5, "currency": "TRY"}}


async def budget_of(client: Client, admin: Caller, promotion: dict[str, Any]) -> tuple[str, str]:
    shown = expect_ok(await client.get(f"{PROMOTIONS}/{promotion['id']}", headers=admin.headers))
    return shown["budget_used"], shown["budget_remaining"]


async def order(client: Client, headers: dict[str, str], quote: dict[str, Any]) -> dict[str, Any]:
    placed: dict[str, Any] = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers={**headers, **key()}), 201
    )
    return placed


async def test_fifty_concurrent_orders_take_exactly_what_a_budget_for_ten_covers(
    client: Client, server: RaceServer, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    # A book per basket: only the promotion's row lock, not a shared product's, orders them.
    baskets = [await books(client, admin, "40.00") for _ in range(50)]
    promotion = await create_promotion(
        client, admin, name="Ten fives", budget={"amount": 50, "currency": "TRY"}, **FIVE_OFF
    )
    responses = await race_orders(client, server, service_key, baskets)

    assert outcomes(responses) == {(201, "ok"): 10, (409, "PROMOTION_BUDGET_EXHAUSTED"): 40}
    refused = expect_error(next(r for r in responses if r.status_code == 409), 409, "PROMOTION_BUDGET_EXHAUSTED")
    assert refused["error"]["details"][0]["field"] == "applied_promotions[0]"
    assert await budget_of(client, admin, promotion) == ("50.00", "0.00")
    assert await pool.fetchval("SELECT count(*) FROM orders") == 10
    assert await pool.fetchval("SELECT sum(stock) FROM products") == 50 * 50 - 10

    async def spent() -> bool:  # the budget's use moved the configuration version
        later = await quote_of(client, service_key, baskets[0])
        return [(p["reason"], p["detail"]) for p in later["rejected_promotions"]] == [
            ("BUDGET_EXHAUSTED", "its budget is used up")
        ]

    await until(spent, "a new quote reports the budget used up")


async def test_refunds_and_cancels_give_the_discount_back_to_the_budget(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    basket = await books(client, admin, "30.00", "10.00")
    promotion = await create_promotion(
        client, admin, kind="PERCENT_OFF", config={"percent": 10}, budget={"amount": 100, "currency": "TRY"}
    )
    first = await order(client, service_key, await quote_of(client, service_key, basket, customer_id="c-1"))
    second = await order(client, service_key, await quote_of(client, service_key, basket, customer_id="c-2"))
    assert await budget_of(client, admin, promotion) == ("8.00", "92.00")  # 3.00 + 1.00 twice

    refund = {"lines": [{"product_id": basket[0]["id"], "quantity": 1}]}
    expect_ok(
        await client.post(f"/api/v1/orders/{first['id']}/refunds", json=refund, headers={**service_key, **key()}), 201
    )
    after_refund = await budget_of(client, admin, promotion)
    rest = {"lines": [{"product_id": basket[1]["id"], "quantity": 1}]}
    expect_ok(
        await client.post(f"/api/v1/orders/{first['id']}/refunds", json=rest, headers={**service_key, **key()}), 201
    )
    after_first = await budget_of(client, admin, promotion)
    expect_ok(await client.post(f"/api/v1/orders/{second['id']}/cancel", json={}, headers={**service_key, **key()}))

    assert after_refund == ("5.00", "95.00")  # the 30.00 book's 3.00 back
    assert after_first == ("4.00", "96.00")  # the rest of the first order: 1.00
    # the second order cancelled: its whole 4.00
    assert await budget_of(client, admin, promotion) == ("0.00", "100.00")


async def test_a_promotion_limited_per_customer_refuses_that_customers_next_order(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    basket = await books(client, admin, "40.00")
    await create_promotion(client, admin, per_customer_limit=1, **FIVE_OFF)
    quotes = [await quote_of(client, service_key, basket, customer_id="c-once", channel=f"web{n}") for n in range(2)]
    other = await quote_of(client, service_key, basket, customer_id="c-other")
    await order(client, service_key, quotes[0])

    refused = expect_error(
        await client.post("/api/v1/orders", json={"quote_id": quotes[1]["quote_id"]}, headers={**service_key, **key()}),
        409,
        "PROMOTION_LIMIT_REACHED",
    )
    await order(client, service_key, other)

    assert refused["error"]["details"][0]["field"] == "applied_promotions[0]"
    assert "limit per customer (1)" in refused["error"]["details"][0]["message"]
    again = await quote_of(client, service_key, basket, customer_id="c-once", channel="web9")
    assert [(p["reason"], p["detail"]) for p in again["rejected_promotions"]] == [
        ("USAGE_LIMIT", "used up for this customer: its limit of 1 orders a customer is reached")
    ]
    assert await pool.fetchval("SELECT count(*) FROM orders WHERE customer_id = 'c-once'") == 1
    assert uuid.UUID(other["quote_id"])
