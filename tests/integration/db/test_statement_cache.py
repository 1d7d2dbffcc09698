"""The pool's statement cache schedules no expiry timers (CI caught what one leaves behind).

asyncpg's default statement lifetime (300 s) schedules a timer per cached statement; a timer that
fires pops its entry and leaves the entry and the timer's handle in a reference cycle, so five
minutes after a process prepared its statements the collector found them in a window of lean
quotes (tests/integration/quotes/test_quote_garbage.py, on a test worker that had run for minutes).
Our statements are a fixed set: the cache's size alone bounds it.

The loop is the session's: other tests' connections (made with asyncpg's defaults) and tasks schedule
timers on it meanwhile, so what is counted is the timers of this connection's own statement cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg


def cache_timers(conn: Any) -> int:
    """Timers scheduled on the running loop by `conn`'s statement cache (asyncpg's `_StatementCache`)."""
    raw = getattr(conn, "_con", conn)  # a pool's connection proxy holds the connection
    cache = raw._stmt_cache
    loop = asyncio.get_running_loop()
    return sum(
        1
        for handle in loop._scheduled  # type: ignore[attr-defined]
        if not handle.cancelled() and getattr(handle._callback, "__self__", None) is cache
    )


async def test_caching_statements_schedules_no_timers(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT 1")  # the connection's own first statements (type introspection, …)
        for n in range(20):
            assert await conn.fetchval(f"SELECT {n}::int + $1", 1) == n + 1  # twenty new cached statements
        assert cache_timers(conn) == 0


async def test_the_count_sees_a_cache_that_does_schedule_timers(pool: asyncpg.Pool) -> None:
    """The check above can fail: a connection with asyncpg's default lifetime counts its timers."""
    dsn = pool._connect_args[0]  # type: ignore[attr-defined]  # the pool's own DSN
    conn = await asyncpg.connect(dsn)
    try:
        for n in range(3):
            await conn.fetchval(f"SELECT {n}::int + $1", 1)
        assert cache_timers(conn) >= 3
    finally:
        await conn.close()
