"""GET /api/v1/analytics/flash-sales/{id}: one sale's figures from its purchase ledger (docs/analytics.md).

Money is summed per currency (`MoneyByCurrency`): a sale of a EUR and a TRY product reports
`revenue_by_currency` with both and `revenue` null, never their sum. A sale's currencies are those
of its products and of its purchases, so the report's shape does not change when the first
purchase in a second currency comes in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg
import msgspec

from quote_service.analytics.figures import percent
from quote_service.db.pool import Connection
from quote_service.db.replica import ReadPools
from quote_service.db.rows import found
from quote_service.pricing.money import Money, MoneyByCurrency


class DayFigures(msgspec.Struct, kw_only=True):
    date: date
    units: int
    revenue: Decimal | None
    """In the report's `currency`; null when the sale spans currencies."""
    revenue_by_currency: dict[str, Decimal]


class ProductFigures(msgspec.Struct, kw_only=True):
    product_id: UUID
    currency: str | None
    """The product's currency (null only if its purchases span currencies)."""
    units: int
    revenue: Decimal | None
    revenue_by_currency: dict[str, Decimal]
    sell_through: Decimal
    elasticity: float | None


class FlashSaleReport(msgspec.Struct, kw_only=True):
    sale_id: UUID
    status: str
    currency: str | None
    """The sale's one currency; null when its products or purchases span currencies."""
    units_sold: int
    revenue: Decimal | None
    revenue_by_currency: dict[str, Decimal]
    buyers: int
    viewers: int
    conversion_rate: Decimal | None
    sell_through: Decimal
    average_order_value: Decimal | None
    average_order_value_by_currency: dict[str, Decimal]
    per_day: list[DayFigures]
    peak_hour: str | None
    by_product: list[ProductFigures]


def arc_elasticity(p0: Decimal, q0: int, p1: Decimal, q1: int) -> float | None:
    """Midpoint (arc) elasticity between (p0, q0) and (p1, q1); None when a side sold nothing or
    the price did not move."""
    if q0 <= 0 or q1 <= 0 or p0 == p1:
        return None
    dq = Decimal(q1 - q0) / (Decimal(q1 + q0) / 2)
    dp = (p1 - p0) / ((p1 + p0) / 2)
    return round(float(dq / dp), 4)


def _single(sums: MoneyByCurrency) -> Decimal | None:
    one = sums.single()
    return None if one is None else one.rounded().amount


@dataclass(frozen=True, slots=True)
class _Ledger:
    """What the report reads: the sale, its items, and its purchases summed per product and currency."""

    sale: asyncpg.Record
    items: list[asyncpg.Record]
    sold: dict[UUID, list[asyncpg.Record]]
    per_day: list[asyncpg.Record]
    buyers: int
    peak: int | None
    before: dict[str, int]
    """Units of each product ordered at catalog price over the sale's length just before it."""


async def _read(conn: Connection, sale_id: UUID, now: datetime) -> _Ledger:
    sale = await conn.fetchrow(
        "SELECT s.id, s.status, s.starts_at, s.ends_at, COALESCE(st.unique_viewers, 0) AS viewers"
        " FROM flash_sales s LEFT JOIN flash_sale_stats st ON st.flash_sale_id = s.id WHERE s.id = $1",
        sale_id,
    )
    sale = found(sale, "flash sale")
    items = await conn.fetch(
        "SELECT i.product_id, i.allocated_stock, i.flash_price, p.base_price, p.currency,"
        " COALESCE((SELECT h.new_price FROM price_history h WHERE h.product_id = i.product_id"
        "   AND h.changed_at <= $2 ORDER BY h.changed_at DESC, h.id DESC LIMIT 1), p.current_price)"
        " AS price_before"
        " FROM flash_sale_items i JOIN products p ON p.id = i.product_id"
        " WHERE i.flash_sale_id = $1 ORDER BY i.position",
        sale_id,
        sale["starts_at"],
    )
    sold: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    for row in await conn.fetch(
        "SELECT product_id, currency, sum(quantity)::bigint AS units, sum(total) AS revenue, count(*) AS purchases"
        " FROM flash_purchases WHERE flash_sale_id = $1 GROUP BY product_id, currency ORDER BY currency",
        sale_id,
    ):
        sold[row["product_id"]].append(row)
    buyers = await conn.fetchval(
        "SELECT count(DISTINCT customer_id) FROM flash_purchases WHERE flash_sale_id = $1", sale_id
    )
    per_day = await conn.fetch(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, currency, sum(quantity)::bigint AS units,"
        " sum(total) AS revenue FROM flash_purchases WHERE flash_sale_id = $1 GROUP BY 1, 2 ORDER BY 1, 2",
        sale_id,
    )
    # Ties go to the earliest hour of the day.
    peak = await conn.fetchval(
        "SELECT extract(hour FROM created_at AT TIME ZONE 'UTC')::int FROM flash_purchases"
        " WHERE flash_sale_id = $1 GROUP BY 1 ORDER BY sum(quantity) DESC, 1 LIMIT 1",
        sale_id,
    )
    window = max(min(sale["ends_at"], now) - sale["starts_at"], timedelta(0))
    before = {
        r["product_id"]: int(r["units"])
        for r in await conn.fetch(
            "SELECT l.product_id, sum(l.quantity)::bigint AS units FROM orders o"
            " JOIN order_lines l ON l.order_id = o.id"
            " WHERE o.created_at >= $1 AND o.created_at < $2 AND l.product_id = ANY($3::text[])"
            "   AND l.price_source <> 'flash_sale' GROUP BY l.product_id",
            sale["starts_at"] - window,
            sale["starts_at"],
            [str(i["product_id"]) for i in items],
        )
    }
    return _Ledger(sale, items, sold, per_day, int(buyers), peak, before)


