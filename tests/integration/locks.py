"""Waiting for PostgreSQL lock waits: how a test knows a statement is in flight and blocked."""

from __future__ import annotations

from quote_service.db.pool import Pool
from tests.waiting import until

WITHIN = 30.0


async def waiting_for_lock(pool: Pool, *, waiters: int = 1) -> None:
    """Return once `waiters` backends of this database wait for a lock."""
    await until(lambda: lock_waiters(pool, waiters), f"{waiters} backend(s) waiting for a lock", within=WITHIN)


async def lock_waiters(pool: Pool, at_least: int, statement: str = "") -> bool:
    """Whether `at_least` backends of this database wait for a lock (running `statement...`)."""
    waiting = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        " AND query LIKE $1 || '%'",
        statement,
    )
    return bool(waiting >= at_least)
