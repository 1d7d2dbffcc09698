"""One Idempotency-Key, one answer: a request whose key is in flight waits for it and returns its
result, never runs the business checks against its own twin (docs/errors.md#idempotency-keys).

The chaos soak found two concurrent `POST /orders` with one key for a quote with flash units
answering 201 and 409 `PURCHASE_LIMIT_EXCEEDED`: the second took the flash units in Redis while
the first still held them. Here the first order is stopped, deterministically, right after it
took its flash units (the `order.flash_held` fault point), while its twin arrives.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service import fault_points
from quote_service.auth.schemas import Principal
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import IdempotencyInProgress
from quote_service.flash_sales.purchases import Purchases
from quote_service.orders import service as orders
from quote_service.orders.schemas import Order, OrderCreate
from quote_service.quotes.store import QuoteStore
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.flash import new_sale
from tests.integration.holdsetup import shop
from tests.integration.orders.test_orders_api import build_quote, line, stored
from tests.integration.orders.test_orders_api import quotes as quotes  # a fixture
from tests.waiting import until

CHECKOUT = Principal(id=uuid.UUID(int=7), name="checkout", role="service", kind="api_key")


@pytest.fixture
async def checkout(settings: Settings, quotes: QuoteStore) -> AsyncIterator[Checkout]:
    """The order path as a process runs it, on this test's event loop (the HTTP client's app runs
    on a loop of its own): its own pool, Redis client and flash purchases; the app's stores."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    async with shop(settings.database_url, redis) as flash:
        yield Checkout(flash.pool, redis, quotes, flash.purchases)
    await redis.aclose()


class Checkout:
    def __init__(self, pool: asyncpg.Pool, redis: Redis, quotes: QuoteStore, purchases: Purchases) -> None:
        self.pool, self.redis, self.quotes, self.purchases = pool, redis, quotes, purchases

    async def place(self, quote_id: uuid.UUID, key: str) -> tuple[Order, bool]:
        return await orders.place_order(
            self.pool, self.redis, self.quotes, self.purchases, OrderCreate(quote_id=quote_id),
            principal=CHECKOUT, actor="api-key:checkout", idempotency_key=key, now=utcnow(),
        )  # fmt: skip


async def advisory_waiters(pool: asyncpg.Pool) -> bool:
    """Whether a backend waits for an advisory lock (a request waiting for its key's first request)."""
    waiting = await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    return bool(waiting)


async def test_a_twin_order_waits_for_the_first_and_returns_its_order(
    client: AsyncTestClient[Litestar], checkout: Checkout, admin: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=20)
    # Two units per customer: the quote's two flash units are the customer's whole limit, so a
    # twin that took them again while the first still holds them is refused.
    sale, _ = await new_sale(client, admin, product=product, item={"flash_price": "21.00", "per_user_limit": 2})
    flash = line(product, 2, price_source="flash_sale", flash_sale_id=uuid.UUID(sale["id"]))
    quote = await stored(quotes, build_quote("cust-twin", [flash, line(product, 1)]), (CHECKOUT.kind, CHECKOUT.id))
    first_in = asyncio.Event()
    go_on = asyncio.Event()

    async def pause() -> None:
        first_in.set()
        await go_on.wait()

    with fault_points.armed("order.flash_held", pause):
        first = asyncio.create_task(checkout.place(quote.quote_id, "twin-key"))
        await until(lambda: first_in.is_set() or first.done(), "the first order takes its flash units")
        assert not first.done(), first.result()
    second = asyncio.create_task(checkout.place(quote.quote_id, "twin-key"))
    # The twin is either refused at once (the bug) or waits on the key's lock.
    await until(lambda: second.done() or advisory_waiters(pool), "the twin is answered or waits for the key")
    go_on.set()
    (placed, replayed_first), (again, replayed_second) = await asyncio.gather(first, second)

    assert (replayed_first, replayed_second) == (False, True)
    assert again.id == placed.id
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1
    assert await pool.fetchval("SELECT sum(quantity) FROM flash_purchases WHERE order_id IS NOT NULL") == 2


async def test_a_twin_that_waits_too_long_is_told_to_retry_not_refused(
    client: AsyncTestClient[Litestar], checkout: Checkout, admin: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    """Past DB_LOCK_TIMEOUT the twin answers 409 IDEMPOTENCY_IN_PROGRESS (retry: yes, with
    Retry-After), and the retry returns the first request's order."""
    product = await create_product(client, admin, stock=20)
    quote = await stored(quotes, build_quote("cust-slow", [line(product, 1)]), (CHECKOUT.kind, CHECKOUT.id))
    first_in = asyncio.Event()
    go_on = asyncio.Event()

    async def pause() -> None:
        first_in.set()
        await go_on.wait()

    with fault_points.armed("order.flash_held", pause):
        first = asyncio.create_task(checkout.place(quote.quote_id, "slow-key"))
        await until(lambda: first_in.is_set() or first.done(), "the first order takes its flash units")
        assert not first.done(), first.result()
    with pytest.raises(IdempotencyInProgress) as refused:
        await checkout.place(quote.quote_id, "slow-key")  # waits DB_LOCK_TIMEOUT (1 s), then gives up
    assert (refused.value.status_code, refused.value.retry_after) == (409, 1)
    go_on.set()
    placed, _ = await first
    again, replayed = await checkout.place(quote.quote_id, "slow-key")
    assert (again.id, replayed) == (placed.id, True)
