"""Stock reservations between quote and order (docs/reservations.md), on real PostgreSQL and Redis.

A checkout quotes with `reserve_stock: true`; the units are held for the quote's validity, its
order consumes them, `DELETE /quotes/{id}/reservation` or the expiry gives them back, and every
other buyer (reserving or not) sees only stock - held units.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import SALES, flash_product, sale_body
from tests.waiting import until

Client = AsyncTestClient[Litestar]
QUOTE = "/api/v1/quote"
ORDERS = "/api/v1/orders"


def basket(customer_id: str, *lines: tuple[dict[str, Any], int], reserve: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "items": [{"product_id": product["id"], "quantity": quantity} for product, quantity in lines],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }
    if reserve:
        body["reserve_stock"] = True
    return body


async def reserve(client: Client, headers: dict[str, str], *lines: tuple[dict[str, Any], int], customer: str) -> Any:
    return expect_ok(await client.post(QUOTE, json=basket(customer, *lines), headers=headers))


async def order(client: Client, headers: dict[str, str], quote_id: str) -> Any:
    return await client.post(
        ORDERS, json={"quote_id": quote_id}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )


async def units(client: Client, admin: Caller, product: dict[str, Any]) -> tuple[int, int, int]:
    """(stock, reserved, available) as GET /products/{id} shows them."""
    data = expect_ok(await client.get(f"/api/v1/products/{product['id']}", headers=admin.headers))
    return data["stock"], data["reserved"], data["available"]


def reservation_url(quote_id: str) -> str:
    return f"/api/v1/quotes/{quote_id}/reservation"


async def test_a_reserving_quote_holds_its_units_and_a_short_one_holds_nothing(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, stock=5)
    other = await create_product(client, admin, stock=50)

    quote = await reserve(client, service_key, (product, 3), customer="alice")

    assert quote["reservation"] == {
        "expires_at": quote["valid_until"],
        "lines": [{"product_id": product["id"], "quantity": 3}],
    }
    assert await units(client, admin, product) == (5, 3, 2)
    refused = expect_error(
        await client.post(QUOTE, json=basket("bob", (other, 4), (product, 3)), headers=service_key),
        409,
        "INSUFFICIENT_STOCK",
    )
    assert set(field_errors(refused)) == {"items[1].quantity"}
    assert await units(client, admin, other) == (50, 0, 50)  # nothing of the refused basket is held
    assert await units(client, admin, product) == (5, 3, 2)
    await reserve(client, service_key, (product, 2), customer="bob")
    assert await units(client, admin, product) == (5, 5, 0)


async def test_a_quote_without_reserve_stock_holds_nothing(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, stock=2)

    plain = expect_ok(await client.post(QUOTE, json=basket("alice", (product, 5), reserve=False), headers=service_key))

    assert plain["reservation"] is None
    assert await units(client, admin, product) == (2, 0, 2)
    expect_error(await client.get(reservation_url(plain["quote_id"]), headers=service_key), 404, "NOT_FOUND")


async def test_identical_reserving_requests_each_hold_their_own_units(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, stock=3)

    first = await reserve(client, service_key, (product, 1), customer="alice")
    second = await reserve(client, service_key, (product, 1), customer="alice")

    assert first["quote_id"] != second["quote_id"]
    assert await units(client, admin, product) == (3, 2, 1)


async def test_the_order_of_a_reserved_quote_consumes_the_hold(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, stock=3)
    quote = await reserve(client, service_key, (product, 3), customer="alice")

    placed = expect_ok(await order(client, service_key, quote["quote_id"]), 201)

    assert await units(client, admin, product) == (0, 0, 0)
    held = expect_ok(await client.get(reservation_url(quote["quote_id"]), headers=service_key))
    assert (held["status"], held["order_id"]) == ("consumed", placed["id"])
    expect_error(
        await client.delete(reservation_url(quote["quote_id"]), headers=service_key), 409, "QUOTE_ALREADY_ORDERED"
    )


async def test_a_plain_order_cannot_take_units_held_for_another_quote(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, stock=5)
    plain = expect_ok(await client.post(QUOTE, json=basket("bob", (product, 2), reserve=False), headers=service_key))
    await reserve(client, service_key, (product, 4), customer="alice")

    refused = expect_error(await order(client, service_key, plain["quote_id"]), 409, "INSUFFICIENT_STOCK")

    assert field_errors(refused) == {
        "items[0].quantity": f"product {product['id']}: 2 ordered, 5 in stock, 4 of them held for other quotes"
    }
    assert await units(client, admin, product) == (5, 4, 1)
    smaller = expect_ok(await client.post(QUOTE, json=basket("bob", (product, 1), reserve=False), headers=service_key))
    expect_ok(await order(client, service_key, smaller["quote_id"]), 201)
    assert await units(client, admin, product) == (4, 4, 0)


async def test_release_gives_the_units_back_and_the_quote_orders_as_a_plain_one(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, stock=3)
    quote = await reserve(client, service_key, (product, 3), customer="alice")

    released = expect_ok(await client.delete(reservation_url(quote["quote_id"]), headers=service_key))

    assert released["status"] == "released"
    assert released["lines"] == [{"product_id": product["id"], "quantity": 3}]
    assert await units(client, admin, product) == (3, 0, 3)
    again = expect_ok(await client.delete(reservation_url(quote["quote_id"]), headers=service_key))
    assert again["status"] == "released"  # releasing twice changes nothing
    await reserve(client, service_key, (product, 2), customer="bob")
    expect_error(await order(client, service_key, quote["quote_id"]), 409, "INSUFFICIENT_STOCK")


async def test_only_the_quotes_maker_or_an_admin_reads_or_releases_its_hold(
    client: Client, admin: Caller, shopper: Caller, settings: Settings, password_hash: str
) -> None:
    product = await create_product(client, admin, stock=10)
    stranger = await make_caller(settings, password_hash, "stranger", "user")
    keys = []
    for name in ("checkout", "other-checkout"):
        created = expect_ok(await client.post("/api/v1/api-keys", json={"name": name}, headers=admin.headers), 201)
        keys.append({"X-API-Key": created["key"]})
    own = await reserve(client, shopper.headers, (product, 1), customer=str(shopper.id))
    for_shopper = await reserve(client, keys[0], (product, 1), customer=str(shopper.id))
    by_key = await reserve(client, keys[0], (product, 1), customer="someone")

    # Anyone else meets the hold as an unknown one: the customer it was made for too.
    for quote, headers in ((own, stranger.headers), (own, keys[1]), (for_shopper, shopper.headers)):
        url = reservation_url(quote["quote_id"])
        for refused in (await client.get(url, headers=headers), await client.delete(url, headers=headers)):
            body = expect_error(refused, 404, "NOT_FOUND")
            assert body["message"] == f"quote {quote['quote_id']} holds no reservation"
    assert await units(client, admin, product) == (10, 3, 7)
    for quote, headers in ((own, shopper.headers), (for_shopper, keys[0]), (by_key, admin.headers)):
        released = expect_ok(await client.delete(reservation_url(quote["quote_id"]), headers=headers))
        assert released["status"] == "released"
    assert await units(client, admin, product) == (10, 0, 10)


async def test_another_caller_cannot_order_a_shoppers_reserved_quote(
    client: Client,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    settings: Settings,
    password_hash: str,
    pool: asyncpg.Pool,
) -> None:
    """The hold stays the shopper's: another key's or user's order is a 404 that consumes nothing,
    and the shopper still orders it (a service key used to take the hold and own the order)."""
    product = await create_product(client, admin, stock=3)
    quote = await reserve(client, shopper.headers, (product, 2), customer=str(shopper.id))
    stranger = await make_caller(settings, password_hash, "stranger", "user")

    for headers in (service_key, stranger.headers):
        refused = expect_error(await order(client, headers, quote["quote_id"]), 404, "NOT_FOUND")
        assert refused["message"] == f"quote {quote['quote_id']} not found"

    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    held = expect_ok(await client.get(reservation_url(quote["quote_id"]), headers=shopper.headers))
    assert held["status"] == "held"
    assert await units(client, admin, product) == (3, 2, 1)
    placed = expect_ok(await order(client, shopper.headers, quote["quote_id"]), 201)
    assert placed["customer_id"] == str(shopper.id)
    assert await units(client, admin, product) == (1, 0, 1)


async def test_reserve_stock_must_be_a_boolean(client: Client, admin: Caller, service_key: dict[str, str]) -> None:
    product = await create_product(client, admin, stock=10)
    body = {**basket("alice", (product, 1)), "reserve_stock": "yes"}

    refused = expect_error(await client.post(QUOTE, json=body, headers=service_key), 422, "VALIDATION_FAILED")

    assert set(field_errors(refused)) == {"reserve_stock"}
    assert await units(client, admin, product) == (10, 0, 10)


async def test_holds_survive_a_redis_flush(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    product = await create_product(client, admin, stock=4)
    await reserve(client, service_key, (product, 3), customer="alice")
    assert settings.redis_url is not None
    redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()

    assert await units(client, admin, product) == (4, 3, 1)
    refused = await client.post(QUOTE, json=basket("bob", (product, 2)), headers=service_key)
    expect_error(refused, 409, "INSUFFICIENT_STOCK")


class Clock:
    """The quotes' clock, moved by the test (quotes, holds and the sweeper read it)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def timed(settings: Settings, clock: Clock) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings, quote_clock=clock)) as held:
        yield held


