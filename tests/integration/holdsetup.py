"""A flash-sale purchase path of its own for the hold tests: its own pool and Redis client
(so a test can hold its connections, pause its Redis or wait on its locks), over the same
database as the HTTP fixtures that create the sales."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from quote_service.auth.schemas import Principal
from quote_service.cache.config_store import ConfigStore
from quote_service.cache.products import ProductCache
from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.pool import Pool, create_pool
from quote_service.flash_sales.counters import Counters
from quote_service.flash_sales.purchases import Purchases
from quote_service.flash_sales.reconciler import HoldReconciler
from quote_service.flash_sales.schemas import FlashSaleCreate, FlashSaleItemIn, Purchase, PurchaseCreate
from quote_service.flash_sales.service import FlashSales
from quote_service.orders.flash_orders import FlashOrders
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.quotes.service import QuoteService
from quote_service.quotes.store import QuoteStore
from quote_service.snapshot.loader import load_snapshot

BUYER = Principal(id=uuid.UUID(int=42), name="checkout", role="service", kind="api_key")
GRACE = 60.0


@dataclass
class Shop:
    """One process's purchase path and reconciler."""

    pool: Pool
    sales: FlashSales
    purchases: Purchases
    reconciler: HoldReconciler

    async def open_sale(self) -> dict[str, Any]:
        """A product (stock 100) and a sale of 10 of its units, 2 per customer, active now."""
        product_id = uuid.uuid4()
        await self.pool.execute(
            """INSERT INTO products (id, sku, name, category_id, seller_id, currency, base_price, current_price,
                                     min_price, cost_price, stock)
               VALUES ($1, $2, 'P', 'c', 's', 'TRY', 25.50, 25.50, 10, 5, 100)""",
            product_id,
            f"sku-{product_id}",
        )
        now = utcnow()
        item = FlashSaleItemIn(
            product_id=product_id, flash_price=Decimal("15.00"), allocated_stock=10, per_user_limit=2
        )
        sale = await self.sales.create(
            FlashSaleCreate(name="Hold sale", starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1),
                            items=[item]),
            actor="test",
        )  # fmt: skip
        created: dict[str, Any] = msgspec.to_builtins(sale)
        return created

    async def buy(self, sale: dict[str, Any], *, quantity: int, customer: str, key: str, now: datetime) -> Purchase:
        data = PurchaseCreate(product_id=uuid.UUID(sale["items"][0]["product_id"]), quantity=quantity,
                              customer_id=customer)  # fmt: skip
        purchase, _ = await self.purchases.purchase(
            uuid.UUID(sale["id"]), data, principal=BUYER, idempotency_key=key, now=now
        )
        return purchase

    async def counts(self, sale: dict[str, Any]) -> dict[str, int]:
        """Units left, and units customer `c` holds, as Redis counts them."""
        product = sale["items"][0]["product_id"]
        counted = await self.sales.counters.read(uuid.UUID(sale["id"])) or {}
        return {"left": counted.get(f"s:{product}", -1), "c": counted.get(f"b:{product}:c", 0)}

    async def holds(self, sale: dict[str, Any]) -> int:
        return len(await self.sales.counters.holds(uuid.UUID(sale["id"])))


def flash_books(pool: Pool, redis: RedisClient, store: ConfigStore[ConfigSnapshot]) -> FlashOrders:
    """The app's books for a purchase path of a test's own (each purchase an order: docs/flash-sales.md):
    the quote engine over the test's pool, Redis client and configuration, with the default settings."""
    settings = Settings()
    quotes = QuoteService(
        settings,
        config_store=store,
        products=ProductCache(redis, pool),
        store=QuoteStore(redis, pool, spool=settings.quote_log_spool),
        redis=redis,
    )
    return FlashOrders(quotes, commission_tax_rate=settings.commission_tax_rate)


@asynccontextmanager
async def shop(database_url: str, redis: RedisClient, **pool_options: Any) -> AsyncIterator[Shop]:
    pool = await create_pool(database_url, min_size=1, **pool_options)
    store: ConfigStore[ConfigSnapshot] = ConfigStore(pool, redis, load_snapshot)
    await store.start()
    try:
        sales = FlashSales(pool, Counters(redis), store)
        purchases = Purchases(sales, flash_books(pool, redis, store))
        yield Shop(pool, sales, purchases, HoldReconciler(sales, grace=GRACE))
    finally:
        await store.stop()
        await pool.close()
