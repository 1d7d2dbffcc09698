"""Demand counts and the signals that follow them, kept current incrementally.

Each pass reads only what arrived since the last one (a watermark per source, locked FOR
UPDATE so concurrent processes take turns and count each row once):
- quote_log rows → quotes containing each product, per hour;
- orders → orders of each product, per hour;
then, for the products those rows touched, demand_surge; and for products whose row changed
(products.updated_at: stock moves, orders, price moves), low_inventory.
Rows are read up to `now - LAG` only: the quote log is written in batches shortly after the
quote, and an order commits a moment after its created_at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime, timedelta

import structlog

from quote_service.background import BackgroundLoop
from quote_service.clock import utcnow
from quote_service.db.pool import Connection, Pool
from quote_service.intelligence.signal_rules import SignalEvaluator

log = structlog.get_logger("quote_service.intelligence")

LAG = timedelta(seconds=30)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
UUID_PATTERN = "^[0-9a-fA-F-]{36}$"

_COUNT_QUOTES = f"""
INSERT INTO product_demand_hourly (product_id, hour, quotes)
SELECT (line ->> 0)::uuid, date_trunc('hour', q.created_at), count(DISTINCT q.quote_id)
FROM quote_log q CROSS JOIN LATERAL jsonb_array_elements(q.lines) line
WHERE q.created_at > $1 AND q.created_at <= $2 AND line ->> 0 ~ '{UUID_PATTERN}'
GROUP BY 1, 2
ON CONFLICT (product_id, hour) DO UPDATE SET quotes = product_demand_hourly.quotes + EXCLUDED.quotes
RETURNING product_id"""

_COUNT_ORDERS = f"""
INSERT INTO product_demand_hourly (product_id, hour, orders)
SELECT l.product_id::uuid, date_trunc('hour', o.created_at), count(DISTINCT o.id)
FROM orders o JOIN order_lines l ON l.order_id = o.id
WHERE o.created_at > $1 AND o.created_at <= $2 AND l.product_id ~ '{UUID_PATTERN}'
GROUP BY 1, 2
ON CONFLICT (product_id, hour) DO UPDATE SET orders = product_demand_hourly.orders + EXCLUDED.orders
RETURNING product_id"""


@dataclass(eq=False)
class DemandJob(BackgroundLoop):
    task_name = "demand-job"
    failure_event = "demand_job_failed"

    pool: Pool
    signals: SignalEvaluator
    _: KW_ONLY
    interval: float = 10.0
    clock: Callable[[], datetime] = utcnow
    lag: timedelta = LAG

    async def tick(self) -> None:
        upto = self.clock() - self.lag
        async with self.pool.acquire() as conn, conn.transaction():
            since = await self._watermark(conn, "demand", upto)
            if since is None:
                return
            touched = {row["product_id"] for row in await conn.fetch(_COUNT_QUOTES, since, upto)}
            await conn.fetch(_COUNT_ORDERS, since, upto)
            for product_id in sorted(touched):
                row = await conn.fetchrow(
                    """SELECT coalesce(sum(quotes) FILTER (WHERE hour >= date_trunc('hour', $2::timestamptz)), 0)::int
                                  AS last_hour,
                              coalesce(sum(quotes), 0)::int AS last_week
                       FROM product_demand_hourly WHERE product_id = $1 AND hour >= $3""",
                    product_id,
                    upto - timedelta(hours=1),
                    upto - timedelta(days=7),
                )
                assert row is not None
                await self.signals.demand_seen(conn, product_id, last_hour=row["last_hour"], last_week=row["last_week"])
            changed = await conn.fetch(
                "SELECT id, stock FROM products WHERE updated_at > $1 AND updated_at <= $2", since, upto
            )
            for product in changed:
                await self.signals.stock_seen(conn, product["id"], product["stock"])

    async def _watermark(self, conn: Connection, source: str, upto: datetime) -> datetime | None:
        """The position this pass starts from (advanced to `upto` in this transaction); None if current."""
        await conn.execute(
            "INSERT INTO intelligence_watermarks (source, position) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            source,
            EPOCH,
        )
        since: datetime = await conn.fetchval(
            "SELECT position FROM intelligence_watermarks WHERE source = $1 FOR UPDATE", source
        )
        if since >= upto:
            return None
        await conn.execute("UPDATE intelligence_watermarks SET position = $2 WHERE source = $1", source, upto)
        return since

    async def run_pass(self) -> None:
        await self.tick()
