"""Analytics reports: pricing, commission and flash-sale figures (docs/analytics.md).

Pricing and commission reports add rollup rows of clean closed hours to the same aggregation
computed live over the hours the rollups do not cover yet (marked dirty, or the current hour),
so they are exact whatever the background job's progress, and read only rollup rows for
settled history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from quote_service.analytics.figures import percent
from quote_service.analytics.flash_report import FlashSaleReport, flash_sale_report
from quote_service.analytics.rollups import KINDS, hour_args, hour_of
from quote_service.db.replica import ReadPools
from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing.money import Money
from quote_service.validation import LAST_INSTANT

PricingGroup = Literal["day", "product", "category", "rule", "variant", "region"]
CommissionGroup = Literal["day", "seller", "category", "logistics_provider"]
PRICING_GROUPS = ("day", "product", "category", "rule", "variant", "region")
COMMISSION_GROUPS = ("day", "seller", "category", "logistics_provider")
DEFAULT_DAYS = 30
MAX_DAYS = 366
Key = tuple[str, str]


class PricingRow(msgspec.Struct, kw_only=True, omit_defaults=True):
    key: str
    currency: str
    quotes: int
    orders: int
    conversion_rate: Decimal | None
    revenue: Decimal
    """Ordered goods after discounts, net of what refunds gave back."""
    discount: Decimal
    average_basket: Decimal | None
    refunds: Decimal
    """Goods (after their discount) that refunds of these orders gave back."""
    amount: Decimal | None = None
    """group_by=rule: the amount the rule moved over its quotes (negative: a price cut)."""
    city: str | None = None
    """group_by=region: the delivery city (key "City, CC"; "" for quotes logged without one)."""
    country: str | None = None
    """group_by=region: the delivery country (ISO 3166-1 alpha-2)."""


class PricingReport(msgspec.Struct, kw_only=True):
    group_by: str
    from_: date = msgspec.field(name="from")
    to: date
    rows: list[PricingRow]


class CommissionParts(msgspec.Struct, kw_only=True):
    seller_commission: Decimal
    category_commission: Decimal
    logistics_commission: Decimal
    total_commission: Decimal


class CommissionRow(msgspec.Struct, kw_only=True):
    key: str
    currency: str
    orders: int
    seller_commission: Decimal
    category_commission: Decimal
    logistics_commission: Decimal
    total_commission: Decimal
    goods: Decimal
    """The goods the row's commission was earned on (order lines after coupon discounts)."""
    average_rate: Decimal | None
    """total_commission / goods x 100 (2 decimals); null without goods."""
    reversed: CommissionParts
    """The commission refunds of these orders reversed, per part."""
    net: CommissionParts
    """Charged minus reversed, per part."""


class CommissionReport(msgspec.Struct, kw_only=True):
    group_by: str
    from_: date = msgspec.field(name="from")
    to: date
    rows: list[CommissionRow]


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
    # The default DEFAULT_DAYS days end at `to`, and begin no earlier than the first day there is.
    start = parse("from", raw_from) if raw_from else date.fromordinal(max(1, to.toordinal() - DEFAULT_DAYS + 1))
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


def day_bounds(start: date, to: date) -> tuple[datetime, datetime]:
    """[the first instant of `start`, the first instant after `to`) in UTC. No day follows
    9999-12-31: a range that ends with it ends at LAST_INSTANT, which nothing stored reaches."""
    after = datetime.combine(to, time(), UTC) + timedelta(days=1) if to < date.max else LAST_INSTANT
    return datetime.combine(start, time(), UTC), after


_DAY_KEY = "to_char({column}, 'YYYY-MM-DD')"


SETTLED_CACHE_SIZE = 256


def _pricing_row(group: str, key: str, currency: str, figures: list[Decimal]) -> PricingRow:
    quotes, orders, revenue_sum, discount, amount, refunds = figures
    revenue = Money(revenue_sum, currency).rounded()
    city, _, country = key.rpartition(", ") if group == "region" else (None, None, None)
    return PricingRow(
        key=key,
        currency=currency,
        quotes=int(quotes),
        orders=int(orders),
        conversion_rate=percent(orders, quotes),
        revenue=revenue.amount,
        discount=Money(discount, currency).rounded().amount,
        average_basket=(revenue / orders).rounded().amount if orders else None,
        refunds=Money(refunds, currency).rounded().amount,
        amount=Money(amount, currency).rounded().amount if group == "rule" else None,
        city=city or None,
        country=country or None,
    )


def _commission_row(key: str, currency: str, figures: list[Decimal]) -> CommissionRow:
    orders, seller, category, logistics, total, goods, *reversed_ = figures
    charged = (seller, category, logistics, total)

    def parts(values: Sequence[Decimal]) -> CommissionParts:
        s, c, lg, t = (Money(v, currency).rounded().amount for v in values)
        return CommissionParts(seller_commission=s, category_commission=c, logistics_commission=lg, total_commission=t)

    return CommissionRow(
        key=key,
        currency=currency,
        orders=int(orders),
        seller_commission=Money(seller, currency).rounded().amount,
        category_commission=Money(category, currency).rounded().amount,
        logistics_commission=Money(logistics, currency).rounded().amount,
        total_commission=Money(total, currency).rounded().amount,
        goods=Money(goods, currency).rounded().amount,
        average_rate=percent(total, goods),
        reversed=parts(reversed_),
        net=parts([a - b for a, b in zip(charged, reversed_, strict=True)]),
    )


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
        lo, hi = day_bounds(start, to)
        totals = await self.sums("pricing", group, lo, hi, now)
        rows = [_pricing_row(group, key, currency, figures) for (key, currency), figures in sorted(totals.items())]
        return PricingReport(group_by=group, from_=start, to=to, rows=rows)

    async def commission(self, group: str, start: date, to: date, *, now: datetime) -> CommissionReport:
        lo, hi = day_bounds(start, to)
        totals = await self.sums("commission", group, lo, hi, now)
        rows = [_commission_row(key, currency, figures) for (key, currency), figures in sorted(totals.items())]
        return CommissionReport(group_by=group, from_=start, to=to, rows=rows)

    async def flash_sale(self, sale_id: UUID, *, now: datetime, live_viewers: int = 0) -> FlashSaleReport:
        return await flash_sale_report(self.reads, sale_id, now=now, live_viewers=live_viewers)
