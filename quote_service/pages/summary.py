"""GET /api/v1/dashboard/summary (admin): the dashboard's KPIs, price moves, revenue and refunds per day."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from quote_service.auth.guards import admin_only
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.periods import local_days, zone_named
from quote_service.pricing.money import Money, round_money
from quote_service.structs import Frozen
from quote_service.web.deps import ReadPoolDep
from quote_service.web.envelope import Envelope, ok

RECENT_MOVES = 20
REVENUE_DAYS = 14


class CurrencyTotals(Frozen):
    currency: str
    revenue: Decimal
    commission: Decimal
    refunds: Decimal
    """What refunds and cancels made today gave back (whenever the order was placed)."""
    refund_count: int


class DayRevenue(Frozen):
    date: str
    currency: str
    revenue: Decimal
    """Totals of the orders placed that day."""
    refunds: Decimal
    """What refunds and cancels made that day gave back (whenever the order was placed)."""
    orders: int


class PriceMove(Frozen):
    product_id: str
    product_name: str
    old_price: Decimal
    new_price: Decimal
    currency: str
    source: str
    reason: str
    changed_at: datetime


class Summary(Frozen):
    quotes_last_hour: int
    orders_last_hour: int
    conversion_rate: Decimal | None
    """Orders / quotes in the last hour * 100 (2 decimals); null with no quotes."""
    tz: str
    """The time zone whose local days "today" and `revenue_per_day` are (`tz`, else BUSINESS_TIMEZONE)."""
    today: list[CurrencyTotals]
    """Revenue (order totals) and commission of today's orders (the local day of `tz`), and today's
    refunds, one entry per currency: amounts in different currencies are never added."""
    revenue_per_day: list[DayRevenue]
    """One row per local day and currency with orders or refunds (the last REVENUE_DAYS days)."""
    recent_price_moves: list[PriceMove]
    """The latest moves of a price; a product's first price (its creation) is not a move."""
    generated_at: datetime


_COUNTS = """
SELECT (SELECT count(*) FROM quote_log WHERE created_at >= $1) AS quotes,
       (SELECT count(*) FROM orders WHERE created_at >= $1) AS orders
"""
_TODAY = """
SELECT currency, sum(revenue) AS revenue, sum(commission) AS commission, sum(refunds) AS refunds,
       sum(refund_count)::bigint AS refund_count
FROM (SELECT currency, total_amount AS revenue, total_commission AS commission, 0 AS refunds, 0 AS refund_count
      FROM orders WHERE created_at >= $1
      UNION ALL
      SELECT currency, 0, 0, total_refunded, 1 FROM refunds WHERE created_at >= $1) t
GROUP BY currency ORDER BY currency
"""
# $1: the first instant of each local day, ascending, then the end of today (`day` numbers the days
# from 1, SQL's width_bucket); $2/$3: the first and the last of them.
_PER_DAY = """
SELECT width_bucket(created_at, $1::timestamptz[]) AS day, currency,
       sum(revenue) AS revenue, sum(refunds) AS refunds, sum(orders)::bigint AS orders
FROM (SELECT created_at, currency, total_amount AS revenue, 0 AS refunds, 1 AS orders
      FROM orders WHERE created_at >= $2 AND created_at < $3
      UNION ALL
      SELECT created_at, currency, 0, total_refunded, 0 FROM refunds
      WHERE created_at >= $2 AND created_at < $3) t
GROUP BY 1, 2 ORDER BY 1, 2
"""
# A product's creation writes its first price with no old price: that is not a move, and a fresh
# catalog would otherwise fill the panel with identical "product created" rows.
_MOVES = """
SELECT h.product_id, p.name, h.old_price, h.new_price, p.currency, h.source, h.reason, h.changed_at
FROM price_history h JOIN products p ON p.id = h.product_id
WHERE h.old_price IS NOT NULL
ORDER BY h.changed_at DESC, h.id DESC LIMIT $1
"""


@get("/api/v1/dashboard/summary", guards=[admin_only], tags=["pages"], summary="Dashboard KPIs (admin)")
async def dashboard_summary(
    read_pool: ReadPoolDep, settings: NamedDependency[Settings], tz: FromQuery[str | None] = None
) -> Envelope[Summary]:
    now = utcnow()
    zone_name, where = zone_named(tz, default=settings.business_timezone)
    today_local = now.astimezone(where).date()
    days = local_days(today_local - timedelta(days=REVENUE_DAYS - 1), today_local, zone_name)
    async with read_pool.acquire() as conn:
        counts = await conn.fetchrow(_COUNTS, now - timedelta(hours=1))
        assert counts is not None
        today = await conn.fetch(_TODAY, days.day_starts[-2])
        per_day = await conn.fetch(_PER_DAY, list(days.day_starts), days.start, days.end)
        moves = await conn.fetch(_MOVES, RECENT_MOVES)
    quotes, orders = int(counts["quotes"]), int(counts["orders"])
    conversion = (Decimal(orders * 100) / quotes).quantize(Decimal("0.01")) if quotes else None
    return ok(
        Summary(
            quotes_last_hour=quotes,
            orders_last_hour=orders,
            conversion_rate=conversion,
            tz=zone_name,
            today=[
                CurrencyTotals(
                    currency=r["currency"],
                    revenue=Money(r["revenue"], r["currency"]).rounded().amount,
                    commission=Money(r["commission"], r["currency"]).rounded().amount,
                    refunds=Money(r["refunds"], r["currency"]).rounded().amount,
                    refund_count=r["refund_count"],
                )
                for r in today
            ],
            revenue_per_day=[
                DayRevenue(
                    date=(days.first_day + timedelta(days=r["day"] - 1)).isoformat(),
                    currency=r["currency"],
                    revenue=Money(r["revenue"], r["currency"]).rounded().amount,
                    refunds=Money(r["refunds"], r["currency"]).rounded().amount,
                    orders=r["orders"],
                )
                for r in per_day
            ],
            recent_price_moves=[
                PriceMove(
                    product_id=str(r["product_id"]),
                    product_name=r["name"],
                    old_price=round_money(r["old_price"], r["currency"]),
                    new_price=round_money(r["new_price"], r["currency"]),
                    currency=r["currency"],
                    source=r["source"],
                    reason=r["reason"],
                    changed_at=r["changed_at"],
                )
                for r in moves
            ],
            generated_at=now,
        )
    )
