"""Rollup marks against commit order (issue 22 item 11), on two real connections.

A mark's id comes from a sequence, and sequence order is not commit order: a writer that took
its id first may commit last. The interleaving below holds that writer open while the job reads
the hour's marks, lets it commit while the job's recompute (which did not see its row) is still
running, and then checks that the hour is not left short.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from quote_service.analytics.rollups import RollupJob, lock, settle
from quote_service.config import Settings
from quote_service.db.pool import Pool, create_pool
from quote_service.quotes.quote_log import write_log_rows
from tests.integration.analytics.test_analytics import NOW, lines, log_quotes, quote_row
from tests.integration.locks import lock_waiters
from tests.waiting import until

HOUR = NOW.replace(minute=0) - timedelta(hours=3)


@pytest.fixture
async def job_pool(settings: Settings) -> AsyncIterator[Pool]:
    """The job's own pool: it waits on the test's table lock for as long as the test needs."""
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=4, lock_timeout=60.0)
    yield pool
    await pool.close()


async def _waiting_on(pool: asyncpg.Pool, table: str) -> None:
    """Return once a backend of this database waits for a lock to write `table`."""
    await until(lambda: lock_waiters(pool, 1, f"DELETE FROM {table}"), f"a backend waiting to write {table}", within=30)


async def _stored_quotes(pool: asyncpg.Pool) -> int | None:
    stored: int | None = await pool.fetchval(
        "SELECT quotes FROM rollup_pricing_hourly WHERE dim = 'all' AND hour = $1", HOUR
    )
    return stored


async def _raw_quotes(pool: asyncpg.Pool) -> int:
    raw: int = await pool.fetchval(
        "SELECT count(*) FROM quote_log WHERE created_at >= $1 AND created_at < $2", HOUR, HOUR + timedelta(hours=1)
    )
    return raw


@pytest.mark.parametrize("path", ["job", "settle"])
async def test_a_mark_committed_during_a_recompute_keeps_its_hour_dirty(
    pool: asyncpg.Pool, job_pool: Pool, path: str
) -> None:
    job = RollupJob(job_pool, clock=lambda: NOW)
    _, first = quote_row(at=HOUR + timedelta(minutes=5), customer="early", lines=[("p1", "c", 1, "10.00", "0")])
    await log_quotes(pool, first)
    await job.tick()  # the hour and its day are rolled up: the daily row exists
    assert await _stored_quotes(pool) == 1

    async with job_pool.acquire() as late, job_pool.acquire() as blocker:
        # 1. The late writer takes the lower mark id and stays open.
        late_tx = late.transaction()
        await late_tx.start()
        _, slow = quote_row(at=HOUR + timedelta(minutes=10), customer="slow", lines=[("p1", "c", 1, "10.00", "0")])
        await write_log_rows(late, lines(slow))
        # 2. Another writer of the hour takes a higher id and commits.
        _, quick = quote_row(at=HOUR + timedelta(minutes=20), customer="quick", lines=[("p1", "c", 1, "10.00", "0")])
        await log_quotes(pool, quick)
        # 3. The recompute will stop at the daily table, after it has read the hour's raw rows.
        blocker_tx = blocker.transaction()
        await blocker_tx.start()
        await blocker.execute("LOCK TABLE rollup_pricing_daily IN SHARE MODE")
        running = asyncio.create_task(job.tick() if path == "job" else _settle(job_pool))
        await _waiting_on(pool, "rollup_pricing_daily")
        # 4. The late writer commits while the recompute, which did not see its row, still runs.
        await late_tx.commit()
        await blocker_tx.commit()
        await running

    while await job.tick():  # whatever is still dirty
        pass
    assert await _raw_quotes(pool) == 3
    assert await _stored_quotes(pool) == 3, "the late writer's mark was cleared with its row left out"
    assert await pool.fetchval("SELECT count(*) FROM rollup_dirty WHERE hour < $1", NOW.replace(minute=0)) == 0


async def _settle(pool: Pool) -> int:
    """What `generate-data` does for the hours it wrote: settle them under the job's lock."""
    async with pool.acquire() as conn, lock(conn):
        await settle(conn, [HOUR])
    return 0
