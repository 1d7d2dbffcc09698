"""Per-customer quantity limits at the quote and at the order (docs/pricing.md#quantity-rules).

The quote path reads a customer's units of its basket's limited products from the counters
(Redis), and from PostgreSQL only to confirm a refusal (`UnitPurchases`). An order of a quote under
such a limit (`Quote.quantity_limits`) counts the customer's units again, under a lock per
(customer, product) taken after the products' row locks, and is refused 409 QUANTITY_RULE when its
units no longer fit (`check_order`): racing orders of one customer count one after another. After a
commit, and after a refused order, the counters learn PostgreSQL's units (`publish_units`); a cancel
or refund of a limited order does the same, so the units it gave back can be bought again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import structlog
from msgspec import UNSET

from quote_service.cache.redis import RedisClient
from quote_service.db.pool import Connection, Pool
from quote_service.errors import QuantityLimitReached
from quote_service.pricing.quantity_rules import QuantityProblem, bought_within
from quote_service.pricing.quote import Quote
from quote_service.unit_limits import counters, repository

log = structlog.get_logger("quote_service.unit_limits")


class UnitPurchases:
    """A customer's units of limited products, as the quote path reads them."""

    def __init__(self, pool: Pool, redis: RedisClient) -> None:
        self._pool = pool
        self._redis = redis

    async def read(self, customer_id: str, product_ids: Sequence[str]) -> dict[str, list[tuple[int, int]]]:
        """By the counters (one Redis round trip); a product they do not know: none bought."""
        return await counters.read(self._redis, customer_id, product_ids)

    async def confirm(
        self, customer_id: str, product_ids: Sequence[str], now: datetime
    ) -> dict[str, list[tuple[int, int]]]:
        """By PostgreSQL, which the counters then learn: asked before a quote is refused on their word."""
        async with self._pool.acquire() as conn:
            found = await repository.purchases(conn, customer_id=customer_id, product_ids=product_ids, now=now)
        await counters.publish(self._redis, customer_id, found)
        return {pid: purchases.entries for pid, purchases in found.items()}


async def check_order(conn: Connection, quote: Quote, now: datetime, *, edited: UUID | None = None) -> list[str]:
    """Lock and count the customer's units of each product (or offer) the quote is limited on; refuse the
    order (409 QUANTITY_RULE, every product past its limit named) when its units would pass one. The
    limits' keys (`QuantityLimit.key`; none: the quote has no limit). `edited`: the order an edit's basket
    (`quote`) replaces, whose own units are left out of the count (docs/orders-and-refunds.md)."""
    limits = quote.quantity_limits or []
    if not limits:
        return []
    keys = [limit.key for limit in limits]
    await repository.lock(conn, customer_id=quote.customer_id, product_ids=keys)
    found = await repository.purchases(
        conn, customer_id=quote.customer_id, product_ids=keys, now=now, other_than=edited
    )
    problems = []
    for limit in limits:
        if limit.offer_id is UNSET:  # the product's units from every seller
            lines = [i for i, line in enumerate(quote.items) if line.product_id == limit.product_id]
        else:  # an offer's own limit: its units (docs/offers.md#quantity-rules)
            lines = [i for i, line in enumerate(quote.items) if line.offer_id == limit.offer_id]
        lines = [i for i in lines if not quote.items[i].is_gift]
        units = sum(quote.items[i].quantity for i in lines)
        bought = bought_within(found[limit.key].entries, limit.window_days, now)
        if lines and bought + units > limit.max_per_customer:
            left = max(limit.max_per_customer - bought, 0)
            message = (
                f"at most {limit.max_per_customer} per customer in {limit.window_days} days: "
                f"{left} left for this customer, the quote has {units}"
            )
            problems.append(
                QuantityProblem(
                    f"items[{lines[0]}].quantity",
                    message,
                    min_qty=None if limit.min_qty is UNSET else limit.min_qty,
                    max_qty=None if limit.max_qty is UNSET else limit.max_qty,
                    step=None if limit.step is UNSET else limit.step,
                    remaining_for_customer=left,
                )
            )
    if problems:
        raise QuantityLimitReached(
            "quantity limit reached: " + "; ".join(p.message for p in problems), details=problems
        )
    return keys


async def publish_units(
    conn: Connection, redis: RedisClient, customer_id: str, product_ids: Sequence[str], now: datetime
) -> None:
    """The counters learn the customer's committed units of these products (after an order, a refused
    order, a cancel or a refund). Never raises: the change has committed, and a counter left behind
    is put right by the next order or refusal."""
    if not product_ids:
        return
    try:
        found = await repository.purchases(conn, customer_id=customer_id, product_ids=product_ids, now=now)
    except Exception:
        log.warning("unit_purchases_unread", customer_id=customer_id, exc_info=True)
        return
    await counters.publish(redis, customer_id, found)
