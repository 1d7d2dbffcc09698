"""Analytics reports: pricing, commission and flash-sale figures (docs/analytics.md).

Pricing and commission reports add rollup rows of clean closed hours to the same aggregation
computed live over the hours the rollups do not cover yet (marked dirty, or the current hour),
so they are exact whatever the background job's progress, and read only rollup rows for
settled history.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from quote_service.analytics.rollups import KINDS, hour_args, hour_of
from quote_service.db.replica import ReadPools
from quote_service.errors import FieldError, NotFound, ValidationFailed
from quote_service.pricing import money

PricingGroup = Literal["day", "product", "category", "rule", "variant"]
CommissionGroup = Literal["day", "seller", "category", "logistics_provider"]
PRICING_GROUPS = ("day", "product", "category", "rule", "variant")
COMMISSION_GROUPS = ("day", "seller", "category", "logistics_provider")
DEFAULT_DAYS = 30
MAX_DAYS = 366
_CENT = Decimal("0.01")
Key = tuple[str, str]


class PricingRow(msgspec.Struct, kw_only=True, omit_defaults=True):
    key: str
    currency: str
    quotes: int
    orders: int
    conversion_rate: Decimal | None
    revenue: Decimal
    discount: Decimal
    average_basket: Decimal | None
    amount: Decimal | None = None
    """group_by=rule: the amount the rule moved over its quotes (negative: a price cut)."""


class PricingReport(msgspec.Struct, kw_only=True):
    group_by: str
    from_: date = msgspec.field(name="from")
    to: date
    rows: list[PricingRow]


class CommissionRow(msgspec.Struct, kw_only=True):
    key: str
    currency: str
    orders: int
    seller_commission: Decimal
    category_commission: Decimal
    logistics_commission: Decimal
    total_commission: Decimal


class CommissionReport(msgspec.Struct, kw_only=True):
    group_by: str
    from_: date = msgspec.field(name="from")
    to: date
    rows: list[CommissionRow]


class DayFigures(msgspec.Struct, kw_only=True):
    date: date
    units: int
    revenue: Decimal


class ProductFigures(msgspec.Struct, kw_only=True):
    product_id: UUID
    units: int
    revenue: Decimal
    sell_through: Decimal
    elasticity: float | None


class FlashSaleReport(msgspec.Struct, kw_only=True):
    sale_id: UUID
    status: str
    currency: str | None
    units_sold: int
    revenue: Decimal
    buyers: int
    viewers: int
    conversion_rate: Decimal | None
    sell_through: Decimal
    average_order_value: Decimal | None
    per_day: list[DayFigures]
    peak_hour: str | None
    by_product: list[ProductFigures]


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """part / whole x 100 with 2 decimals (half up); None when whole is 0."""
    if not whole:
        return None
    return (Decimal(100) * Decimal(part) / Decimal(whole)).quantize(_CENT, ROUND_HALF_UP)


def arc_elasticity(p0: Decimal, q0: int, p1: Decimal, q1: int) -> float | None:
    """Midpoint (arc) elasticity between (p0, q0) and (p1, q1); None when a side sold nothing or
    the price did not move."""
    if q0 <= 0 or q1 <= 0 or p0 == p1:
        return None
    dq = Decimal(q1 - q0) / (Decimal(q1 + q0) / 2)
    dp = (p1 - p0) / ((p1 + p0) / 2)
    return round(float(dq / dp), 4)


def parse_range(raw_from: str | None, raw_to: str | None, *, today: date) -> tuple[date, date]:
    """The report's days, inclusive; 422 naming the field on a bad date or from > to."""

    def parse(field: str, raw: str) -> date:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValidationFailed(
                f"{field}: expected a date YYYY-MM-DD", details=[FieldError(field, "expected a date YYYY-MM-DD")]
            ) from None

    to = parse("to", raw_to) if raw_to else today
    start = parse("from", raw_from) if raw_from else to - timedelta(days=DEFAULT_DAYS - 1)
    if start > to:
        raise ValidationFailed("from must not be after to", details=[FieldError("from", "must not be after to")])
    if (to - start).days >= MAX_DAYS:
        raise ValidationFailed(
            f"at most {MAX_DAYS} days per report", details=[FieldError("from", f"at most {MAX_DAYS} days before to")]
        )
    return start, to


def check_group(group_by: str, allowed: tuple[str, ...]) -> str:
    if group_by not in allowed:
        message = f"must be one of {', '.join(allowed)}"
        raise ValidationFailed(f"group_by: {message}", details=[FieldError("group_by", message)])
    return group_by


def _bounds(start: date, to: date) -> tuple[datetime, datetime]:
    return datetime(start.year, start.month, start.day, tzinfo=UTC), datetime(
        to.year, to.month, to.day, tzinfo=UTC
    ) + timedelta(days=1)


_DAY_KEY = "to_char({column}, 'YYYY-MM-DD')"


