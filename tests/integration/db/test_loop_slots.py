"""Once per slot across processes, even when Redis restarts empty (issue 22 item 12).

The decision schedule and the guardrail checker used to take their slot with a Redis key: a
Redis that came back empty between two passes of one slot let the slot run twice. The slot is
now taken in PostgreSQL (`loop_slots`); these tests flush Redis between two passes.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
from redis.asyncio import Redis

from quote_service.analytics.guardrail import GuardrailChecker
from quote_service.config import Settings
from quote_service.db.slots import slot_start, take_slot
from quote_service.intelligence.scheduler import DecisionScheduler
from quote_service.intelligence.service import Intelligence
from tests.integration.intelligence.test_competitor_prices import make_product
from tests.integration.intelligence.test_decisions import market_at

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def test_the_decision_schedule_runs_once_per_slot_across_a_redis_flush(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    product_id = await make_product(pool, price="100", cost="80")
    await market_at(pool, product_id, "95")
    intelligence = Intelligence(settings, pool, redis)
    first = DecisionScheduler(intelligence, minutes=15, clock=lambda: AT)
    assert await first.tick() is True
    await redis.flushdb()  # Redis restarted empty
    second = DecisionScheduler(intelligence, minutes=15, clock=lambda: AT + timedelta(minutes=5))
    assert await second.tick() is False  # the same 15-minute slot: already run
    assert await pool.fetchval("SELECT count(*) FROM pricing_decisions") == 1
    later = DecisionScheduler(intelligence, minutes=15, clock=lambda: AT + timedelta(minutes=15))
    assert await later.tick() is True  # the next slot runs
    assert await pool.fetchval("SELECT count(*) FROM pricing_decisions") == 2


async def test_the_guardrail_pass_runs_once_per_slot_across_a_redis_flush(pool: asyncpg.Pool, redis: Redis) -> None:
    first = GuardrailChecker(pool, redis, interval=60, clock=lambda: AT + timedelta(seconds=1))
    second = GuardrailChecker(pool, redis, interval=60, clock=lambda: AT + timedelta(seconds=30))
    assert await first.tick() == []  # took the slot (no experiment to judge)
    await redis.flushdb()
    assert await second.tick() is None  # the same minute: another process had it
    later = GuardrailChecker(pool, redis, interval=60, clock=lambda: AT + timedelta(minutes=1))
    assert await later.tick() == []


async def test_of_many_racing_takers_exactly_one_gets_the_slot(pool: asyncpg.Pool) -> None:
    start = slot_start(AT + timedelta(seconds=42), 60)
    assert start == AT
    taken = await asyncio.gather(*(take_slot(pool, "race", start) for _ in range(8)))
    assert sorted(taken) == [False] * 7 + [True]
    assert not await take_slot(pool, "race", start - timedelta(minutes=1))  # an older slot never comes back
    assert await take_slot(pool, "race", start + timedelta(minutes=1))
