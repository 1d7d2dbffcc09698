"""SQL for seller statements: a seller's lines sold, refunded and commissioned, per local day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from quote_service.db.pool import Connection

# $1 seller, $2 currency, $3/$4 the period [from, to), $5 its days' bounds (each local day's first
# instant, ascending, then the period's end): `day` is the number of the day (1 = the first, SQL's
# width_bucket). Sales and the commission charged on them count on the day the order was placed;
# refunds and the commission they reversed on the day the refund was made (a statement shows money
# as it moved). Goods are after discounts and without tax: a tax-inclusive line's contained tax is
# taken out (docs/markets.md).
_DAYS = """
WITH sold AS (
    SELECT width_bucket(o.created_at, $5::timestamptz[]) AS day, o.id AS order_id,
           l.line_subtotal - l.discount - CASE WHEN l.prices_include_tax THEN l.tax ELSE 0 END AS goods
    FROM order_lines l JOIN orders o ON o.id = l.order_id
    WHERE l.seller_id = $1 AND o.currency = $2 AND o.created_at >= $3 AND o.created_at < $4
), charged AS (  -- the seller and category commission on the seller's lines (not the logistics one)
    SELECT width_bucket(o.created_at, $5::timestamptz[]) AS day, c.amount
    FROM orders o JOIN order_commissions c ON c.order_id = o.id
    WHERE o.currency = $2 AND o.created_at >= $3 AND o.created_at < $4 AND c.dimension IN ('seller', 'category')
      AND EXISTS (SELECT 1 FROM order_lines l
                  WHERE l.order_id = o.id AND l.product_id = c.product_id AND l.seller_id = $1)
), back AS (
    SELECT width_bucket(r.created_at, $5::timestamptz[]) AS day,
           rl.amount - rl.discount - CASE WHEN rl.prices_include_tax THEN rl.tax ELSE 0 END AS goods,
           rl.seller_commission + rl.category_commission AS commission
    FROM refunds r JOIN refund_lines rl ON rl.refund_id = r.id
    JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position
    WHERE l.seller_id = $1 AND r.currency = $2 AND r.created_at >= $3 AND r.created_at < $4
)
SELECT day, sum(orders)::bigint AS orders, sum(gross) AS gross, sum(refunds) AS refunds,
       sum(charged) AS charged, sum(reversed) AS reversed
FROM (
    SELECT day, count(DISTINCT order_id) AS orders, sum(goods) AS gross, 0 AS refunds, 0 AS charged, 0 AS reversed
    FROM sold GROUP BY day
    UNION ALL SELECT day, 0, 0, 0, sum(amount), 0 FROM charged GROUP BY day
    UNION ALL SELECT day, 0, 0, sum(goods), 0, sum(commission) FROM back GROUP BY day
) parts
GROUP BY day ORDER BY day
"""


async def currencies(conn: Connection, *, seller_id: str, start: datetime, end: datetime) -> list[str]:
    """The currencies the seller sold or refunded in over [start, end)."""
    rows = await conn.fetch(
        """SELECT o.currency FROM order_lines l JOIN orders o ON o.id = l.order_id
           WHERE l.seller_id = $1 AND o.created_at >= $2 AND o.created_at < $3
           UNION
           SELECT r.currency FROM refunds r JOIN refund_lines rl ON rl.refund_id = r.id
           JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position
           WHERE l.seller_id = $1 AND r.created_at >= $2 AND r.created_at < $3
           ORDER BY 1""",
        seller_id,
        start,
        end,
    )
    return [row["currency"].strip() for row in rows]


async def days(conn: Connection, *, seller_id: str, currency: str, bounds: Sequence[datetime]) -> list[asyncpg.Record]:
    """(day, orders, gross, refunds, charged, reversed) for each day with any of them; `day` numbers
    the spans between consecutive `bounds` from 1 (the period is [bounds[0], bounds[-1]))."""
    return await conn.fetch(_DAYS, seller_id, currency, bounds[0], bounds[-1], list(bounds))