SETTLED_CACHE_SIZE = 256


class Analytics:
    def __init__(self, reads: ReadPools) -> None:
        self.reads = reads
        """Every report reads the replica when it is within the lag bound (docs/deployment.md)."""
        # Daily-rollup sums of settled days, by query and rollup generation: those rows change only
        # when the job rewrites rollups, and every rewrite moves the generation on.
        self._settled: dict[tuple[object, ...], list[asyncpg.Record]] = {}

    async def sums(self, kind: str, group: str, lo: datetime, hi: datetime, now: datetime) -> dict[Key, list[Decimal]]:
        """(key, currency) -> summed figures over [lo, hi), from three sources that never overlap:
        daily rollups of settled days (closed, no dirty hour), hourly rollups of the clean closed
        hours of the other days, and the SQL of the rollups run live over the remaining hours
        (dirty ones and the current hour)."""
        k = KINDS[kind]
        dim = "all" if group == "day" else group
        by_day = group == "day"
        day_key = _DAY_KEY.format(column="day") if by_day else "key"
        hour_key = _DAY_KEY.format(column="(hour AT TIME ZONE 'UTC')") if by_day else "key"
        current = hour_of(now)
        today = current.date()
        totals: dict[Key, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(k.figures))
        async with self.reads.for_read().acquire() as conn:
            dirty = [
                r["hour"]
                for r in await conn.fetch(
                    "SELECT DISTINCT hour FROM rollup_dirty WHERE kind = $1 AND hour >= $2"
                    " AND hour < LEAST($3::timestamptz, $4::timestamptz)",
                    kind,
                    lo,
                    hi,
                    current,
                )
            ]
            unsettled = sorted({h.astimezone(UTC).date() for h in dirty} | {today})
            generation = await conn.fetchval("SELECT last_value FROM rollup_generation")
            cache_key = (kind, dim, by_day, lo, hi, tuple(unsettled), generation)
            settled = self._settled.get(cache_key)
            if settled is None:
                settled = await conn.fetch(
                    f"SELECT {day_key} AS k, currency, {k.sums} FROM {k.daily}"
                    " WHERE dim = $1 AND day >= $2 AND day < $3 AND day <> ALL($4::date[]) GROUP BY 1, 2",
                    dim,
                    lo.date(),
                    hi.date(),
                    unsettled,
                )
                if len(self._settled) >= SETTLED_CACHE_SIZE:
                    self._settled.clear()
                self._settled[cache_key] = settled
            results = list(settled)
            # The hourly rows of unsettled days only: bounds the index scan to those days' span.
            first = datetime(unsettled[0].year, unsettled[0].month, unsettled[0].day, tzinfo=UTC)
            last = datetime(unsettled[-1].year, unsettled[-1].month, unsettled[-1].day, tzinfo=UTC)
            results += await conn.fetch(
                f"SELECT {hour_key} AS k, currency, {k.sums} FROM {k.hourly}"
                " WHERE dim = $1 AND hour >= $2 AND hour < LEAST($3::timestamptz, $4::timestamptz)"
                " AND (hour AT TIME ZONE 'UTC')::date = ANY($5::date[]) AND hour <> ALL($6::timestamptz[])"
                " GROUP BY 1, 2",
                dim,
                max(lo, first),
                min(hi, last + timedelta(days=1)),
                current,
                unsettled,
                dirty,
            )
            live_hours = list(dirty)
            if lo <= current < hi:  # later hours hold no rows yet
                live_hours.append(current)
            if live_hours:
                results += await conn.fetch(
                    f"SELECT {hour_key} AS k, currency, {k.sums} FROM ({k.rows_sql}) r WHERE dim = $4 GROUP BY 1, 2",
                    *hour_args(live_hours),
                    dim,
                )
        for row in results:
            figures = totals[(row["k"], row["currency"])]
            for i in range(len(k.figures)):
                figures[i] += row[i + 2] or 0
        return totals

    async def pricing(self, group: str, start: date, to: date, *, now: datetime) -> PricingReport:
        lo, hi = _bounds(start, to)
        totals = await self.sums("pricing", group, lo, hi, now)
        rows = []
        for (key, currency), (quotes, orders, revenue, discount, amount) in sorted(totals.items()):
            revenue = money.round_money(revenue, currency)
            rows.append(
                PricingRow(
                    key=key,
                    currency=currency,
                    quotes=int(quotes),
                    orders=int(orders),
                    conversion_rate=percent(orders, quotes),
                    revenue=revenue,
                    discount=money.round_money(discount, currency),
                    average_basket=money.round_money(revenue / orders, currency) if orders else None,
                    amount=money.round_money(amount, currency) if group == "rule" else None,
                )
            )
        return PricingReport(group_by=group, from_=start, to=to, rows=rows)

    async def commission(self, group: str, start: date, to: date, *, now: datetime) -> CommissionReport:
        lo, hi = _bounds(start, to)
        totals = await self.sums("commission", group, lo, hi, now)
        rows = [
            CommissionRow(
                key=key,
                currency=currency,
                orders=int(orders),
                seller_commission=money.round_money(seller, currency),
                category_commission=money.round_money(category, currency),
                logistics_commission=money.round_money(logistics, currency),
                total_commission=money.round_money(total, currency),
            )
            for (key, currency), (orders, seller, category, logistics, total) in sorted(totals.items())
        ]
        return CommissionReport(group_by=group, from_=start, to=to, rows=rows)

    async def flash_sale(self, sale_id: UUID, *, now: datetime, live_viewers: int = 0) -> FlashSaleReport:
        async with self.reads.for_read().acquire() as conn:
            sale = await conn.fetchrow(
                "SELECT s.id, s.status, s.starts_at, s.ends_at, COALESCE(st.unique_viewers, 0) AS viewers"
                " FROM flash_sales s LEFT JOIN flash_sale_stats st ON st.flash_sale_id = s.id WHERE s.id = $1",
                sale_id,
            )
            if sale is None:
                raise NotFound("flash sale not found")
            assert sale is not None
            items = await conn.fetch(
                "SELECT i.product_id, i.allocated_stock, i.flash_price, p.base_price,"
                " COALESCE((SELECT h.new_price FROM price_history h WHERE h.product_id = i.product_id"
                "   AND h.changed_at <= $2 ORDER BY h.changed_at DESC, h.id DESC LIMIT 1), p.current_price)"
                " AS price_before"
                " FROM flash_sale_items i JOIN products p ON p.id = i.product_id"
                " WHERE i.flash_sale_id = $1 ORDER BY i.position",
                sale_id,
                sale["starts_at"],
            )
            purchases = await conn.fetch(
                "SELECT product_id, sum(quantity)::bigint AS units, sum(total) AS revenue, count(*) AS purchases"
                " FROM flash_purchases WHERE flash_sale_id = $1 GROUP BY product_id",
                sale_id,
            )
            totals_row = await conn.fetchrow(
                "SELECT count(DISTINCT customer_id) AS buyers, count(*) AS purchases, min(currency) AS currency"
                " FROM flash_purchases WHERE flash_sale_id = $1",
                sale_id,
            )
            assert totals_row is not None  # an aggregate without GROUP BY always has its row
            totals = totals_row
            per_day = await conn.fetch(
                "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, sum(quantity)::bigint AS units,"
                " sum(total) AS revenue FROM flash_purchases WHERE flash_sale_id = $1 GROUP BY 1 ORDER BY 1",
                sale_id,
            )
            # Ties go to the earliest hour of the day.
            peak = await conn.fetchval(
                "SELECT extract(hour FROM created_at AT TIME ZONE 'UTC')::int FROM flash_purchases"
                " WHERE flash_sale_id = $1 GROUP BY 1 ORDER BY sum(quantity) DESC, 1 LIMIT 1",
                sale_id,
            )
            ends = min(sale["ends_at"], now)
            window = max(ends - sale["starts_at"], timedelta(0))
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
        currency = totals["currency"] or "TRY"
        sold = {r["product_id"]: r for r in purchases}
        units_sold = sum(int(r["units"]) for r in purchases)
        revenue = sum((r["revenue"] for r in purchases), Decimal(0))
        allocated = sum(int(i["allocated_stock"]) for i in items)
        viewers = max(int(sale["viewers"]), live_viewers)
        buyers = int(totals["buyers"])
        status = sale["status"]
        if status != "ended":
            status = "ended" if now >= sale["ends_at"] else "active" if now >= sale["starts_at"] else status
        by_product = []
        for item in items:
            row = sold.get(item["product_id"])
            units = int(row["units"]) if row else 0
            by_product.append(
                ProductFigures(
                    product_id=item["product_id"],
                    units=units,
                    revenue=money.round_money(row["revenue"] if row else Decimal(0), currency),
                    sell_through=percent(units, item["allocated_stock"]) or Decimal("0.00"),
                    elasticity=arc_elasticity(
                        item["price_before"], before.get(str(item["product_id"]), 0), item["flash_price"], units
                    ),
                )
            )
        purchases_count = int(totals["purchases"])
        return FlashSaleReport(
            sale_id=sale_id,
            status=status,
            currency=totals["currency"],
            units_sold=units_sold,
            revenue=money.round_money(revenue, currency),
            buyers=buyers,
            viewers=viewers,
            conversion_rate=percent(buyers, viewers),
            sell_through=percent(units_sold, allocated) or Decimal("0.00"),
            average_order_value=money.round_money(revenue / purchases_count, currency) if purchases_count else None,
            per_day=[
                DayFigures(date=r["day"], units=int(r["units"]), revenue=money.round_money(r["revenue"], currency))
                for r in per_day
            ],
            peak_hour=None if peak is None else f"{peak:02d}:00-{peak:02d}:59",
            by_product=by_product,
        )
