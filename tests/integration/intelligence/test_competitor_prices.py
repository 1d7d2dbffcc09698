"""Competitor-price ingestion: 202 with per-index rejections, at-least-once persistence through
the consumer group, duplicates stored once, a dead consumer's entries claimed, poison
dead-lettered; the market view and the signals the observations raise.
(The consumer's own checks, acknowledging after the work, the inbox: test_competitor_stream.py.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cache.redis import RedisClient
from quote_service.intelligence import stream
from quote_service.intelligence.consumer import StreamConsumer
from quote_service.intelligence.schemas import ObservationRecord
from quote_service.intelligence.signal_rules import SignalEvaluator
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, field_errors
from tests.waiting import until

pytestmark = pytest.mark.usefixtures("competitor_group")

NOW = datetime.now(UTC).replace(microsecond=0)


async def make_product(pool: asyncpg.Pool, price: str = "100", stock: int = 50, cost: str = "40") -> UUID:
    product_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO products (id, sku, name, category_id, seller_id, currency, base_price, current_price,
                                 min_price, cost_price, stock)
           VALUES ($1, $2, 'P', 'c', 's', 'USD', $3, $3, $4, $4, $5)""",
        product_id,
        f"sku-{product_id}",
        Decimal(price),
        Decimal(cost),
        stock,
    )
    return product_id


def observation(
    product_id: UUID, competitor: str = "acme", price: str = "99.00", minutes_ago: int = 5
) -> dict[str, object]:
    return {
        "product_id": str(product_id),
        "competitor": competitor,
        "price": price,
        "currency": "USD",
        "observed_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
    }


async def wait_for(pool: asyncpg.Pool, sql: str, expected: int, *args: object) -> None:
    """Until `sql` returns `expected` (e.g. the app's own consumer has stored the rows)."""

    async def reached() -> bool:
        return bool(await pool.fetchval(sql, *args) == expected)

    await until(reached, f"{sql} = {expected}", within=20)


async def wait_idle(redis: RedisClient, consumer: str, entries: int, idle_ms: int) -> None:
    """Until `entries` entries have been pending on `consumer` for `idle_ms` (by Redis's clock)."""

    async def idle() -> bool:
        found = await redis.xpending_range(
            stream.STREAM, stream.GROUP, min="-", max="+", count=entries + 1, consumername=consumer, idle=idle_ms
        )
        return len(found) == entries

    await until(idle, f"{entries} entries idle on {consumer}", within=20)


