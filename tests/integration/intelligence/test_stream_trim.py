"""The competitor-price stream keeps only what is still to be finished.

XACK does not delete an entry: without trimming, the stream held its cap of a million entries
(~200 MB that a `volatile-lru` Redis never evicts) once that many had passed through it. The
consumer's recovery pass trims what the group has read and acknowledged, and never an entry that
is pending on any member.
"""

from __future__ import annotations

import asyncpg
import pytest

from quote_service.cache.redis import RedisClient
from quote_service.intelligence import stream
from quote_service.intelligence.consumer import StreamConsumer
from quote_service.intelligence.schemas import ObservationRecord
from tests.integration.intelligence.test_competitor_prices import NOW, make_product, observation

pytestmark = [pytest.mark.redis_backends, pytest.mark.usefixtures("competitor_group")]


async def test_acknowledged_entries_are_trimmed_and_pending_ones_kept(pool: asyncpg.Pool, redis: RedisClient) -> None:
    product_id = await make_product(pool)
    records = [stream.validate(observation(product_id, competitor=f"c{i}"), i, NOW) for i in range(30)]
    await stream.publish(redis, [r for r in records if isinstance(r, ObservationRecord)])
    # A member that died holding the first 5: they stay pending until someone claims them.
    await redis.xreadgroup(stream.GROUP, "dead", {stream.STREAM: ">"}, count=5)
    consumer = StreamConsumer(redis, pool, signals=None, name="alive", block_ms=10, claim_idle_ms=3_600_000)
    await consumer.run_once()
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 25

    await consumer.run_once(claim=True)
    assert await redis.xlen(stream.STREAM) == 30  # the oldest pending entry is the first: nothing goes

    claimer = StreamConsumer(redis, pool, signals=None, name="claimer", block_ms=10, claim_idle_ms=0)
    await claimer.run_once(claim=True)  # finishes the dead member's 5, then trims
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 30
    assert await redis.xlen(stream.STREAM) <= 1  # at most the last delivered entry stays
