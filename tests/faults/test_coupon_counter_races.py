"""A customer's coupon counter in Redis converges on PostgreSQL's count (coupons/counters.py).

An order writes the count it read in its transaction after it commits; a cancel writes the count
it reads after its own commit. The two races between them are played out deterministically: the
service functions run on the app's own stores, and the write of one of them is held back (a gate
on its Redis client's script calls) until the other has finished. After every trial the counter
must say what PostgreSQL says, and a quote must apply the coupon the customer may still use.
Then a counter left too high, whatever left it so, is put right by the quotes it refuses.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.commands.core import AsyncScript

from quote_service.auth import credentials
from quote_service.auth.schemas import Principal
from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.orders import refunds
from quote_service.orders.schemas import CancelCreate, Order, OrderCreate
from quote_service.orders.service import place_order
from quote_service.quotes.store import QuoteStore
from tests.cluster_fixtures import redis_client
from tests.faults.private import PrivateRedis
from tests.integration import holdsetup
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import PASSWORD, Caller, make_caller
from tests.integration.expect import expect_ok
from tests.integration.quotes.test_quote_api import QUOTE, client_with
from tests.waiting import until

pytestmark = pytest.mark.slow

Client = AsyncTestClient[Litestar]
CUSTOMER = "alice"
CODE = "TWICE"
COUNTER = f"qs:coupon-uses:{CODE}:{CUSTOMER}"
TRIALS = 3


class HeldWrites:
    """The app's Redis client, except that its script calls and SETs (the counter's write after a
    commit) wait at a gate: `reached` is set when one arrives, `release` lets it through."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def arrived(self) -> None:
        """Wait for a held write (a bound, so a path that never writes fails instead of hanging)."""
        async with asyncio.timeout(10):
            await self.reached.wait()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    def register_script(self, script: str) -> AsyncScript:
        return AsyncScript(self, script)  # type: ignore[arg-type]  # its calls come back here

    async def _gate(self) -> None:
        self.reached.set()
        await self.release.wait()

    async def evalsha(self, *args: Any) -> Any:
        await self._gate()
        return await self._redis.evalsha(*args)

    async def set(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate()
        return await self._redis.set(*args, **kwargs)


@dataclass
class Shop:
    """Quotes from the app (HTTP, its own event loop); orders and cancels through the service
    functions on stores of the test's loop, as another process would have them, on the same servers."""

    client: Client
    admin: Caller
    principal: Principal
    product: dict[str, Any]
    stores: holdsetup.Shop
    quotes: QuoteStore
    redis: RedisClient


@pytest.fixture
async def shop(settings: Settings, private_redis: PrivateRedis) -> AsyncIterator[Shop]:
    """The app on a private Redis; an admin, a product (25.50 TRY) and a coupon TWICE (10 %, twice
    per customer)."""
    assert settings.database_url is not None
    admin = await make_caller(settings, credentials.hash_password(PASSWORD), "admin", "admin")
    principal = Principal(id=admin.id, name=admin.username, role="admin", kind="user")
    redis = redis_client(private_redis.url)
    async with (
        client_with(settings, redis_url=private_redis.url) as client,
        holdsetup.shop(settings.database_url, redis) as stores,
    ):
        product = await create_product(client, admin, stock=1000)
        twice = {"code": CODE, "type": "PERCENTAGE", "value": 10, "valid_from": "2025-01-01T00:00:00Z"}
        created = await client.post("/api/v1/coupons", json={**twice, "per_customer_limit": 2}, headers=admin.headers)
        expect_ok(created, 201)
        quotes = QuoteStore(redis, stores.pool, spool=settings.quote_log_spool)
        await quotes.start()
        try:
            yield Shop(client, admin, principal, product, stores, quotes, redis)
        finally:
            await quotes.stop()
            await redis.aclose()


async def quoted(shop: Shop) -> dict[str, Any]:
    body = {
        "customer_id": CUSTOMER,
        "currency": "TRY",
        "items": [{"product_id": shop.product["id"], "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "coupon_codes": [CODE],
    }
    data: dict[str, Any] = expect_ok(await shop.client.post(QUOTE, json=body, headers=shop.admin.headers))
    return data


def applies(quote: dict[str, Any]) -> bool:
    return any(c["code"] == CODE for c in quote["applied_coupons"])


async def order(shop: Shop, redis: Any = None) -> Order:
    """Quote alice's basket with TWICE (it must apply) and order it through the service."""
    quote = await quoted(shop)
    assert applies(quote), quote["rejected_coupons"]
    placed, _ = await place_order(
        shop.stores.pool, redis or shop.redis, shop.quotes, shop.stores.purchases,
        OrderCreate(quote_id=uuid.UUID(quote["quote_id"])),
        principal=shop.principal, actor="race", idempotency_key=uuid.uuid4().hex, now=utcnow(),
    )  # fmt: skip
    return placed


async def cancel(shop: Shop, placed: Order, redis: Any = None) -> None:
    cancelled, _ = await refunds.cancel(
        shop.stores.pool, redis or shop.redis, placed.id, CancelCreate(), principal=shop.principal, actor="race",
        idempotency_key=uuid.uuid4().hex, now=utcnow(), window=timedelta(minutes=30),
    )  # fmt: skip
    assert cancelled.status == "cancelled"


async def agree(shop: Shop, pool: asyncpg.Pool, trial: int) -> None:
    """The counter says what PostgreSQL says, and alice's next quote applies TWICE (she has a use left)."""
    committed = await pool.fetchval(
        "SELECT count(*) FROM coupon_redemptions WHERE coupon_code = $1 AND customer_id = $2 AND released_at IS NULL",
        CODE,
        CUSTOMER,
    )
    held = cast(bytes | None, await shop.redis.get(COUNTER))
    counted = None if held is None else int(held.split(b":")[0])  # `<count>:<version>`
    assert counted == committed, f"trial {trial}: Redis says {held!r}, PostgreSQL {committed}"
    assert applies(await quoted(shop)), f"trial {trial}: a quote refused the coupon alice may use"


async def test_an_orders_late_write_never_lifts_the_counter_over_a_cancels(shop: Shop, pool: asyncpg.Pool) -> None:
    """The order commits (alice: 2 uses), a cancel of her previous order commits and writes 1, and
    only then does the order's write of 2 arrive: it is older, and must not stick."""
    previous = await order(shop)
    for trial in range(TRIALS):
        held = HeldWrites(shop.redis)
        ordering = asyncio.create_task(order(shop, held))
        await held.arrived()  # committed; its write waits
        await cancel(shop, previous)
        held.release.set()
        previous = await ordering
        await agree(shop, pool, trial)


@pytest.mark.long
async def test_a_cancels_late_write_never_lowers_the_counter_under_an_orders(shop: Shop, pool: asyncpg.Pool) -> None:
    """A cancel commits (alice: 0 uses) and reads its count, a new order commits and writes 1, and
    only then does the cancel's write of 0 arrive: it is older, and must not stick."""
    previous = await order(shop)
    for trial in range(TRIALS):
        held = HeldWrites(shop.redis)
        cancelling = asyncio.create_task(cancel(shop, previous, held))
        await held.arrived()  # committed and counted; its write waits
        placed = await order(shop)
        held.release.set()
        await cancelling
        previous = placed
        await agree(shop, pool, trial)


@pytest.mark.long
async def test_a_counter_left_too_high_is_put_right_by_the_quotes_it_refuses(shop: Shop, pool: asyncpg.Pool) -> None:
    """Whatever left it there (a write that landed after its cancel's, a process that died between a
    cancel's commit and its write), a counter above PostgreSQL's count refuses a coupon the customer
    may use: the first quote it refuses has it checked against PostgreSQL, and the quotes after it
    apply the coupon again."""
    await order(shop)
    await shop.redis.set(COUNTER, b"2")  # a stale count of 2 (she has one use): refused, wrongly

    assert not applies(await quoted(shop))
    await until(lambda: _applies_now(shop), "a quote applies the coupon alice may use")
    await agree(shop, pool, 0)


async def _applies_now(shop: Shop) -> bool:
    return applies(await quoted(shop))
