"""The competitor-price consumer trusts no writer of the stream, finishes work before it
acknowledges, keeps the consumer group tidy, and finishes from PostgreSQL what Redis lost.

- every entry is checked with the API's own validation (a NaN written straight to the stream
  once reached the table, and then the market view and decisions answered 500);
- rows already stored with such values never break a read;
- an entry is acknowledged only after its signals were evaluated;
- idle dead consumers leave the group once their entries were claimed;
- an accepted observation is in the PostgreSQL inbox before the 202, so what Redis loses (or
  refuses) is still stored.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service.cache.redis import RedisClient
from quote_service.config import Settings
from quote_service.db.pool import create_pool
from quote_service.intelligence import intake, stream
from quote_service.intelligence.consumer import StreamConsumer, ensure_group
from quote_service.intelligence.schemas import ObservationRecord
from quote_service.intelligence.signal_rules import SignalEvaluator
from tests.cluster_fixtures import flush
from tests.conftest import free_port
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.intelligence.test_competitor_prices import NOW, make_product, observation, wait_for, wait_idle
from tests.waiting import until

pytestmark = [pytest.mark.redis_backends, pytest.mark.usefixtures("competitor_group")]


def entry(raw: dict[str, Any]) -> bytes:
    """An observation as any writer of the stream could put it there (the wire array)."""
    fields = ("product_id", "competitor", "price", "currency", "observed_at", "in_stock", "url")
    return msgspec.json.encode([raw.get(name) for name in fields])


async def dead_letters(redis: RedisClient) -> list[str]:
    return sorted(fields[b"error"].decode() for _, fields in await redis.xrange(stream.DEAD_LETTER))


async def pending(redis: RedisClient) -> int:
    summary = await redis.xpending(stream.STREAM, stream.GROUP)
    count: int = summary["pending"]
    return count


async def until_acknowledged(redis: RedisClient) -> None:
    """Until the app's own consumer has acknowledged every entry: it XACKs after its work is stored,
    so a test that saw the rows can still be an instant ahead of the XACK (seen under load in CI)."""

    async def none_pending() -> bool:
        return await pending(redis) == 0

    await until(none_pending, "the app's consumer acknowledged its entries")


async def test_entries_written_around_the_api_are_checked_like_its_observations(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool, redis: RedisClient
) -> None:
    product_id = await make_product(pool, price="100")
    good = observation(product_id, price="99.00")
    refused = [
        {**good, "price": "NaN"},
        {**good, "price": "Infinity"},
        {**good, "price": "-5"},
        {**good, "price": "1E+20"},
        {**good, "currency": "EUR"},
        {**good, "observed_at": "1999-12-31T23:59:59Z"},
        {**good, "url": "javascript:alert(1)"},
        {**good, "competitor": "x" * 65},
        {**good, "competitor": "nul\x00"},
        {**good, "product_id": str(uuid.uuid4())},
    ]
    for raw in [*refused, good]:
        await redis.xadd(stream.STREAM, {stream.FIELD: entry(raw)})
    # The app's own consumer reads them.
    await wait_for(pool, "SELECT count(*) FROM competitor_prices", 1)

    async def all_dead_lettered() -> bool:
        return len(await dead_letters(redis)) == len(refused)

    await until(all_dead_lettered, "the dead letters", within=20)
    assert await dead_letters(redis) == sorted(
        [
            "invalid price: must be a positive amount (string or number)",
            "invalid price: must be a positive amount (string or number)",
            "invalid price: must be a positive amount (string or number)",
            "invalid price: must be below 1e12, the ceiling of every amount",
            "invalid currency: must be the product's currency (USD)",
            "invalid observed_at: must be in the year 2000 or later",
            "invalid url: must be an http or https URL of 1 to 2048 characters",
            "invalid competitor: must be a string of 1 to 64 characters",
            "invalid competitor: must be a string of 1 to 64 characters",
            "invalid product_id: no such product",
        ]
    )
    stored = await pool.fetch("SELECT competitor, price FROM competitor_prices")
    assert [(r["competitor"], r["price"]) for r in stored] == [("acme", Decimal("99.00"))]
    await until_acknowledged(redis)
    market = expect_ok(await client.get(f"/api/v1/products/{product_id}/market", headers=admin.headers))
    assert [(c["competitor"], c["price"]) for c in market["competitors"]] == [("acme", "99.00")]
    decisions = await client.post(
        "/api/v1/decisions/run", json={"product_ids": [str(product_id)], "dry_run": True}, headers=admin.headers
    )
    assert expect_ok(decisions)[0]["inputs"]["competitor_mean"] == "99.0000"


async def store_odd_rows(pool: asyncpg.Pool, product_id: uuid.UUID) -> None:
    """Rows as they could be stored before the consumer checked its entries (migration 0030's
    check, added NOT VALID, is lifted for the insert and put back in the same transaction)."""
    hour = timedelta(hours=1)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE competitor_prices DROP CONSTRAINT competitor_prices_sane")
        await conn.executemany(
            """INSERT INTO competitor_prices (product_id, competitor, price, currency, observed_at)
               VALUES ($1, $2, $3, $4, $5)""",
            [
                (product_id, "acme", Decimal("95"), "USD", NOW - 2 * hour),
                (product_id, "acme", Decimal("NaN"), "USD", NOW - hour),  # acme's latest: skipped, 95 counts
                (product_id, "huge", Decimal("5000000000000000"), "USD", NOW - hour),  # past the ceiling
                (product_id, "euro", Decimal("50"), "EUR", NOW - hour),
                (product_id, "nowhere", Decimal("50"), "ZZZ", NOW - hour),
                (product_id, "sane", Decimal("90"), "USD", NOW - hour),
            ],
        )
        await conn.execute(
            """INSERT INTO competitor_prices (product_id, competitor, price, currency, observed_at)
               VALUES ($1, 'forever', 50, 'USD', 'infinity'), ($1, 'ancient', 50, 'USD', '1970-01-01')""",
            product_id,
        )
        await conn.execute(
            """ALTER TABLE competitor_prices ADD CONSTRAINT competitor_prices_sane CHECK (
                   price > 0 AND price < 1e15 AND observed_at >= '2000-01-01T00:00:00Z' AND observed_at < 'infinity'
               ) NOT VALID"""
        )


async def test_odd_rows_already_stored_never_break_a_read(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool, redis: RedisClient
) -> None:
    product_id = await make_product(pool, price="100", cost="80")
    await store_odd_rows(pool, product_id)
    market = expect_ok(await client.get(f"/api/v1/products/{product_id}/market", headers=admin.headers))
    assert [(c["competitor"], c["price"]) for c in market["competitors"]] == [("sane", "90.00"), ("acme", "95.00")]
    assert (market["mean"], market["min"], market["max"]) == ("92.50", "90.00", "95.00")
    decisions = await client.post(
        "/api/v1/decisions/run", json={"product_ids": [str(product_id)]}, headers=admin.headers
    )
    [decision] = expect_ok(decisions)
    assert decision["inputs"]["competitors"] == 2
    listed = expect_ok(await client.get(f"/api/v1/competitor-prices?product_id={product_id}", headers=admin.headers))
    assert sorted(i["competitor"] for i in listed["items"]) == ["acme", "sane"]
    # A new observation's signals read the same rows: its batch finishes (stored, acknowledged).
    body = {"observations": [observation(product_id, competitor="sane", price="60.00")]}
    assert (await client.post("/api/v1/competitor-prices", json=body, headers=admin.headers)).status_code == 202
    await wait_for(pool, "SELECT count(*) FROM signals WHERE product_id = $1", 1, product_id)
    await wait_for(pool, "SELECT count(*) FROM competitor_price_inbox", 0)
    await until_acknowledged(redis)


async def test_signals_whose_evaluation_failed_come_with_the_redelivery(
    settings: Settings, pool: asyncpg.Pool, redis: RedisClient
) -> None:
    product_id = await make_product(pool, price="100")
    record = stream.validate(observation(product_id, price="50.00"), 0, NOW)
    assert isinstance(record, ObservationRecord)
    await stream.publish(redis, [record])
    assert settings.database_url is not None
    impatient = await create_pool(settings.database_url, min_size=1, max_size=2, lock_timeout=0.2)
    try:
        evaluator = SignalEvaluator(impatient, window_hours=72)
        consumer = StreamConsumer(redis, pool, signals=evaluator, name="c1", block_ms=10, claim_idle_ms=0)
        async with pool.acquire() as locker, locker.transaction():
            # The signal evaluation cannot read the signals while this lock is held.
            await locker.execute("LOCK TABLE signals IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(asyncpg.LockNotAvailableError):
                await consumer.run_once()
        # Stored, but not finished: not acknowledged, so it comes back.
        assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 1
        assert await pending(redis) == 1
        assert await pool.fetchval("SELECT count(*) FROM signals") == 0
        assert await consumer.run_once(claim=True) == 1
    finally:
        await impatient.close()
    rows = await pool.fetch("SELECT type, product_id FROM signals")
    assert [(r["type"], r["product_id"]) for r in rows] == [("competitor_undercut", product_id)]
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 1
    assert await pending(redis) == 0


async def consumers(redis: RedisClient) -> dict[str, dict[str, Any]]:
    found = await redis.xinfo_consumers(stream.STREAM, stream.GROUP)
    return {info["name"].decode() if isinstance(info["name"], bytes) else info["name"]: info for info in found}


async def test_idle_dead_consumers_leave_the_group_once_their_entries_are_claimed(
    pool: asyncpg.Pool, redis: RedisClient
) -> None:
    product_id = await make_product(pool)
    records = [stream.validate(observation(product_id, competitor=f"c{i}"), i, NOW) for i in range(10)]
    await stream.publish(redis, [r for r in records if isinstance(r, ObservationRecord)])
    # "dead-busy" died holding 4 entries; "dead-done" finished its 2 and died.
    await redis.xreadgroup(stream.GROUP, "dead-busy", {stream.STREAM: ">"}, count=4)
    await StreamConsumer(redis, pool, signals=None, name="dead-done", block_ms=10, batch_size=2).run_once()
    idle_ms = 1000
    await wait_idle(redis, "dead-busy", 4, idle_ms=idle_ms)

    async def done_is_idle() -> bool:
        return bool((await consumers(redis))["dead-done"]["idle"] >= idle_ms)

    await until(done_is_idle, "dead-done idle", within=20)

    # A consumer that does not claim yet forgets only the one with nothing pending.
    patient = StreamConsumer(
        redis, pool, signals=None, name="patient", block_ms=10, claim_idle_ms=3_600_000, forget_idle_ms=idle_ms
    )
    assert await patient.forget_dead_consumers() == ["dead-done"]
    assert set(await consumers(redis)) == {"dead-busy"}

    # "alive" reads (and finishes) one entry just now: it is not idle.
    await StreamConsumer(redis, pool, signals=None, name="alive", block_ms=10, batch_size=1).run_once()

    survivor = StreamConsumer(
        redis, pool, signals=None, name="survivor", block_ms=10, claim_idle_ms=idle_ms, forget_idle_ms=idle_ms
    )
    await survivor.run_once(claim=True)  # claims dead-busy's 4, then forgets it
    assert set(await consumers(redis)) == {"alive", "survivor"}
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 10
    assert await pending(redis) == 0


async def test_accepted_means_durable_when_redis_loses_or_refuses_the_entries(
    settings: Settings, pool: asyncpg.Pool, redis: RedisClient
) -> None:
    product_id = await make_product(pool)
    batch = [(i, observation(product_id, competitor=f"lost-{i}")) for i in range(20)]
    lost = await intake.accept(pool, redis, batch, now=NOW, replay_after=0)
    assert (lost.accepted, lost.rejected) == (20, [])
    unreachable = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    try:
        batch = [(i, observation(product_id, competitor=f"refused-{i}")) for i in range(5)]
        refused = await intake.accept(pool, unreachable, batch, now=NOW, replay_after=0)
    finally:
        await unreachable.aclose()
    assert refused.accepted == 5
    not_due = await intake.accept(
        pool, redis, [(0, observation(product_id, competitor="late"))], now=NOW, replay_after=3600
    )
    assert not_due.accepted == 1
    assert settings.redis_url is not None
    await flush(settings.redis_url)  # Redis forgets everything, as a restart without persistence does
    await ensure_group(redis)

    consumer = StreamConsumer(redis, pool, signals=None, name="c1", block_ms=10)
    assert await consumer.run_once(claim=True) == 25
    stored = {r["competitor"] for r in await pool.fetch("SELECT competitor FROM competitor_prices")}
    assert stored == {f"lost-{i}" for i in range(20)} | {f"refused-{i}" for i in range(5)}
    # The one not due yet stays in the inbox: the stream may still deliver it.
    assert await pool.fetchval("SELECT count(*) FROM competitor_price_inbox") == 1
