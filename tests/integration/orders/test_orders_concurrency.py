"""Orders under concurrency: stock never oversold, coupon limits never exceeded, one order per key.

Every test fires its orders at once at a real `quote-service serve` process (one per test,
started after the test's stores were cleaned, with patient pool and lock waits: servers.race_server)
through httpx, and then checks PostgreSQL itself. Not through the in-process test client: it
answers one request at a time, so nothing would race.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service.auth.policy import Maker
from quote_service.config import Settings
from quote_service.pricing.quote import AppliedCoupon, Quote
from quote_service.quotes.store import QuoteStore
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.orders.test_orders_api import (
    build_quote,
    count,
    coupon,
    key,
    line,
    order,
    quote_store,
    stock_of,
    stored,
)
from tests.integration.servers import RaceServer, new_tag

Client = AsyncTestClient[Litestar]
Http = httpx.AsyncClient  # to the test's real server, for the racing requests


@pytest.fixture
async def quotes(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[QuoteStore]:
    async with quote_store(settings, pool) as store:
        yield store


Keep = Callable[[Quote], Awaitable[Quote]]


@pytest.fixture
async def keep(quotes: QuoteStore, key_maker: Maker) -> Keep:
    """Stores a quote as made by `service_key`, the key that orders every quote here."""

    async def store(quote: Quote) -> Quote:
        return await stored(quotes, quote, key_maker)

    return store


@pytest.fixture
async def http(server: RaceServer) -> AsyncIterator[Http]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with server.client(new_tag(), limits=limits) as racing:
        yield racing


def outcomes(responses: list[httpx.Response]) -> Counter[tuple[int, str]]:
    """How many responses ended how: (status, error code or "ok")."""
    return Counter((r.status_code, "ok" if r.status_code < 400 else r.json()["error"]["code"]) for r in responses)


async def place_all(client: Http, headers: dict[str, str], quotes: list[Quote]) -> list[httpx.Response]:
    return list(await asyncio.gather(*(order(client, headers, q) for q in quotes)))


async def test_thirty_orders_for_ten_units_sell_exactly_ten(
    client: Client, http: Http, admin: Caller, service_key: dict[str, str], keep: Keep, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=10)
    baskets = [await keep(build_quote(f"cust-{i}", [line(product, 1)])) for i in range(30)]

    responses = await place_all(http, service_key, baskets)

    assert outcomes(responses) == {(201, "ok"): 10, (409, "INSUFFICIENT_STOCK"): 20}
    assert await stock_of(pool, product) == 0
    assert await count(pool, "orders") == 10
    after = await pool.fetch("SELECT delta, stock_after FROM stock_movements ORDER BY id")
    assert sorted(m["stock_after"] for m in after) == list(range(10))
    assert {m["delta"] for m in after} == {-1}


async def test_baskets_locking_the_same_products_in_any_line_order_never_deadlock(
    client: Client, http: Http, admin: Caller, service_key: dict[str, str], keep: Keep, pool: asyncpg.Pool
) -> None:
    first = await create_product(client, admin, stock=100)
    second = await create_product(client, admin, stock=100)
    third = await create_product(client, admin, stock=100)
    orders_of_lines = [[first, second, third], [third, second, first], [second, third, first]]
    baskets = [await keep(build_quote(f"cust-{i}", [line(p, 2) for p in orders_of_lines[i % 3]])) for i in range(24)]

    responses = await place_all(http, service_key, baskets)

    assert outcomes(responses) == {(201, "ok"): 24}
    assert [await stock_of(pool, p) for p in (first, second, third)] == [52, 52, 52]


async def test_a_coupon_with_usage_limit_five_is_used_exactly_five_times(
    client: Client, http: Http, admin: Caller, service_key: dict[str, str], keep: Keep, pool: asyncpg.Pool
) -> None:
    # A product per basket: only the coupon's row lock, not a shared product's, orders them.
    products = [await create_product(client, admin, stock=100) for _ in range(20)]
    await coupon(client, admin, "FIVE", usage_limit=5)
    applied = [AppliedCoupon(code="FIVE", type="PERCENTAGE", amount=Decimal("2.55"))]
    baskets = [
        await keep(build_quote(f"cust-{i}", [line(product, 1, discount="2.55")], coupons=applied))
        for i, product in enumerate(products)
    ]

    responses = await place_all(http, service_key, baskets)

    assert outcomes(responses) == {(201, "ok"): 5, (409, "COUPON_LIMIT_REACHED"): 15}
    assert await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'FIVE'") == 5
    assert await count(pool, "coupon_redemptions") == 5
    assert sum([await stock_of(pool, product) for product in products]) == 20 * 100 - 5


async def test_a_per_customer_limit_holds_for_one_customer_and_not_for_others(
    client: Client,
    http: httpx.AsyncClient,
    admin: Caller,
    service_key: dict[str, str],
    keep: Keep,
    pool: asyncpg.Pool,
    redis_url: str,
) -> None:
    await coupon(client, admin, "TWICE", per_customer_limit=2)
    applied = [AppliedCoupon(code="TWICE", type="PERCENTAGE", amount=Decimal("2.55"))]
    customers = ["eager"] * 10 + ["calm-1", "calm-2", "calm-3"]
    # A product per basket: only the coupon's row lock, not a shared product's, orders them.
    products = [await create_product(client, admin, stock=100) for _ in customers]
    baskets = [
        await keep(build_quote(c, [line(product, 1, discount="2.55")], coupons=applied))
        for c, product in zip(customers, products, strict=True)
    ]

    responses = await place_all(http, service_key, baskets)

    eager, calm = responses[:10], responses[10:]
    assert outcomes(eager) == {(201, "ok"): 2, (409, "COUPON_LIMIT_REACHED"): 8}
    assert outcomes(calm) == {(201, "ok"): 3}
    per_customer = await pool.fetch("SELECT customer_id, count(*) AS n FROM coupon_redemptions GROUP BY customer_id")
    assert {r["customer_id"]: r["n"] for r in per_customer} == {"eager": 2, "calm-1": 1, "calm-2": 1, "calm-3": 1}
    redis = Redis.from_url(redis_url)
    try:
        # `<count>:<version>`: two uses, each a change; the refused orders changed nothing
        assert await redis.get("qs:coupon-uses:TWICE:eager") == b"2:2"
        assert await redis.get("qs:coupon-uses:TWICE:calm-1") == b"1:1"
    finally:
        await redis.aclose()


async def test_concurrent_retries_of_one_key_create_one_order(
    client: Client, http: Http, admin: Caller, service_key: dict[str, str], keep: Keep, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=10)
    quote = await keep(build_quote("cust-1", [line(product, 3)]))
    retry = key()

    responses: list[Any] = await asyncio.gather(*(order(http, service_key, quote, **retry) for _ in range(15)))

    assert outcomes(responses) == {(201, "ok"): 15}
    assert len({r.json()["data"]["id"] for r in responses}) == 1
    assert await count(pool, "orders") == 1
    assert await stock_of(pool, product) == 7


async def test_concurrent_orders_of_one_quote_with_different_keys_create_one_order(
    client: Client, http: Http, admin: Caller, service_key: dict[str, str], keep: Keep, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=10)
    quote = await keep(build_quote("cust-1", [line(product, 3)]))

    responses = await place_all(http, service_key, [quote] * 10)

    assert outcomes(responses) == {(201, "ok"): 1, (409, "QUOTE_ALREADY_ORDERED"): 9}
    assert await stock_of(pool, product) == 7


async def test_an_order_refused_mid_race_leaves_no_trace(
    client: Client, http: Http, admin: Caller, service_key: dict[str, str], keep: Keep, pool: asyncpg.Pool
) -> None:
    """Multi-line orders racing for a scarce second product: losers take none of the first."""
    plenty = await create_product(client, admin, stock=50)
    scarce = await create_product(client, admin, stock=3)
    baskets = [await keep(build_quote(f"cust-{i}", [line(plenty, 2), line(scarce, 1)])) for i in range(12)]

    responses = await place_all(http, service_key, baskets)

    assert outcomes(responses) == {(201, "ok"): 3, (409, "INSUFFICIENT_STOCK"): 9}
    assert (await stock_of(pool, plenty), await stock_of(pool, scarce)) == (44, 0)
    assert await count(pool, "order_lines") == 6
