"""While Redis is down a process must not reload the whole configuration four times a second:
it checks PostgreSQL's version (one row) and reloads only when it moved — and so still sees a
change made during the outage within about a second."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from quote_service.cache.config_store import ConfigStore
from quote_service.cache.redis import create_redis
from quote_service.db.pool import create_pool
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.snapshot.loader import load_snapshot
from tests.faults.private import PrivatePostgres, PrivateRedis
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

OUTAGE_SECONDS = 5.0


async def test_redis_down_costs_version_checks_not_reloads_and_changes_still_arrive(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    pool = await create_pool(private_pg.url, min_size=1, max_size=3)
    redis = create_redis(private_redis.url)
    store: ConfigStore[ConfigSnapshot] = ConfigStore(pool, redis, load_snapshot)
    await store.start()
    try:
        await until(lambda: store.version_checks >= 1, "the store's background checks run")
        private_redis.kill()
        reloads, checks = store.reloads, store.version_checks
        await asyncio.sleep(OUTAGE_SECONDS)  # the outage's length, on the real clock on purpose: checks per second
        idle_reloads, idle_checks = store.reloads - reloads, store.version_checks - checks

        # A change committed while Redis is down (no announcement can reach anyone).
        conn = await asyncpg.connect(private_pg.url)
        try:
            await conn.execute(
                """INSERT INTO feature_flags (key, name, type, value, created_by, updated_by)
                   VALUES ('outage_flag', 'Outage flag', 'BOOLEAN', 'true', 'test', 'test')"""
            )
            version = await conn.fetchval("SELECT version FROM config_version")
        finally:
            await conn.close()
        committed = time.monotonic()
        await until(lambda: store.version >= version, "the change arrives", within=5.0)
        lag = time.monotonic() - committed
        assert store.snapshot.counts()["feature_flags"] == 1
    finally:
        await store.stop()
        await redis.aclose()
        await pool.close()
    print(
        f"\nRedis down {OUTAGE_SECONDS:.0f} s: {idle_reloads} full reloads, {idle_checks} version checks; "
        f"a change during the outage arrived after {lag * 1000:.0f} ms"
    )
    assert idle_reloads == 0  # was one every 0.25 s: 20 in 5 s
    assert 2 <= idle_checks <= OUTAGE_SECONDS / 1.0 + 1
    assert lag < 2.5
