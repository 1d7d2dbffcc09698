"""The product cache's versions and outbox on real PostgreSQL and Redis: an invalidation is
queued in the write's own transaction, delivered by any process, and a reader that loaded the
old row before the change can never put it back over the invalidation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import cast

import asyncpg
import pytest
from redis.asyncio import Redis

from quote_service.cache.products import _PUT_IF_NEWER, ProductCache, product_key
from quote_service.cache.redis import RedisClient
from quote_service.config import Settings
from quote_service.db.pool import Pool, create_pool
from tests.cluster_fixtures import redis_client

pytestmark = pytest.mark.redis_backends


@pytest.fixture
async def stores(settings: Settings) -> AsyncIterator[tuple[Pool, RedisClient]]:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=4)
    redis = redis_client(settings.redis_url)
    yield pool, redis
    await redis.aclose()
    await pool.close()


async def insert_product(pool: Pool, price: str = "100.00") -> str:
    product_id = await pool.fetchval(
        """INSERT INTO products (sku, name, category_id, seller_id, currency, base_price, current_price,
                                 min_price, cost_price, stock)
           VALUES ($1, 'P', 'books', 's1', 'EUR', $2::numeric, $2::numeric, 1, 0.5, 10) RETURNING id""",
        f"SKU-{uuid.uuid4().hex[:8]}",
        price,
    )
    return str(product_id)


async def outbox(pool: Pool) -> list[tuple[str, int]]:
    rows = await pool.fetch("SELECT product_id, product_version FROM product_cache_outbox ORDER BY id")
    return [(str(r["product_id"]), r["product_version"]) for r in rows]


async def test_price_changes_queue_an_invalidation_in_their_transaction_and_stock_changes_do_not(
    stores: tuple[Pool, RedisClient],
) -> None:
    pool, _ = stores
    product_id = await insert_product(pool)
    assert await outbox(pool) == [(product_id, 1)]
    await pool.execute("DELETE FROM product_cache_outbox")

    await pool.execute("UPDATE products SET stock = stock - 1, name = 'renamed' WHERE id = $1", product_id)
    assert await outbox(pool) == []
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("UPDATE products SET current_price = 150 WHERE id = $1", product_id)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE products SET stock = -1 WHERE id = $1", product_id)
        await transaction.rollback()
    assert await outbox(pool) == []  # rolled back with the change it described

    await pool.execute("UPDATE products SET current_price = 150 WHERE id = $1", product_id)
    assert await outbox(pool) == [(product_id, 2)]


async def test_a_reader_holding_the_old_row_cannot_overwrite_a_delivered_invalidation(
    stores: tuple[Pool, RedisClient],
) -> None:
    pool, redis = stores
    writer, slow_reader = ProductCache(redis, pool), ProductCache(redis, pool)
    product_id = await insert_product(pool)
    assert await writer.drain() == 1
    old = await slow_reader.get_many([product_id])
    assert str(old[product_id].current_price) == "100.0000"
    stale_payload = cast(bytes | None, await redis.get(product_key(product_id)))
    assert stale_payload is not None
    assert stale_payload.startswith(b"1:")

    await pool.execute("UPDATE products SET current_price = 150 WHERE id = $1", product_id)
    assert await writer.drain() == 1
    assert await redis.get(product_key(product_id)) == b"2:"  # a tombstone: older entries are stale

    # The slow reader's fill with what it read before the change arrives late: refused.
    await redis.eval(_PUT_IF_NEWER, 1, product_key(product_id), 3600, stale_payload)
    assert await redis.get(product_key(product_id)) == b"2:"
    # Any process now loads the new row, and that one is taken.
    fresh = await ProductCache(redis, pool).get_many([product_id])
    assert str(fresh[product_id].current_price) == "150.0000"
    cached = cast(bytes | None, await redis.get(product_key(product_id)))
    assert cached is not None
    assert cached.startswith(b"2:")
    assert len(cached) > 2
    # Delivering the same invalidation again (a retry after a lost acknowledgement) changes nothing.
    await pool.execute(
        "INSERT INTO product_cache_outbox (product_id, product_version) VALUES ($1, 2)", uuid.UUID(product_id)
    )
    assert await writer.drain() == 1
    assert await redis.get(product_key(product_id)) == cached


async def test_invalidate_never_fails_a_committed_write_and_leaves_the_rows_for_the_background(
    settings: Settings,
) -> None:
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        cache = ProductCache(unreachable, pool)
        product_id = await insert_product(pool)
        assert await cache.invalidate([product_id]) is False
        assert await outbox(pool) == [(product_id, 1)]
    finally:
        await unreachable.aclose()
        await pool.close()
