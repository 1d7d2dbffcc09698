"""The lifecycle by the clock: schedulers of two "processes" with an injected clock.

Each process has its own pool, Redis client, configuration store and FlashSales, as two
instances of the service would; both tick at the same moment and the transitions (and the
return of unsold stock) must happen exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from redis.asyncio import Redis

from quote_service.auth.schemas import Principal
from quote_service.cache.config_store import ConfigStore
from quote_service.config import Settings
from quote_service.db.pool import Pool, create_pool
from quote_service.errors import Conflict
from quote_service.flash_sales.counters import Counters
from quote_service.flash_sales.purchases import Purchases
from quote_service.flash_sales.scheduler import SaleScheduler
from quote_service.flash_sales.schemas import FlashSaleCreate, FlashSaleItemIn, PurchaseCreate
from quote_service.flash_sales.service import FlashSales
from quote_service.snapshot.loader import load_snapshot
from tests.integration.holdsetup import flash_books

START = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Process:
    """What one service process holds for flash sales."""

    def __init__(self, pool: Pool, redis: Redis, store: ConfigStore, clock: Clock) -> None:  # type: ignore[type-arg]
        self.pool, self.redis, self.store = pool, redis, store
        self.sales = FlashSales(pool, Counters(redis), store, clock=clock)
        self.purchases = Purchases(self.sales, flash_books(pool, redis, store))
        self.scheduler = SaleScheduler(self.sales, clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock(START - timedelta(hours=1))


@pytest.fixture
async def processes(settings: Settings, clock: Clock) -> AsyncIterator[tuple[Process, Process]]:
    made: list[Process] = []
    for _ in range(2):
        pool = await create_pool(settings.database_url or "", min_size=1, max_size=4)
        redis = Redis.from_url(settings.redis_url or "")
        store = ConfigStore(pool, redis, load_snapshot)
        await store.start()
        made.append(Process(pool, redis, store, clock))
    yield made[0], made[1]
    for process in made:
        await process.store.stop()
        await process.redis.aclose()
        await process.pool.close()


async def make_product(pool: Pool, *, stock: int) -> uuid.UUID:
    product_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO products (id, sku, name, category_id, seller_id, currency, base_price, current_price,
                                 min_price, cost_price, stock)
           VALUES ($1, $2, 'Kettle', 'home', 'seller-1', 'TRY', 100, 100, 40, 20, $3)""",
        product_id,
        f"SKU-{product_id.hex[:10]}",
        stock,
    )
    return product_id


async def stock(pool: Pool, product_id: uuid.UUID) -> int:
    value: int = await pool.fetchval("SELECT stock FROM products WHERE id = $1", product_id)
    return value


async def returns(pool: Pool, product_id: uuid.UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT delta FROM stock_movements WHERE product_id = $1 AND reason LIKE '%unsold%'", product_id
    )


def sale_of(product_id: uuid.UUID, *, units: int = 10) -> FlashSaleCreate:
    return FlashSaleCreate(
        name="Noon sale",
        starts_at=START,
        ends_at=START + timedelta(hours=1),
        items=[
            FlashSaleItemIn(
                product_id=product_id, flash_price=Decimal("50.00"), allocated_stock=units, per_user_limit=3
            )
        ],
    )


BUYER = Principal(id=uuid.uuid4(), name="checkout", role="service", kind="api_key")


async def test_two_schedulers_move_a_sale_once_and_return_unsold_stock_once(
    processes: tuple[Process, Process], clock: Clock
) -> None:
    first, second = processes
    product_id = await make_product(first.pool, stock=100)
    sale = await first.sales.create(sale_of(product_id), actor="admin")
    assert sale.status == "scheduled"
    assert await stock(first.pool, product_id) == 90
    assert await asyncio.gather(first.scheduler.tick(), second.scheduler.tick()) == [[], []]

    clock.now = START + timedelta(seconds=1)
    made = await asyncio.gather(first.scheduler.tick(), second.scheduler.tick())
    assert sorted(made, key=len) == [[], [(sale.id, "activated")]]
    assert (await first.sales.get(sale.id)).status == "active"
    row = await first.pool.fetchrow("SELECT status, activated_at FROM flash_sales WHERE id = $1", sale.id)
    assert (row["status"], row["activated_at"]) == ("active", clock.now)

    for customer in ("a", "b"):
        bought, _ = await second.purchases.purchase(
            sale.id,
            PurchaseCreate(product_id=product_id, quantity=2, customer_id=customer),
            principal=BUYER,
            idempotency_key=f"key-{customer}",
            now=clock.now,
        )
        assert (bought.subtotal, bought.total) == (Decimal("100.00"), Decimal("128.00"))  # + 18 % tax, delivery

    clock.now = START + timedelta(hours=1)
    made = await asyncio.gather(first.scheduler.tick(), second.scheduler.tick())
    assert sorted(made, key=len) == [[], [(sale.id, "ended")]]
    assert await stock(first.pool, product_id) == 90 + (10 - 4)
    assert [r["delta"] for r in await returns(first.pool, product_id)] == [6]
    # Later passes, and an admin's end, find nothing left to do.
    assert await asyncio.gather(first.scheduler.tick(), second.scheduler.tick()) == [[], []]
    assert await first.sales.end(sale.id, actor="admin") is False
    assert await stock(first.pool, product_id) == 96
    ended = await second.sales.get(sale.id)
    assert ended.status == "ended"
    assert ended.items[0].remaining_stock == 0


async def test_a_sale_is_active_by_the_clock_before_any_scheduler_runs(
    processes: tuple[Process, Process], clock: Clock
) -> None:
    first, _ = processes
    product_id = await make_product(first.pool, stock=20)
    sale = await first.sales.create(sale_of(product_id), actor="admin")
    purchase = PurchaseCreate(product_id=product_id, quantity=1, customer_id="early")
    with pytest.raises(Conflict) as early:
        await first.purchases.purchase(sale.id, purchase, principal=BUYER, idempotency_key="k1", now=clock.now)
    assert early.value.code == "SALE_NOT_ACTIVE"
    clock.now = START  # exactly starts_at: the window is half-open [starts_at, ends_at)
    assert (await first.sales.get(sale.id)).status == "active"
    bought, _ = await first.purchases.purchase(sale.id, purchase, principal=BUYER, idempotency_key="k2", now=clock.now)
    assert bought.quantity == 1
    late = START + timedelta(hours=1)
    with pytest.raises(Conflict) as after:
        await first.purchases.purchase(sale.id, purchase, principal=BUYER, idempotency_key="k3", now=late)
    assert after.value.code == "SALE_NOT_ACTIVE"


async def test_an_admin_end_racing_the_scheduler_returns_stock_once(
    processes: tuple[Process, Process], clock: Clock
) -> None:
    first, second = processes
    product_id = await make_product(first.pool, stock=50)
    sale = await first.sales.create(sale_of(product_id, units=20), actor="admin")
    clock.now = START + timedelta(hours=2)
    results = await asyncio.gather(
        first.sales.end(sale.id, actor="admin"), second.scheduler.tick(), first.scheduler.tick()
    )
    ended_by_admin = results[0] is True
    scheduler_ends = [m for m in results[1:] if m]
    assert ended_by_admin + len(scheduler_ends) == 1
    assert await stock(first.pool, product_id) == 50
    assert [r["delta"] for r in await returns(first.pool, product_id)] == [20]
