"""The ceiling of every money amount (docs/quotes-and-orders.md#the-money-ceiling), over HTTP on the real stores.

A quote whose amounts reach 1,000,000,000,000 used to be answered 200; its quote-log row then
overflowed numeric(20, 4) and its order answered 500. It is now a 422 naming the field, on the
lean edge and on Litestar alike, and nothing is stored; a quote just below it is answered, logged
and ordered.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import SALES, flash_product, sale_body
from tests.integration.orders.test_orders_api import build_quote, line, quote_store, stored
from tests.integration.quotes.test_quote_api import QUOTE, Client, quote_body
from tests.integration.test_quote_edge import clients, comparable, service_key
from tests.waiting import until

CEILING = "1000000000000"


def fields(response: Any) -> list[str]:
    return [detail["field"] for detail in expect_error(response, 422, "VALIDATION_FAILED")["error"]["details"]]


async def logged(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM quote_log"))


async def test_units_beyond_the_ceiling_are_refused_alike_on_the_edge_and_on_litestar(
    settings: Settings, admin: Caller, pool: asyncpg.Pool
) -> None:
    """The probe from the issue: a service key's 200 lines x 10,000 x 999999999999.99."""
    line = {"product_id": "huge", "quantity": 10_000, "unit_price": "999999999999.99"}
    huge = quote_body(items=[line] * 200)
    async with clients(settings) as (edge, litestar):
        key = await service_key(edge, admin)
        expect_ok(await edge.post(QUOTE, json=quote_body(), headers=key))  # the edge knows the key now
        answers = [await client.post(QUOTE, json=huge, headers=key) for client in (edge, litestar)]
        assert fields(answers[0]) == ["items[0].quantity"]
        assert CEILING in answers[0].json()["error"]["details"][0]["message"]
        assert comparable(answers[0]) == comparable(answers[1])

        # Nothing was stored, and the quote log goes on: the next quote is written.
        answered = expect_ok(await edge.post(QUOTE, json=quote_body(), headers=key))

        async def written() -> bool:
            found = await pool.fetchval("SELECT 1 FROM quote_log WHERE quote_id = $1", uuid.UUID(answered["quote_id"]))
            return found is not None

        await until(written, "the next quote is logged")
        assert await logged(pool) == 2


async def test_a_shoppers_catalog_quote_beyond_the_ceiling_is_refused(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    """A catalog price the API accepts (4.3e9) x 300 units; and a price stored beyond the ceiling
    before it was enforced (written here in SQL, past the API), which must not be priced at all."""
    pricey = await create_product(client, admin, base_price="4300000000.00", min_price="1.00", cost_price="1.00")
    legacy = await create_product(client, admin)
    await pool.execute("UPDATE products SET current_price = 5e12 WHERE id = $1", uuid.UUID(legacy["id"]))
    mine = {"customer_id": str(shopper.id), "currency": "TRY"}

    many = quote_body(**mine, items=[{"product_id": pricey["id"], "quantity": 300}])
    assert fields(await client.post(QUOTE, json=many, headers=shopper.headers)) == ["items[0].quantity"]

    stored_beyond = quote_body(**mine, items=[{"product_id": legacy["id"], "quantity": 1}])
    refused = await client.post(QUOTE, json=stored_beyond, headers=shopper.headers)
    assert fields(refused) == ["items[0].product_id"]
    assert "5000000000000.00" in refused.json()["error"]["details"][0]["message"]

    # The product's price endpoint prices the same way, and names its own parameters.
    price = f"/api/v1/products/{pricey['id']}/price"
    assert fields(await client.get(price, params={"quantity": 300}, headers=shopper.headers)) == ["quantity"]
    legacy_price = f"/api/v1/products/{legacy['id']}/price"
    assert fields(await client.get(legacy_price, headers=shopper.headers)) == ["product_id"]


async def test_a_quote_just_below_the_ceiling_is_answered_logged_and_ordered(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    """The largest amounts a quote may hold fit every column they are written to (order and log)."""
    big = quote_body(items=[{"product_id": "big", "quantity": 2, "unit_price": "400000000000.00"}])
    quote = expect_ok(await client.post(QUOTE, json=big, headers=admin.headers))
    assert quote["total_amount"] == "944000000020.00"  # 800e9 + 18 % tax + 20.00 express delivery

    order = await client.post(
        "/api/v1/orders",
        json={"quote_id": quote["quote_id"]},
        headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert expect_ok(order, 201)["total_amount"] == quote["total_amount"]

    async def written() -> bool:
        return await logged(pool) == 1

    await until(written, "the quote is logged")
    stored = await pool.fetchval("SELECT total_amount FROM quote_log WHERE quote_id = $1", uuid.UUID(quote["quote_id"]))
    assert f"{stored:.2f}" == quote["total_amount"]


async def test_a_flash_price_beyond_the_ceiling_is_refused(client: Client, admin: Caller) -> None:
    product = await flash_product(client, admin)
    body = sale_body(product["id"], item={"flash_price": CEILING})

    assert fields(await client.post(SALES, json=body, headers=admin.headers)) == ["items[0].flash_price"]
    listed = expect_ok(await client.get(SALES, headers=admin.headers))
    assert listed["items"] == []


async def test_a_stored_quote_beyond_the_ceiling_is_refused_as_an_order_not_a_500(
    settings: Settings, client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    """A quote priced before the ceiling was enforced (still in Redis for its 15 minutes): its
    order would overflow the order's columns; it is a 422 naming `quote_id`, nothing deducted."""
    product = await create_product(
        client, admin, base_price="999999999999.00", min_price="1.00", cost_price="1.00", stock=20_000
    )
    async with quote_store(settings, pool) as quotes:
        quote = await stored(quotes, build_quote("big-spender", [line(product, 10_000)]), admin.maker)

    refused = await client.post(
        "/api/v1/orders",
        json={"quote_id": str(quote.quote_id)},
        headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex},
    )

    assert fields(refused) == ["quote_id"]
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(product["id"])) == 20_000
