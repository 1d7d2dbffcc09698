"""The quote-log writer is idempotent: a batch whose acknowledgement was lost can be written again.

A flush is retried until PostgreSQL acknowledges it. When the COPY committed but the answer
never arrived (connection dropped after the commit), the retry meets rows already stored: it
must skip them and write the rest, not fail on the primary key forever.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import asyncpg
import msgspec
from redis.asyncio import Redis

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.quotes.store import _LOG_COLUMNS, LogRow, QuoteStore, write_log_rows
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.test_quote_api import QUOTE, Client, quote_body


def row(quote_id: uuid.UUID) -> LogRow:
    now = utcnow()
    amount = Decimal("10.00")
    return (
        str(quote_id), "c-1", "TRY", amount, Decimal(0), Decimal(0), Decimal(0), Decimal(0), amount, Decimal(0),
        Decimal(0), Decimal(0), Decimal(0), 1, 1,
        msgspec.Raw(b'[["p-1", "c", "s", 1, "10.00", "10.00", "0", "catalog"]]'), msgspec.Raw(b"[]"), (),
        msgspec.Raw(b"{}"), "api_key", "k-1", now, now + timedelta(minutes=15), "Istanbul", "TR", (),
        msgspec.Raw(b"{}"),
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


async def test_a_quote_is_logged_as_a_lean_row(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    """What analytics reads: totals, commission parts, compact lines, rules, coupons, variants, the caller."""
    data = expect_ok(await client.post(QUOTE, json=quote_body(), headers=admin.headers))
    quote_id = uuid.UUID(data["quote_id"])
    got = None
    for _ in range(100):  # written behind the response, every 0.2 s
        got = await pool.fetchrow("SELECT * FROM quote_log WHERE quote_id = $1", quote_id)
        if got is not None:
            break
        await asyncio.sleep(0.05)
    assert got is not None
    assert "payload" not in dict(got)
    assert (str(got["total_amount"]), str(got["tax_amount"])) == ("80.1800", "9.1800")
    parts = ("total_commission", "seller_commission", "category_commission", "logistics_commission")
    assert [got[k] for k in parts] == [Decimal(data["commission_breakdown"][k]) for k in parts]
    line = data["items"][0]
    assert got["lines"] == [
        [line["product_id"], line["category_id"], line["seller_id"], 2, line["unit_price"], line["line_subtotal"],
         line["discount"], line["price_source"]]
    ]  # fmt: skip
    assert got["applied_rules"] == [[r["rule_id"], r["type"], r["version"], r["amount"]] for r in data["applied_rules"]]
    assert got["coupon_codes"] == [c["code"] for c in data["applied_coupons"]]
    assert got["experiments"] == data["experiments"]
    assert (got["item_count"], got["config_version"]) == (1, data["config_version"])
    assert (got["caller_kind"], got["caller_id"]) == ("user", str(admin.id))
