"""Waiting on a condition (never on a guessed delay): poll a probe until it holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from quote_service.db.pool import Pool

POLL_SECONDS = 0.01


async def until(probe: Callable[[], Awaitable[object]], what: str, *, within: float = 30.0) -> None:
    """Return as soon as `probe()` is truthy; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(POLL_SECONDS)


async def waiting_for_lock(pool: Pool, *, waiters: int = 1) -> None:
    """Return once `waiters` backends of this database wait for a lock."""
    await until(lambda: lock_waiters(pool, waiters), f"{waiters} backend(s) waiting for a lock")


async def lock_waiters(pool: Pool, at_least: int, statement: str = "") -> bool:
    """Whether `at_least` backends of this database wait for a lock (running `statement...`)."""
    waiting = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        " AND query LIKE $1 || '%'",
        statement,
    )
    return bool(waiting >= at_least)
