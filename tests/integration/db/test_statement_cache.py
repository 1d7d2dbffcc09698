"""The pool's statement cache schedules no expiry timers (CI caught what one leaves behind).

asyncpg's default statement lifetime (300 s) schedules a timer per cached statement; a timer that
fires pops its entry and leaves the entry and the timer's handle in a reference cycle, so five
minutes after a process prepared its statements the collector found them in a window of lean
quotes (tests/integration/quotes/test_quote_garbage.py, on a test worker that had run for minutes).
Our statements are a fixed set: the cache's size alone bounds it.
"""

from __future__ import annotations

import asyncio

import asyncpg


async def test_caching_statements_schedules_no_timers(pool: asyncpg.Pool) -> None:
    loop = asyncio.get_running_loop()
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT 1")  # the connection's own first statements (type introspection, …)
        scheduled = len(loop._scheduled)  # type: ignore[attr-defined]
        for n in range(20):
            assert await conn.fetchval(f"SELECT {n}::int + $1", 1) == n + 1  # twenty new cached statements
        assert len(loop._scheduled) == scheduled  # type: ignore[attr-defined]