async def nothing_stored(pool: asyncpg.Pool, redis: RedisClient) -> None:
    """No observation accepted: none on the stream, none in the inbox, none stored."""
    assert await redis.xlen(stream.STREAM) == 0
    assert await pool.fetchval("SELECT count(*) FROM competitor_price_inbox") == 0
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 0


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_accepts_with_202_and_rejects_by_index(
    client: AsyncTestClient[Litestar], service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    product_id = await make_product(pool)
    good = observation(product_id)
    body = {
        "observations": [
            good,
            {**good, "price": "-1"},
            {**good, "currency": "XXQ"},
            {**good, "product_id": "nope"},
            {**good, "observed_at": "2026-01-01T00:00:00"},
            {**good, "price": "1.234"},
            {**good, "competitor": "other", "in_stock": True, "url": "https://example.com/p"},
            {**good, "currency": "EUR"},  # an ISO code, but not the product's
            {**good, "product_id": str(uuid.uuid4())},  # no such product
            {**good, "observed_at": "1999-12-31T23:59:59Z"},
            {**good, "observed_at": "infinity"},
            {**good, "url": "javascript:alert(1)"},
            {**good, "url": "ftp://example.com/p"},
            {**good, "price": "NaN"},
        ]
    }
    response = await client.post("/api/v1/competitor-prices", json=body, headers=service_key)
    assert response.status_code == 202, response.text
    data = response.json()["data"]
    assert data["accepted"] == 2
    assert [(r["index"], r["field"]) for r in data["rejected"]] == [
        (1, "price"),
        (2, "currency"),
        (3, "product_id"),
        (4, "observed_at"),
        (5, "price"),
        (7, "currency"),
        (8, "product_id"),
        (9, "observed_at"),
        (10, "observed_at"),
        (11, "url"),
        (12, "url"),
        (13, "price"),
    ]
    assert data["rejected"][5]["message"] == "must be the product's currency (USD)"
    # The app's own consumer persists them, and clears their inbox rows (durable until then).
    await wait_for(pool, "SELECT count(*) FROM competitor_prices WHERE product_id = $1", 2, product_id)
    await wait_for(pool, "SELECT count(*) FROM competitor_price_inbox", 0)
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 2
    listed = await client.get(f"/api/v1/competitor-prices?product_id={product_id}&limit=1", headers=service_key)
    page = listed.json()["data"]
    assert len(page["items"]) == 1
    assert page["next_cursor"] is not None
    rest = await client.get(
        f"/api/v1/competitor-prices?product_id={product_id}&cursor={page['next_cursor']}", headers=service_key
    )
    assert len(rest.json()["data"]["items"]) == 1
    assert rest.json()["data"]["next_cursor"] is None


async def test_batch_bounds_and_roles(
    client: AsyncTestClient[Litestar],
    service_key: dict[str, str],
    shopper: Caller,
    pool: asyncpg.Pool,
    redis: RedisClient,
) -> None:
    product_id = await make_product(pool)
    for observations in ([], [observation(product_id, minutes_ago=n) for n in range(1001)]):
        body = expect_error(
            await client.post("/api/v1/competitor-prices", json={"observations": observations}, headers=service_key),
            422,
            "VALIDATION_FAILED",
        )
        assert field_errors(body) == {"observations": "must hold 1 to 1000 items"}
    forbidden = await client.post(
        "/api/v1/competitor-prices", json={"observations": [observation(product_id)]}, headers=shopper.headers
    )
    expect_error(forbidden, 403, "FORBIDDEN")
    await nothing_stored(pool, redis)


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_duplicates_are_stored_once(pool: asyncpg.Pool, redis: RedisClient) -> None:
    product_id = await make_product(pool)
    record = stream.validate(observation(product_id), 0, NOW)
    assert isinstance(record, ObservationRecord)
    await stream.publish(redis, [record, record, record])
    consumer = StreamConsumer(redis, pool, signals=None, name="c1", block_ms=10)
    await consumer.run_once()
    await stream.publish(redis, [record])
    await consumer.run_once()
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 1
    assert await redis.xlen(stream.DEAD_LETTER) == 0  # a duplicate is not an error
    assert await redis.xpending(stream.STREAM, stream.GROUP) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_consumer_killed_mid_batch_loses_nothing(pool: asyncpg.Pool, redis: RedisClient) -> None:
    product_id = await make_product(pool)
    records = [stream.validate(observation(product_id, competitor=f"c{i}"), i, NOW) for i in range(50)]
    await stream.publish(redis, [r for r in records if isinstance(r, ObservationRecord)])
    # The dying consumer reads the batch (the entries are now pending on it) and never acks.
    taken = await redis.xreadgroup(stream.GROUP, "dying", {stream.STREAM: ">"}, count=30)
    assert len(taken[0][1]) == 30
    survivor = StreamConsumer(redis, pool, signals=None, name="survivor", block_ms=10, claim_idle_ms=200)
    await survivor.run_once(claim=True)  # too early: only the 20 unread ones
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 20
    await wait_idle(redis, "dying", 30, idle_ms=200)
    await survivor.run_once(claim=True)
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 50
    assert (await redis.xpending(stream.STREAM, stream.GROUP))["pending"] == 0


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_poison_goes_to_the_dead_letter_stream(pool: asyncpg.Pool, redis: RedisClient) -> None:
    product_id = await make_product(pool)
    good = stream.validate(observation(product_id), 0, NOW)
    orphan = stream.validate(observation(uuid.uuid4()), 1, NOW)  # no such product
    assert isinstance(good, ObservationRecord)
    assert isinstance(orphan, ObservationRecord)
    await redis.xadd(stream.STREAM, {stream.FIELD: b"not json"})
    await stream.publish(redis, [orphan, good])
    consumer = StreamConsumer(redis, pool, signals=None, name="c1", block_ms=10)
    await consumer.run_once()
    assert await pool.fetchval("SELECT count(*) FROM competitor_prices") == 1
    dead = await redis.xrange(stream.DEAD_LETTER)
    errors = sorted(fields[b"error"].decode() for _, fields in dead)
    assert len(errors) == 2
    assert errors[0] == "invalid product_id: no such product"
    assert errors[1].startswith("undecodable")
    assert (await redis.xpending(stream.STREAM, stream.GROUP))["pending"] == 0


async def test_market_view(client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool) -> None:
    product_id = await make_product(pool, price="100")
    await pool.execute(
        """INSERT INTO competitor_prices (product_id, competitor, price, currency, observed_at) VALUES
           ($1, 'a', 90, 'USD', $2), ($1, 'a', 80, 'USD', $3), ($1, 'b', 110, 'USD', $2),
           ($1, 'old', 10, 'USD', $4)""",
        product_id,
        NOW - timedelta(hours=2),
        NOW - timedelta(hours=1),
        NOW - timedelta(hours=100),
    )
    response = await client.get(f"/api/v1/products/{product_id}/market", headers=admin.headers)
    data = response.json()["data"]
    assert [(c["competitor"], c["price"]) for c in data["competitors"]] == [("a", "80.00"), ("b", "110.00")]
    assert (data["mean"], data["min"], data["max"], data["stddev"]) == ("95.00", "80.00", "110.00", "15.00")
    assert data["our_price"] == "100.00"
    assert data["our_rank"] == 2


async def test_observations_raise_undercut_only_past_the_threshold(pool: asyncpg.Pool, redis: RedisClient) -> None:
    at_threshold = await make_product(pool, price="100")
    past = await make_product(pool, price="100")
    records = [
        stream.validate(observation(at_threshold, price="85.00"), 0, NOW),
        stream.validate(observation(past, price="84.99"), 1, NOW),
    ]
    await stream.publish(redis, [r for r in records if isinstance(r, ObservationRecord)])
    evaluator = SignalEvaluator(pool, window_hours=72)
    consumer = StreamConsumer(redis, pool, signals=evaluator, name="c1", block_ms=10)
    await consumer.run_once()
    rows = await pool.fetch("SELECT product_id, type, severity FROM signals")
    assert [(r["product_id"], r["type"], r["severity"]) for r in rows] == [(past, "competitor_undercut", "warning")]
    # Another undercut observation refreshes the open signal rather than adding one.
    again = stream.validate(observation(past, competitor="zed", price="60.00"), 0, NOW)
    assert isinstance(again, ObservationRecord)
    await stream.publish(redis, [again])
    await consumer.run_once()
    rows = await pool.fetch("SELECT severity, status FROM signals WHERE product_id = $1", past)
    assert [(r["severity"], r["status"]) for r in rows] == [("critical", "open")]


async def test_signals_list_and_acknowledge(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    product_id = await make_product(pool, price="100")
    # Through the API: the app's own consumer persists it and raises the signal.
    body = {"observations": [observation(product_id, price="50.00")]}
    assert (await client.post("/api/v1/competitor-prices", json=body, headers=admin.headers)).status_code == 202
    await wait_for(pool, "SELECT count(*) FROM signals WHERE product_id = $1", 1, product_id)
    listed = await client.get(f"/api/v1/signals?product_id={product_id}&status=open", headers=admin.headers)
    items = listed.json()["data"]["items"]
    assert [i["type"] for i in items] == ["competitor_undercut"]
    signal_id = items[0]["id"]
    acked = await client.post(f"/api/v1/signals/{signal_id}/acknowledge", headers=admin.headers)
    assert acked.status_code == 200
    assert acked.json()["data"]["status"] == "acknowledged"
    assert (await client.get("/api/v1/signals?status=open", headers=admin.headers)).json()["data"]["items"] == []
    missing = await client.post(f"/api/v1/signals/{uuid.uuid4()}/acknowledge", headers=admin.headers)
    expect_error(missing, 404, "NOT_FOUND")
    rows = await pool.fetch("SELECT id, status FROM signals")
    assert [(str(r["id"]), r["status"]) for r in rows] == [(signal_id, "acknowledged")]
