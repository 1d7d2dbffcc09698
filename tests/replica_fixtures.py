"""Fixtures of the read-replica tests (registered by tests/conftest.py).

`replica_pair`: one private PostgreSQL primary + streaming replica for the whole session
(tests/replica.py), the service's database migrated on it. `replica_settings`: Settings over
that pair (DATABASE_URL the primary, DATABASE_REPLICA_URL the replica) and this session's Redis
database, every table emptied and the replica running, replaying and caught up before each
test, whatever the previous test did to it. `lag_bound` is REPLICA_MAX_LAG_SECONDS (parametrize
it to change it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from redis.asyncio import Redis

from quote_service.config import Settings
from tests.faults.private import postgres_available
from tests.replica import ReplicaPair


@pytest.fixture(scope="session")
def replica_pair() -> Iterator[ReplicaPair]:
    if not postgres_available():
        pytest.skip("PostgreSQL server binaries not found (set PG_BIN)")
    pair = ReplicaPair()
    try:
        pair.start()
        yield pair
    finally:
        pair.close()


@pytest.fixture
def lag_bound() -> float:
    return 1.0


@pytest.fixture
async def replica_settings(replica_pair: ReplicaPair, redis_url: str, lag_bound: float) -> AsyncIterator[Settings]:
    await _fresh(replica_pair, redis_url)
    yield Settings(
        database_url=replica_pair.primary.url,
        database_replica_url=replica_pair.replica.url,
        replica_max_lag_seconds=lag_bound,
        redis_url=redis_url,
        log_format="json",
        log_level="WARNING",
    )
    replica_pair.replica.start()  # a test may have stopped it: the next one starts from a running pair
    await replica_pair.replica_sql("SELECT pg_wal_replay_resume()")


async def _fresh(pair: ReplicaPair, redis_url: str) -> None:
    pair.replica.start()
    await pair.replica_sql("SELECT pg_wal_replay_resume()")
    conn = await asyncpg.connect(pair.primary.url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT IN ('schema_migrations', 'config_version')"
        )
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    await pair.wait_caught_up()
    redis = Redis.from_url(redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
