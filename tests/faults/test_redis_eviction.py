"""A Redis at its `maxmemory` under the policy we run with evicts quotes, and only what may go.

A private redis-server gets every kind of key the service keeps (a flash sale with a purchase,
an order's coupon counter, the configuration version, competitor observations on their stream,
failed sign-ins, cached products), then `maxmemory` a little above what it uses and the policy
of docker-compose.yml (`EVICTION_POLICY`). Quotes are made until Redis has evicted some and the
first one is gone. Every key without a TTL is still there with its value, every quote was
answered 200 (the service never ran out of room), and ordering the evicted quote answers
409 QUOTE_EXPIRED. docs/operations.md#which-keys-may-go lists the keys and why.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from quote_service.auth import credentials
from quote_service.cache.config_bus import VERSION_KEY
from quote_service.cache.redis import EVICTION_POLICY
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.coupons.counters import uses_key
from quote_service.flash_sales.counters import sale_key
from quote_service.intelligence.stream import STREAM
from tests.faults.private import PrivateRedis
from tests.integration.conftest import make_caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import buy, new_sale
from tests.integration.quotes.test_quote_api import QUOTE, client_with
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

HEADROOM = 256 * 1024
"""Bytes of `maxmemory` above what Redis uses before the quotes: room for ~500 of them as stored
(compressed, ~500 B each; the first 64 of a process are JSON, ~4.6 KB)."""
MAX_QUOTES = 5_000
"""A bound that only turns a Redis that never evicts into a failure."""


async def durable_keys(redis: Redis) -> dict[bytes, bytes | None]:
    """Every key without a TTL, with its value where it is a plain string."""
    found: dict[bytes, bytes | None] = {}
    async for key in redis.scan_iter(count=1000):
        if await redis.pttl(key) == -1:
            kind = await redis.type(key)
            found[key] = await redis.get(key) if kind == b"string" else None
    return found


async def test_a_full_redis_evicts_old_quotes_and_keeps_every_key_without_a_ttl(
    settings: Settings, pool: asyncpg.Pool, private_redis: PrivateRedis
) -> None:
    admin = await make_caller(settings, credentials.hash_password("correct-horse-battery"), "admin", "admin")
    redis = Redis.from_url(private_redis.url)
    try:
        async with client_with(settings, redis_url=private_redis.url) as client:
            created = await client.post("/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers)
            service = {"X-API-Key": expect_ok(created, 201)["key"]}
            sale, product = await new_sale(client, admin, stock=50)
            expect_ok(await buy(client, admin.headers, sale, key="bought", customer_id="alice"), 201)
            once = {"code": "ONCE", "type": "PERCENTAGE", "value": 10, "valid_from": "2025-01-01T00:00:00Z",
                    "per_customer_limit": 1}  # fmt: skip
            expect_ok(await client.post("/api/v1/coupons", json=once, headers=admin.headers), 201)
            basket: dict[str, Any] = {
                "customer_id": "alice", "currency": "TRY", "coupon_codes": ["ONCE"],
                "items": [{"product_id": product["id"], "quantity": 1}, {"product_id": "loose-item", "quantity": 2,
                          "unit_price": "12.00", "category_id": "books"}],
                "delivery_address": {"city": "Istanbul", "country": "TR"},
            }  # fmt: skip
            first = expect_ok(await client.post(QUOTE, json=basket, headers=service))
            expect_ok(await client.post("/api/v1/orders", json={"quote_id": first["quote_id"]},
                                        headers={**service, "Idempotency-Key": "order-1"}), 201)  # fmt: skip
            observations = [{"product_id": product["id"], "competitor": "rival", "price": "24.00", "currency": "TRY",
                             "observed_at": utcnow().isoformat()}]  # fmt: skip
            expect_ok(await client.post("/api/v1/competitor-prices", json={"observations": observations},
                                        headers=admin.headers), 202)  # fmt: skip
            wrong = {"username": "admin", "password": "not-the-password"}
            assert (await client.post("/api/v1/auth/token", json=wrong)).status_code == 401

            counters = sale_key(uuid.UUID(sale["id"]))

            async def sale_marked_active() -> bool:
                # The sale began a minute ago; the service's schedule marks it active in its
                # counters (and raises the configuration version) shortly after its creation.
                return await redis.hget(counters, "status") == b"active"

            await until(sale_marked_active, "the sale's counters say active", within=60)
            kept = await durable_keys(redis)
            assert kept[uses_key("ONCE", "alice").encode()] == b"1:1"
            assert {counters.encode(), VERSION_KEY.encode(), STREAM.encode()} <= set(kept)
            sale_before = await redis.hgetall(counters)
            used = int((await redis.info("memory"))["used_memory"])
            await redis.config_set("maxmemory-policy", EVICTION_POLICY)
            await redis.config_set("maxmemory", used + HEADROOM)

            oldest = expect_ok(await client.post(QUOTE, json={**basket, "customer_id": "bob"}, headers=service))
            # Watched through eviction events: reading the quote would make it recently used.
            await redis.config_set("notify-keyspace-events", "Ee")
            watch = redis.pubsub()
            await watch.subscribe("__keyevent@0__:evicted")
            evicted: list[bytes] = []
            made = 0

            async def oldest_evicted() -> bool:
                nonlocal made
                for _ in range(50):
                    body = {**basket, "customer_id": f"c-{uuid.uuid4().hex}"}
                    expect_ok(await client.post(QUOTE, json=body, headers=service))  # never refused
                    made += 1
                while (event := await watch.get_message(ignore_subscribe_messages=True, timeout=0)) is not None:
                    evicted.append(event["data"])
                return made >= MAX_QUOTES or any(oldest["quote_id"].encode() in key for key in evicted)

            await until(oldest_evicted, "the oldest quote evicted", within=600)
            await watch.aclose()
            print(f"\n{made} quotes made, {len(evicted)} keys evicted before the oldest quote")
            assert any(oldest["quote_id"].encode() in key for key in evicted)

            for key, value in kept.items():
                assert await redis.exists(key), f"{key!r} (no TTL) was evicted"
                if key == VERSION_KEY.encode():
                    # The configuration version only ever rises, and the app's own background work
                    # may raise it while the quotes are made.
                    assert int(await redis.get(key) or 0) >= int(value or 0), key
                elif value is not None:
                    assert await redis.get(key) == value, key
            assert await redis.hgetall(counters) == sale_before
            expect_error(
                await client.post("/api/v1/orders", json={"quote_id": oldest["quote_id"]},
                                  headers={**service, "Idempotency-Key": "order-2"}),
                409, "QUOTE_EXPIRED",
            )  # fmt: skip
    finally:
        await redis.aclose()
