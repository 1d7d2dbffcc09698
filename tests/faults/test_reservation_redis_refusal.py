"""A reserving quote whose store write Redis refuses: 503 with Retry-After, and nothing held.

The holds commit in PostgreSQL before the quote is written to Redis; when Redis then refuses the
write (here: out of memory, `maxmemory` 1 byte with `noeviction`), the quote is not answered, so
its holds are deleted at once instead of blocking the units until the quote's expiry; a refreshed
quote's (`replaces_quote_id`) old hold is held again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.faults.private import PrivatePostgres, PrivateRedis
from tests.faults.scenario import QUOTE, seed

pytestmark = pytest.mark.slow


@pytest.fixture
async def client(private_pg: PrivatePostgres, private_redis: PrivateRedis) -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = Settings(database_url=private_pg.url, redis_url=private_redis.url, log_format="json", log_level="ERROR")
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


def three_units(product_id: str) -> dict[str, Any]:
    """Alice's quote of three units of the product."""
    return {
        "customer_id": "alice",
        "currency": "TRY",
        "items": [{"product_id": product_id, "quantity": 3}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
    }


async def test_a_reserving_quote_redis_refuses_answers_503_and_holds_nothing(
    client: AsyncTestClient[Litestar], private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    data = await seed(client, private_pg.url, products=1, stock=5)  # type: ignore[arg-type]
    body = three_units(data.products[0])
    warm = await client.post(QUOTE, json=body, headers=data.service_key)  # the key is known, caches are warm
    assert warm.status_code == 200, warm.text
    assert private_redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction") == "+OK"
    assert private_redis.command("CONFIG", "SET", "maxmemory", "1") == "+OK"

    refused = await client.post(QUOTE, json={**body, "reserve_stock": True}, headers=data.service_key)

    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "DEPENDENCY_UNAVAILABLE"
    assert refused.headers["retry-after"]
    conn = await asyncpg.connect(private_pg.url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM reservations") == 0
        assert await conn.fetchval("SELECT count(*) FROM reservation_holds") == 0
    finally:
        await conn.close()
    assert private_redis.command("CONFIG", "SET", "maxmemory", "0") == "+OK"
    answered = await client.post(QUOTE, json={**body, "reserve_stock": True}, headers=data.service_key)
    assert answered.status_code == 200, answered.text
    assert answered.json()["data"]["reservation"]["lines"][0]["quantity"] == 3


@pytest.mark.long
async def test_a_refresh_redis_refuses_answers_503_and_keeps_the_hold_it_was_taking_over(
    client: AsyncTestClient[Litestar], private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    """The refreshed quote (`replaces_quote_id`) took over the old hold in PostgreSQL, then Redis
    refused to store it: it was never answered, so the old quote holds its units again."""
    data = await seed(client, private_pg.url, products=1, stock=5)  # type: ignore[arg-type]
    body = {**three_units(data.products[0]), "reserve_stock": True}
    first = await client.post(QUOTE, json=body, headers=data.service_key)
    assert first.status_code == 200, first.text
    first_id = first.json()["data"]["quote_id"]
    assert private_redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction") == "+OK"
    assert private_redis.command("CONFIG", "SET", "maxmemory", "1") == "+OK"

    refused = await client.post(QUOTE, json={**body, "replaces_quote_id": first_id}, headers=data.service_key)

    assert refused.status_code == 503, refused.text
    conn = await asyncpg.connect(private_pg.url)
    try:
        rows = await conn.fetch("SELECT quote_id::text, status, replaced_by FROM reservations")
        assert [tuple(row) for row in rows] == [(first_id, "held", None)]
        assert await conn.fetchval("SELECT sum(quantity) FROM reservation_holds WHERE quote_id = $1", first_id) == 3
    finally:
        await conn.close()
    assert private_redis.command("CONFIG", "SET", "maxmemory", "0") == "+OK"
    moved = await client.post(QUOTE, json={**body, "replaces_quote_id": first_id}, headers=data.service_key)
    assert moved.status_code == 200, moved.text
