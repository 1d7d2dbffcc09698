"""POST /api/v1/quote and GET /api/v1/quotes/{id} over HTTP, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import product_body
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.servers import cli_env, running_server
from tests.waiting import until

Client = AsyncTestClient[Litestar]
QUOTE = "/api/v1/quote"


def quote_body(**overrides: Any) -> dict[str, Any]:
    """The Go service's README request (2 x 25.50, express, no pickup), changed by `overrides`."""
    body: dict[str, Any] = {
        "customer_id": f"customer-{uuid.uuid4().hex[:8]}",
        "seller_id": "seller-1",
        "items": [{"product_id": "go-readme-item", "quantity": 2, "unit_price": 25.50, "category_id": "electronics"}],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
        "is_express_delivery": True,
        "coupon_codes": [],
        "currency": "TRY",
    }
    body.update(overrides)
    return body


async def quote(client: Client, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(QUOTE, json=quote_body(**overrides), headers=headers))
    return data


@contextlib.asynccontextmanager
async def client_with(settings: Settings, **changes: Any) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(msgspec.structs.replace(settings, **changes))) as test_client:
        yield test_client


@contextlib.asynccontextmanager
async def products_locked(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """Hold an exclusive lock on `products`: a real slow dependency for every catalog read.

    Yields the connection holding it, to ask `blocked_on_products` with."""
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
            yield conn
    finally:
        await conn.close()


async def blocked_on_products(conn: asyncpg.Connection) -> bool:
    """Whether a quote's catalog read (cache/products.py) waits for the lock on `products`.

    Background jobs wait on it too, so the waiting statement is matched by its text; inside the
    lock's transaction pg_stat_activity would be a snapshot taken once, hence the clear."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    waiting: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                          WHERE l.relation = 'products'::regclass AND NOT l.granted
                            AND a.query LIKE '%FROM products p WHERE p.id = any($1::uuid[])%')"""
    )
    return waiting


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_the_go_readme_example_with_defaults_only(client: Client, service_key: dict[str, str]) -> None:
    response = await client.post(QUOTE, json=quote_body(), headers=service_key)
    body = response.json()

    data = expect_ok(response)
    assert isinstance(body["processing_time_ms"], float)
    totals = {k: data[k] for k in ("subtotal", "tax_amount", "delivery_fee", "small_basket_fee", "total_amount")}
    assert totals == {
        "subtotal": "51.00",
        "tax_amount": "9.18",
        "delivery_fee": "20.00",
        "small_basket_fee": "0.00",
        "total_amount": "80.18",
    }
    assert data["commission_breakdown"]["total_commission"] == "7.65"
    assert data["items"][0]["price_source"] == "request"
    assert data["currency"] == "TRY"


