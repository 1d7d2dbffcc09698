"""What a quote reads of promotions beyond the snapshot: the products GIFT promotions give
(docs/promotions.md#gifts) and a customer's uses of promotions with a per_customer_limit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from uuid import UUID

import asyncpg
import structlog

from quote_service.db.pool import Pool
from quote_service.pricing.promotions import GiftStock

log = structlog.get_logger("quote_service.promotions.gifts")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


class GiftStocks:
    """One PostgreSQL read a quote, made only while some GIFT promotion is configured: each gift
    product's state and the units in stock less those held for live stock reservations."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def read(self, product_ids: Sequence[str]) -> dict[str, GiftStock]:
        ids = [pid for pid in product_ids if _UUID.match(pid)]
        if not ids:
            return {}
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(
                    """SELECT p.id::text AS id, p.category_id, p.seller_id, p.is_active, p.current_price, p.currency,
                          p.stock - coalesce((SELECT sum(r.quantity) FROM reservation_holds r
                                              WHERE r.product_id = p.id AND r.expires_at > now()), 0) AS stock
                   FROM products p WHERE p.id = any($1::uuid[])""",
                    ids,
                )
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # PostgreSQL cannot answer: no gift is given (GIFT_UNAVAILABLE), the quote is still priced.
            log.warning("gift_stock_unread", error=type(exc).__name__)
            return {}
        return {
            row["id"]: GiftStock(
                id=row["id"],
                category_id=row["category_id"],
                seller_id=row["seller_id"],
                is_active=row["is_active"],
                stock=int(row["stock"]),
                unit_price=row["current_price"],
                currency=row["currency"],
            )
            for row in rows
        }


class PromotionUses:
    """A customer's orders using each promotion with a per_customer_limit, read (one PostgreSQL
    query) only for a quote that could meet such a promotion."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def read(self, customer_id: str, promotion_ids: Sequence[UUID]) -> dict[UUID, int]:
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(
                    """SELECT promotion_id, count(*) AS uses FROM promotion_redemptions
                       WHERE promotion_id = any($1::uuid[]) AND customer_id = $2 GROUP BY promotion_id""",
                    list(promotion_ids),
                    customer_id,
                )
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # PostgreSQL cannot answer: priced as unused; the order, under the row lock, still refuses.
            log.warning("promotion_uses_unread", error=type(exc).__name__)
            return {}
        return {row["promotion_id"]: row["uses"] for row in rows}