def _product(item: asyncpg.Record, sold: list[asyncpg.Record], units_before: int) -> ProductFigures:
    sums = MoneyByCurrency(Money(r["revenue"], r["currency"]) for r in sold)
    sums.include(item["currency"])
    one = sums.single()
    units = sum(int(r["units"]) for r in sold)
    return ProductFigures(
        product_id=item["product_id"],
        currency=None if one is None else one.currency,
        units=units,
        revenue=_single(sums),
        revenue_by_currency=sums.rounded(),
        sell_through=percent(units, item["allocated_stock"]) or Decimal("0.00"),
        elasticity=arc_elasticity(item["price_before"], units_before, item["flash_price"], units),
    )


def _per_day(rows: list[asyncpg.Record], *, one_currency: bool) -> list[DayFigures]:
    days: dict[date, tuple[int, MoneyByCurrency]] = {}
    for row in rows:
        units, sums = days.get(row["day"], (0, MoneyByCurrency()))
        sums.add(Money(row["revenue"], row["currency"]))
        days[row["day"]] = (units + int(row["units"]), sums)
    return [
        DayFigures(
            date=day,
            units=units,
            revenue=_single(sums) if one_currency else None,
            revenue_by_currency=sums.rounded(),
        )
        for day, (units, sums) in days.items()
    ]


def _averages(ledger: _Ledger) -> dict[str, Decimal]:
    """Revenue per purchase in each currency that has purchases."""
    revenue: dict[str, Money] = {}
    purchases: dict[str, int] = defaultdict(int)
    for rows in ledger.sold.values():
        for row in rows:
            currency = row["currency"]
            revenue[currency] = revenue.get(currency, Money.zero(currency)) + Money(row["revenue"], currency)
            purchases[currency] += int(row["purchases"])
    return {c: (revenue[c] / purchases[c]).rounded().amount for c in sorted(revenue)}


def _status(sale: asyncpg.Record, now: datetime) -> str:
    status: str = sale["status"]
    if status != "ended":
        status = "ended" if now >= sale["ends_at"] else "active" if now >= sale["starts_at"] else status
    return status


async def flash_sale_report(
    reads: ReadPools, sale_id: UUID, *, now: datetime, live_viewers: int = 0
) -> FlashSaleReport:
    """The sale's report; 404 for an unknown sale. `live_viewers` is Redis's count (the larger one wins)."""
    async with reads.for_read().acquire() as conn:
        ledger = await _read(conn, sale_id, now)
    by_product = [
        _product(item, ledger.sold.get(item["product_id"], []), ledger.before.get(str(item["product_id"]), 0))
        for item in ledger.items
    ]
    sums = MoneyByCurrency(Money(r["revenue"], r["currency"]) for rows in ledger.sold.values() for r in rows)
    for item in ledger.items:
        sums.include(item["currency"])
    one = sums.single()
    averages = _averages(ledger)
    units_sold = sum(row.units for row in by_product)
    viewers = max(int(ledger.sale["viewers"]), live_viewers)
    allocated = sum(int(i["allocated_stock"]) for i in ledger.items)
    peak = ledger.peak
    return FlashSaleReport(
        sale_id=sale_id,
        status=_status(ledger.sale, now),
        currency=None if one is None else one.currency,
        units_sold=units_sold,
        revenue=_single(sums),
        revenue_by_currency=sums.rounded(),
        buyers=ledger.buyers,
        viewers=viewers,
        conversion_rate=percent(ledger.buyers, viewers),
        sell_through=percent(units_sold, allocated) or Decimal("0.00"),
        average_order_value=averages.get(one.currency) if one is not None else None,
        average_order_value_by_currency=averages,
        per_day=_per_day(ledger.per_day, one_currency=one is not None),
        peak_hour=None if peak is None else f"{peak:02d}:00-{peak:02d}:59",
        by_product=by_product,
    )
