"""Analytics reports: pricing, commission and flash-sale figures (docs/analytics.md).

Pricing and commission reports add rollup rows of clean closed hours to the same aggregation
computed live over the hours the rollups do not cover yet (marked dirty, or the current hour),
so they are exact whatever the background job's progress, and read only rollup rows for
settled history.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET, UnsetType

from quote_service.analytics.figures import percent
from quote_service.analytics.flash_report import FlashSaleReport, flash_sale_report
from quote_service.analytics.rollups import KINDS, RAW_HORIZON, ROWS_SETTINGS, hour_of, span_args
from quote_service.db.replica import ReadPools
from quote_service.errors import FieldError, ValidationFailed
from quote_service.periods import Period, Span, span_fields
from quote_service.pricing.money import Money
from quote_service.validation import LAST_INSTANT

PricingGroup = Literal["day", "product", "category", "rule", "variant", "region"]
CommissionGroup = Literal["day", "seller", "category", "logistics_provider"]
PRICING_GROUPS = ("day", "product", "category", "rule", "variant", "region")
COMMISSION_GROUPS = ("day", "seller", "category", "logistics_provider")
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


class PricingReport(Span, kw_only=True):
    group_by: str
    rows: list[PricingRow]


class CommissionParts(msgspec.Struct, kw_only=True):
    seller_commission: Decimal
    category_commission: Decimal
    logistics_commission: Decimal
    total_commission: Decimal
    fees: Decimal | UnsetType = UNSET
    """The named commission fees (docs/commission.md) in `total_commission`; only on a row with some."""


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
    fees: Decimal | UnsetType = UNSET
    """The named commission fees (payment_fee, platform_fee, ...) in `total_commission`: on the row's lines, and
    those charged once per shipment or order to the row's seller (docs/commission.md); only on a row with some."""


class CommissionReport(Span, kw_only=True):
    group_by: str
    rows: list[CommissionRow]


def check_group(group_by: str, allowed: tuple[str, ...]) -> str:
    if group_by not in allowed:
        message = f"must be one of {', '.join(allowed)}"
        raise ValidationFailed(f"group_by: {message}", details=[FieldError("group_by", message)])
    return group_by


SETTLED_CACHE_SIZE = 256
_DAY_START = "(day::timestamp AT TIME ZONE 'UTC')"
"""A daily rollup row's day as the instant it starts."""


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
    orders, seller, category, logistics, total, goods, *reversed_, fees, fees_reversed = figures
    charged = (seller, category, logistics, total)
    named = bool(fees or fees_reversed)  # docs/commission.md: a row without named fees reads as it always did

    def parts(values: Sequence[Decimal], fee: Decimal) -> CommissionParts:
        s, c, lg, t = (Money(v, currency).rounded().amount for v in values)
        return CommissionParts(
            seller_commission=s, category_commission=c, logistics_commission=lg, total_commission=t,
            fees=Money(fee, currency).rounded().amount if named else UNSET,
        )  # fmt: skip

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
        reversed=parts(reversed_, fees_reversed),
        net=parts([a - b for a, b in zip(charged, reversed_, strict=True)], fees - fees_reversed),
        fees=Money(fees, currency).rounded().amount if named else UNSET,
    )