async def test_the_server_price_wins_over_the_client_price(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = expect_ok(
        await client.post("/api/v1/products", json=product_body(base_price="30.00"), headers=admin.headers), 201
    )
    item = {"product_id": product["id"], "quantity": 1, "unit_price": "1.00"}

    data = await quote(client, service_key, items=[item], is_express_delivery=False)

    assert data["items"][0]["price_source"] == "catalog"
    assert data["items"][0]["line_subtotal"] == "30.00"


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_price_change_changes_the_next_quote_at_once(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = expect_ok(await client.post("/api/v1/products", json=product_body(), headers=admin.headers), 201)
    item = {"product_id": product["id"], "quantity": 1}
    before = await quote(client, service_key, items=[item])  # warms the product cache

    expect_ok(
        await client.patch(f"/api/v1/products/{product['id']}", json={"current_price": "40.00"}, headers=admin.headers)
    )
    after = await quote(client, service_key, items=[item])

    assert (before["subtotal"], after["subtotal"]) == ("25.50", "40.00")


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_rule_rate_and_flag_changes_change_the_next_quote(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    base = await quote(client, service_key)
    tax_rule = {
        "name": "tr-electronics-tax",
        "type": "TAX_RATE",
        "configuration": {"rate": 10},
        "region": "TR",
        "category_id": "electronics",
        "effective_from": "2020-01-01T00:00:00Z",
    }
    expect_ok(await client.post("/api/v1/pricing-rules", json=tax_rule, headers=admin.headers), 201)
    taxed = await quote(client, service_key)
    rate = {"category_id": "electronics", "commission_type": "PERCENTAGE", "rate": 10, "currency": "TRY",
            "effective_from": "2020-01-01T00:00:00Z"}  # fmt: skip
    expect_ok(await client.post("/api/v1/commission-rates", json=rate, headers=admin.headers), 201)
    commissioned = await quote(client, service_key)
    flag = {"key": "express_delivery_multiplier", "name": "Express x3", "type": "NUMBER", "value": 3}
    expect_ok(await client.post("/api/v1/feature-flags", json=flag, headers=admin.headers), 201)
    flagged = await quote(client, service_key)

    assert (base["tax_amount"], taxed["tax_amount"]) == ("9.18", "5.10")
    assert (
        taxed["commission_breakdown"]["total_commission"],
        commissioned["commission_breakdown"]["total_commission"],
    ) == ("7.65", "5.10")
    assert (commissioned["delivery_fee"], flagged["delivery_fee"]) == ("20.00", "30.00")


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_stored_quote_is_readable_right_after_its_response(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    data = await quote(client, service_key)

    stored = expect_ok(await client.get(f"/api/v1/quotes/{data['quote_id']}", headers=admin.headers))

    assert stored == data
    expect_error(await client.get(f"/api/v1/quotes/{uuid.uuid4()}", headers=admin.headers), 404, "NOT_FOUND")


async def test_invalid_quotes_are_422_with_field_paths(client: Client, service_key: dict[str, str]) -> None:
    bad = quote_body(items=[{"product_id": "x", "quantity": 0}], currency="ZZZ")
    response = await client.post(QUOTE, json=bad, headers=service_key)
    expect_error(response, 422, "VALIDATION_FAILED")
    no_price = quote_body(items=[{"product_id": "not-in-catalog", "quantity": 1}])
    body = expect_error(await client.post(QUOTE, json=no_price, headers=service_key), 422, "VALIDATION_FAILED")
    assert {d["field"] for d in body["error"]["details"]} == {"items[0].unit_price"}


async def test_the_rate_limit_answers_429_with_retry_after(settings: Settings, service_key: dict[str, str]) -> None:
    async with client_with(settings, rate_limit_per_minute=2) as limited:
        statuses = [(await limited.post(QUOTE, json=quote_body(), headers=service_key)) for _ in range(3)]

    assert [r.status_code for r in statuses] == [200, 200, 429]
    expect_error(statuses[2], 429, "RATE_LIMITED")
    assert int(statuses[2].headers["retry-after"]) >= 1


@pytest.mark.slow
async def test_the_concurrency_cap_answers_503_with_retry_after(
    settings: Settings, admin: Caller, shopper: Caller
) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING",
                  MAX_CONCURRENT_QUOTES="1", QUOTE_TIMEOUT="5")  # fmt: skip
    with running_server(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            product = expect_ok(await http.post("/api/v1/products", json=product_body(), headers=admin.headers), 201)
            slow = quote_body(customer_id=str(shopper.id), items=[{"product_id": product["id"], "quantity": 1}])
            async with products_locked(settings) as lock:
                first = asyncio.create_task(http.post(QUOTE, json=slow, headers=shopper.headers))
                # Once it waits on the lock, the first quote holds the only slot.
                await until(lambda: blocked_on_products(lock), "the first quote waits on the locked catalog")
                second = await http.post(QUOTE, json=quote_body(customer_id=str(shopper.id)), headers=shopper.headers)
            finished = await first

    expect_error(second, 503, "OVERLOADED")
    assert int(second.headers["retry-after"]) >= 1
    assert finished.status_code == 200


async def test_a_quote_past_its_deadline_is_504(settings: Settings, admin: Caller, shopper: Caller) -> None:
    async with client_with(settings, quote_timeout=0.3) as deadline:
        product = expect_ok(await deadline.post("/api/v1/products", json=product_body(), headers=admin.headers), 201)
        slow = quote_body(customer_id=str(shopper.id), items=[{"product_id": product["id"], "quantity": 1}])
        async with products_locked(settings):
            response = await deadline.post(QUOTE, json=slow, headers=shopper.headers)

    expect_error(response, 504, "QUOTE_TIMEOUT")


async def test_a_warm_quote_issues_no_postgresql_query(
    client: Client, admin: Caller, service_key: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    product = expect_ok(await client.post("/api/v1/products", json=product_body(), headers=admin.headers), 201)
    items = [{"product_id": product["id"], "quantity": 1}, {"product_id": "request-priced", "quantity": 1,
             "unit_price": "3.00"}]  # fmt: skip
    await quote(client, service_key, items=items)  # warms the caches (principal, product, absent id)
    acquired_by: list[str] = []
    real_acquire = asyncpg.pool.Pool.acquire

    def counting_acquire(self: asyncpg.pool.Pool, *args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        # Background loops (the quote-log writer, the product-cache outbox drain, the
        # configuration version check, the schedulers of the app the tests share) may touch
        # PostgreSQL at any moment; the request path never does.
        if task is None or getattr(task.get_coro(), "__qualname__", "") != "BackgroundLoop._run":
            acquired_by.append(task.get_name() if task is not None else "?")
        return real_acquire(self, *args, **kwargs)

    monkeypatch.setattr(asyncpg.pool.Pool, "acquire", counting_acquire)
    await quote(client, service_key, items=items, customer_id="another-customer")
    monkeypatch.undo()

    assert acquired_by == []


async def test_a_user_may_quote_only_for_itself(client: Client, admin: Caller, shopper: Caller) -> None:
    product = expect_ok(await client.post("/api/v1/products", json=product_body(), headers=admin.headers), 201)
    items = [{"product_id": product["id"], "quantity": 1}]
    someone_else = await client.post(
        QUOTE, json=quote_body(customer_id="someone-else", items=items), headers=shopper.headers
    )
    own = await client.post(QUOTE, json=quote_body(customer_id=str(shopper.id), items=items), headers=shopper.headers)

    expect_error(someone_else, 403, "FORBIDDEN")
    assert expect_ok(own)["customer_id"] == str(shopper.id)