async def test_expiry_gives_the_units_back_and_the_sweeper_closes_the_reservation(
    timed: Client, admin: Caller, clock: Clock, pool: asyncpg.Pool
) -> None:
    created = expect_ok(await timed.post("/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers), 201)
    headers = {"X-API-Key": created["key"]}
    product = await create_product(timed, admin, stock=2)
    quote = await reserve(timed, headers, (product, 2), customer="alice")
    expect_error(await timed.post(QUOTE, json=basket("bob", (product, 1)), headers=headers), 409, "INSUFFICIENT_STOCK")

    clock.offset = timedelta(minutes=15, seconds=1)  # past the quote's valid_until

    assert await units(timed, admin, product) == (2, 0, 2)  # at once, before any sweep
    await reserve(timed, headers, (product, 1), customer="bob")

    async def closed() -> bool:
        sql = "SELECT status FROM reservations WHERE quote_id = $1"
        status = await pool.fetchval(sql, uuid.UUID(quote["quote_id"]))
        return bool(status == "expired")

    await until(closed, "the sweeper closed the expired reservation", within=5)
    held = expect_ok(await timed.get(reservation_url(quote["quote_id"]), headers=headers))
    assert held["status"] == "expired"
    assert (
        await pool.fetchval("SELECT count(*) FROM reservation_holds WHERE quote_id = $1", uuid.UUID(quote["quote_id"]))
        == 0
    )


async def test_stock_removal_and_flash_allocations_leave_held_units_alone(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await flash_product(client, admin, stock=5)
    quote = await reserve(client, service_key, (product, 3), customer="alice")
    stock = f"/api/v1/products/{product['id']}/stock"

    refused = expect_error(
        await client.post(stock, json={"delta": -3, "reason": "damaged"}, headers=admin.headers),
        409,
        "INSUFFICIENT_STOCK",
    )
    assert set(field_errors(refused)) == {"delta"}
    expect_ok(await client.post(stock, json={"delta": -2, "reason": "damaged"}, headers=admin.headers))
    allocation = sale_body(product["id"], item={"allocated_stock": 1})
    short = expect_error(await client.post(SALES, json=allocation, headers=admin.headers), 409, "INSUFFICIENT_STOCK")
    assert set(field_errors(short)) == {"items[0].allocated_stock"}

    assert await units(client, admin, product) == (3, 3, 0)
    expect_ok(await order(client, service_key, quote["quote_id"]), 201)  # the held units were all still there
    assert await units(client, admin, product) == (0, 0, 0)


async def test_holds_survive_a_restart_of_the_service(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    product = await create_product(client, admin, stock=4)
    quote = await reserve(client, service_key, (product, 3), customer="alice")

    async with AsyncTestClient(app=create_app(settings)) as restarted:  # a new process's app, same stores
        assert await units(restarted, admin, product) == (4, 3, 1)
        expect_error(
            await restarted.post(QUOTE, json=basket("bob", (product, 2)), headers=service_key),
            409,
            "INSUFFICIENT_STOCK",
        )
        expect_ok(await order(restarted, service_key, quote["quote_id"]), 201)
        assert await units(restarted, admin, product) == (1, 0, 1)
