"""The quote-log writer is idempotent: a batch whose acknowledgement was lost can be written again.

A flush is retried until PostgreSQL acknowledges it. When the COPY committed but the answer
never arrived (connection dropped after the commit), the retry meets rows already stored: it
must skip them and write the rest, not fail on the primary key forever.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import asyncpg
import msgspec
from redis.asyncio import Redis

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.quotes.store import _LOG_COLUMNS, LogRow, QuoteStore, write_log_rows


def row(quote_id: uuid.UUID) -> LogRow:
    now = utcnow()
    amount = Decimal("10.00")
    return (
        str(quote_id), "c-1", "TRY", amount, Decimal(0), Decimal(0), Decimal(0), Decimal(0), amount, Decimal(0),
        1, 1, msgspec.Raw(b'{"quote_id": "%s"}' % str(quote_id).encode()), now, now + timedelta(minutes=15),
    )  # fmt: skip


async def logged(pool: asyncpg.Pool) -> list[uuid.UUID]:
    return [r["quote_id"] for r in await pool.fetch("SELECT quote_id FROM quote_log ORDER BY quote_id")]


async def test_writing_a_batch_again_stores_each_row_once(pool: asyncpg.Pool) -> None:
    ids = sorted(uuid.uuid4() for _ in range(3))
    batch = [row(i) for i in ids]
    async with pool.acquire() as conn:
        await write_log_rows(conn, batch)
    async with pool.acquire() as conn:
        await write_log_rows(conn, batch)  # the acknowledgement of the first write was "lost"
    assert await logged(pool) == ids


async def test_a_row_already_present_does_not_block_the_others(pool: asyncpg.Pool) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as conn:
        await write_log_rows(conn, [row(first)])
        await write_log_rows(conn, [row(first), row(second)])
    assert await logged(pool) == sorted([first, second])


async def test_the_writer_recovers_from_a_lost_acknowledgement(settings: Settings, pool: asyncpg.Pool) -> None:
    """The store's own retry loop: its backlog still holds a batch that is already committed."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    store = QuoteStore(redis, pool)
    committed = [row(uuid.uuid4()) for _ in range(5)]
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("quote_log", records=committed, columns=_LOG_COLUMNS)
    fresh = [row(uuid.uuid4()) for _ in range(5)]
    store._log_backlog.extend([*committed, *fresh])  # as kept after a flush whose answer was lost
    try:
        assert await store._flush_log_once()
        assert store._log_backlog == []
    finally:
        await redis.aclose()
    assert len(await logged(pool)) == 10