class Plan:
    """Which source sums which hours of a report (`Analytics.sums`), from the report's bounds (its
    start, each of its local days' starts when it is by day, its end) and the rollups' state.

    - A whole UTC hour that no bound cuts belongs to one of the report's spans: it comes from the
      hourly rollups when closed and clean, else live (a dirty hour, the current hour).
    - When every bound inside the period is a UTC midnight (UTC days, or a zone at UTC+0, or a
      report not by day), a whole UTC day that the period holds, closed and clean, comes from the
      daily rollups instead of its 24 hourly rows.
    - An hour that a bound cuts (a period from or to an instant inside an hour; the local
      midnights of a zone whose offset is not whole hours, Asia/Kolkata's at 18:30 UTC) is
      computed live in pieces, one per span it meets: exact, at the price of reading its rows. The
      pieces and the live whole hours are read in one statement (`Analytics.sums`).
    Hours after the current one hold no rows yet and are not read.
    """

    def __init__(self, bounds: list[datetime], *, dirty: list[datetime], current: datetime) -> None:
        self.bounds = bounds
        start, end = bounds[0], bounds[-1]
        cut = sorted({hour_of(b) for b in bounds if b != hour_of(b) and hour_of(b) <= current})
        first_whole, last_whole = _ceil_hour(start), min(hour_of(end), current + HOUR)
        dirty_set = set(dirty)
        self.live = sorted({h for h in (*dirty, current) if first_whole <= h < last_whole and h not in cut})
        """Whole hours computed live (their rows are changing or not rolled up yet)."""
        self.pieces: list[tuple[datetime, datetime, datetime]] = []
        """(hour, from, to): a part of a cut hour that lies in one span, computed live."""
        for hour in cut:
            edges = sorted({max(hour, start), min(hour + HOUR, end)} | {b for b in bounds if hour < b < hour + HOUR})
            self.pieces += [(hour, a, b) for a, b in pairwise(edges) if start <= a < b <= end]
        self.daily: tuple[date, date, tuple[date, ...]] | None = None
        """(first, after, skipped): the UTC days [first, after) but `skipped` come from daily rollups."""
        covered: list[tuple[datetime, datetime]] = []
        today = current.date()
        if all(b == _midnight(b) for b in bounds[1:-1]):
            first_day, after = _ceil_day(start).date(), min(_midnight(end).date(), today)
            if first_day < after:
                skipped = tuple(sorted({h.astimezone(UTC).date() for h in dirty_set if first_day <= h.date() < after}))
                self.daily = (first_day, after, skipped)
                covered = [
                    (datetime.combine(day, time(), UTC), datetime.combine(day, time(), UTC) + DAY)
                    for day in _days(first_day, after)
                    if day not in skipped
                ]
        holes = sorted(covered + [(hour, hour + HOUR) for hour in cut] + [(current, current + HOUR)])
        self.hourly = [
            hour
            for a, b in _subtract((first_whole, min(last_whole, current)), holes)
            for hour in _hours(a, b)
            if hour not in dirty_set
        ]
        """Whole hours read from the hourly rollups, ascending (named one by one: the index finds each
        hour's rows, where a range join over a month's rows was read as a scan of them all)."""

    def day_index(self, moment: datetime) -> int:
        """Which of the report's spans holds `moment` (0 = the first)."""
        return bisect_right(self.bounds, moment) - 1


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time(), UTC)


def _ceil_hour(moment: datetime) -> datetime:
    return _ceil(hour_of(moment), moment, HOUR)


def _ceil_day(moment: datetime) -> datetime:
    return _ceil(_midnight(moment), moment, DAY)


def _ceil(floor: datetime, moment: datetime, step: timedelta) -> datetime:
    """`floor` when it is `moment`, else the next step; past the last storable instant, that instant."""
    if floor == moment:
        return floor
    return floor + step if LAST_INSTANT - floor > step else LAST_INSTANT


