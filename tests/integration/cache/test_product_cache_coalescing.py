"""Misses of the product cache coalesce (cache/products.py): quotes that miss the same products at once — their
local entries expired together — make one read of Redis (and of PostgreSQL) between them, not one each; a read
that fails leaves each waiting call to read for itself."""

from __future__ import annotations

import asyncio

import pytest

from quote_service.cache.products import ProductCache
from quote_service.cache.redis import RedisClient
from quote_service.db.pool import Pool
from tests.integration.cache import test_product_cache_versions as versions
from tests.integration.cache.test_product_cache_versions import insert_product

pytestmark = pytest.mark.redis_backends
stores = versions.stores  # the fixture: this test's PostgreSQL pool and Redis client


class Counting:
    """Counts the calls of one coroutine method of `target`, and may fail the first one."""

    def __init__(self, target: object, name: str, *, fail_first: bool = False) -> None:
        self.calls = 0
        self.fail_first = fail_first
        real = getattr(target, name)

        async def counted(*args: object, **kwargs: object) -> object:
            self.calls += 1
            await asyncio.sleep(0.05)  # long enough for the other calls to arrive meanwhile
            if self.fail_first and self.calls == 1:
                raise ConnectionError("Redis went away")
            return await real(*args, **kwargs)

        setattr(target, name, counted)


async def test_calls_missing_the_same_products_at_once_read_them_once(stores: tuple[Pool, RedisClient]) -> None:
    pool, redis = stores
    cache = ProductCache(redis, pool)
    ids = [await insert_product(pool) for _ in range(3)]
    reads = Counting(cache, "_load")
    answers = await asyncio.gather(*(cache.get_many(ids) for _ in range(20)))
    assert reads.calls == 1
    assert all(set(answer) == set(ids) for answer in answers)
    assert all(answer[i].id == answers[0][i].id for answer in answers for i in ids)


async def test_a_read_that_fails_leaves_each_waiting_call_to_read_for_itself(
    stores: tuple[Pool, RedisClient],
) -> None:
    pool, redis = stores
    cache = ProductCache(redis, pool)
    ids = [await insert_product(pool) for _ in range(2)]
    reads = Counting(cache, "_read", fail_first=True)
    first, *others = await asyncio.gather(*(cache.get_many(ids) for _ in range(5)), return_exceptions=True)
    assert isinstance(first, ConnectionError)
    assert all(isinstance(answer, dict) and set(answer) == set(ids) for answer in others), others
    assert reads.calls >= 2  # the failed read, then the waiting calls' own
