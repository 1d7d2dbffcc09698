"""A flash purchase whose undo fails (Redis unreachable at that moment) strands its units in
Redis; the hold reconciler gives them back once the hold is older than the grace, exactly once
(issue 32 item 4). A private Redis is paused (SIGSTOP) between the reservation and the undo."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import DependencyUnavailable
from tests.faults.private import PrivateRedis
from tests.integration.holdsetup import GRACE, Shop, shop
from tests.integration.locks import waiting_for_lock

RETURNED = "qs_flash_stranded_units_returned_total"


@pytest.fixture
async def store(settings: Settings, private_redis: PrivateRedis) -> AsyncIterator[Shop]:
    """The purchase path over the private Redis (a paused Redis fails a command in half a second)."""
    assert settings.database_url is not None
    redis = Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        async with shop(settings.database_url, redis, max_size=4, lock_timeout=30.0) as it:
            yield it
    finally:
        await redis.aclose()


async def test_units_stranded_by_a_failed_undo_are_returned_once_by_the_reconciler(
    pool: asyncpg.Pool, store: Shop, private_redis: PrivateRedis
) -> None:
    sale = await store.open_sale()
    now = utcnow()
    async with pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("SELECT 1 FROM flash_sale_items WHERE flash_sale_id = $1 FOR UPDATE",
                              uuid.UUID(sale["id"]))  # fmt: skip
        buying = asyncio.create_task(store.buy(sale, quantity=2, customer="c", key="k1", now=now))
        await waiting_for_lock(pool)  # units taken in Redis; the ledger write waits for the item row
        private_redis.pause()
        try:
            # The ledger write fails (cancelled); its undo meets a Redis that does not answer.
            await pool.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            with pytest.raises(DependencyUnavailable):
                await buying
        finally:
            private_redis.resume()
    assert await store.counts(sale) == {"left": 8, "c": 2}, "the undo should have failed"
    assert await store.holds(sale) == 1
    assert await pool.fetchval("SELECT count(*) FROM flash_purchases") == 0

    before = REGISTRY.get_sample_value(RETURNED) or 0.0
    store.reconciler.clock = lambda: now + timedelta(seconds=GRACE / 2)
    assert await store.reconciler.tick() == {"returned": 0, "settled": 0, "gone": 0}  # still within the grace
    assert await store.counts(sale) == {"left": 8, "c": 2}
    store.reconciler.clock = lambda: now + timedelta(seconds=GRACE + 1)
    assert await store.reconciler.tick() == {"returned": 1, "settled": 0, "gone": 0}
    assert await store.counts(sale) == {"left": 10, "c": 0}
    assert (REGISTRY.get_sample_value(RETURNED) or 0.0) - before == 2
    assert await store.holds(sale) == 0
    assert await store.reconciler.tick() == {"returned": 0, "settled": 0, "gone": 0}  # once
    assert await store.counts(sale) == {"left": 10, "c": 0}
    # The retry of the failed purchase goes through (its pending marker went with the hold).
    await store.buy(sale, quantity=2, customer="c", key="k1", now=utcnow())
    assert await store.counts(sale) == {"left": 8, "c": 2}