def _hours(first: datetime, after: datetime) -> list[datetime]:
    return [first + HOUR * n for n in range((after - first) // HOUR)]


def _days(first: date, after: date) -> list[date]:
    return [date.fromordinal(n) for n in range(first.toordinal(), after.toordinal())]


def _subtract(
    span: tuple[datetime, datetime], holes: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """`span` less the sorted `holes`, as ascending disjoint spans, merged where they touch."""
    found: list[tuple[datetime, datetime]] = []
    position, end = span
    for a, b in holes:
        if b <= position:
            continue
        if a >= end:
            break
        if a > position:
            found.append((position, a))
        position = max(position, b)
    if position < end:
        found.append((position, end))
    return found


def _bucketed(row: asyncpg.Record, by_day: bool) -> tuple[int | str, str, Sequence[Decimal | None]]:
    """A rollup row as (span index or key, currency, figures); SQL's width_bucket counts from 1."""
    key: int | str = row["k"] - 1 if by_day else row["k"]
    return key, row["currency"], row[2:]


class Analytics:
    def __init__(self, reads: ReadPools) -> None:
        self.reads = reads
        """Every report reads the replica when it is within the lag bound (docs/deployment.md)."""
        # Daily-rollup sums of settled days, by query and rollup generation: those rows change only
        # when the job rewrites rollups, and every rewrite moves the generation on.
        self._settled: dict[tuple[object, ...], list[asyncpg.Record]] = {}

    def reset(self) -> None:
        """Forget the settled days' sums (a started app the tests reuse, after emptying the tables)."""
        self._settled.clear()

    async def sums(self, kind: str, group: str, period: Period, now: datetime) -> dict[Key, list[Decimal]]:
        """(key, currency) -> summed figures over the period; for group "day" the key is the local
        date (`period.zone_name`) of the day. Three sources never overlap (`Plan`): daily rollups of
        settled UTC days that lie whole in one of the report's days, hourly rollups of the other
        clean closed hours that do, and the SQL of the rollups run live over the rest (dirty
        hours, the current hour, and the parts of an hour that a day's bound cuts)."""
        k = KINDS[kind]
        dim = "all" if group == "day" else group
        by_day = group == "day"
        bounds = list(period.day_starts) if by_day else [period.start, period.end]
        current = hour_of(now)
        totals: dict[Key, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(k.figures))
        async with self.reads.for_read().acquire() as conn:
            dirty = [
                r["hour"]
                for r in await conn.fetch(
                    "SELECT DISTINCT hour FROM rollup_dirty WHERE kind = $1 AND hour >= $2"
                    " AND hour < LEAST($3::timestamptz, $4::timestamptz)"
                    # Hours whose raw rows retention dropped read the rollups alone (rollups.RAW_HORIZON).
                    f" AND hour >= {RAW_HORIZON}",
                    kind,
                    hour_of(period.start),
                    period.end,
                    current,
                )
            ]
            plan = Plan(bounds, dirty=dirty, current=current)
            bucket = "width_bucket({column}, ${bounds}::timestamptz[])" if by_day else "key"
            found: list[tuple[int | str, str, Sequence[Decimal | None]]] = []
            if plan.daily is not None:
                first, last, skipped = plan.daily
                generation = await conn.fetchval("SELECT last_value FROM rollup_generation")
                cache_key = (kind, dim, tuple(bounds) if by_day else None, first, last, skipped, generation)
                settled = self._settled.get(cache_key)
                if settled is None:
                    settled = await conn.fetch(
                        f"SELECT {bucket.format(column=_DAY_START, bounds=5)} AS k, currency,"
                        f" {k.sums} FROM {k.daily}"
                        " WHERE dim = $1 AND day >= $2 AND day < $3 AND day <> ALL($4::date[]) GROUP BY 1, 2",
                        dim,
                        first,
                        last,
                        list(skipped),
                        *([bounds] if by_day else []),
                    )
                    if len(self._settled) >= SETTLED_CACHE_SIZE:
                        self._settled.clear()
                    self._settled[cache_key] = settled
                found += [_bucketed(row, by_day) for row in settled]
            if plan.hourly:
                rows = await conn.fetch(
                    f"SELECT {bucket.format(column='hour', bounds=3)} AS k, currency, {k.sums} FROM {k.hourly}"
                    " WHERE dim = $1 AND hour = ANY($2::timestamptz[]) GROUP BY 1, 2",
                    dim,
                    plan.hourly,
                    *([bounds] if by_day else []),
                )
                found += [_bucketed(row, by_day) for row in rows]
            # The live hours and the pieces of cut hours in one statement: each is a span of the rows
            # SQL, whose `hour` is the span's start (so a piece's start says which day it is of).
            spans = [(hour, hour + HOUR) for hour in plan.live] + [(a, b) for _, a, b in plan.pieces]
            if spans:
                live = f"SELECT {'hour' if by_day else 'key'} AS k, currency, {k.sums} FROM ({k.rows_sql}) r"
                live += " WHERE dim = $5 GROUP BY 1, 2"
                async with conn.transaction(readonly=True):
                    await conn.execute(ROWS_SETTINGS)
                    rows = await conn.fetch(live, *span_args(spans), dim)
                for row in rows:
                    found.append((plan.day_index(row["k"]) if by_day else row["k"], row["currency"], row[2:]))
        for key, currency, values in found:
            label = (period.first_day + timedelta(days=key)).isoformat() if isinstance(key, int) else key
            figures = totals[(label, currency)]
            for i in range(len(k.figures)):
                figures[i] += values[i] or 0
        return totals

    async def pricing(self, group: str, period: Period, *, now: datetime) -> PricingReport:
        totals = await self.sums("pricing", group, period, now)
        rows = [_pricing_row(group, key, currency, figures) for (key, currency), figures in sorted(totals.items())]
        return PricingReport(group_by=group, rows=rows, **span_fields(period))

    async def commission(self, group: str, period: Period, *, now: datetime) -> CommissionReport:
        totals = await self.sums("commission", group, period, now)
        rows = [_commission_row(key, currency, figures) for (key, currency), figures in sorted(totals.items())]
        return CommissionReport(group_by=group, rows=rows, **span_fields(period))

    async def flash_sale(self, sale_id: UUID, *, now: datetime, live_viewers: int = 0) -> FlashSaleReport:
        return await flash_sale_report(self.reads, sale_id, now=now, live_viewers=live_viewers)
