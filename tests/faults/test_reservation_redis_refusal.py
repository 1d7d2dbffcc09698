"""A reserving quote whose store write Redis refuses: 503 with Retry-After, and nothing held.

The holds commit in PostgreSQL before the quote is written to Redis; when Redis then refuses the
write (here: out of memory, `maxmemory` 1 byte with `noeviction`), the quote is not answered, so
its holds are deleted at once instead of blocking the units until the quote's expiry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

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


async def test_a_reserving_quote_redis_refuses_answers_503_and_holds_nothing(
    client: AsyncTestClient[Litestar], private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    data = await seed(client, private_pg.url, products=1, stock=5)  # type: ignore[arg-type]
    body = {
        "customer_id": "alice",
        "currency": "TRY",
        "items": [{"product_id": data.products[0], "quantity": 3}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
    }
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
