"""Experiments: every flag with variants, its arms' figures and statistics (docs/experiments.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import msgspec

from quote_service.analytics import distributions, health, stats
from quote_service.analytics.experiment_revenue import arm_revenue, revenue_moments
from quote_service.analytics.figures import percent
from quote_service.analytics.health import Revenue, SampleRatio
from quote_service.analytics.service import Analytics
from quote_service.errors import NotFound
from quote_service.periods import utc_period
from quote_service.pricing.flags import Guardrail, Rollout
from quote_service.pricing.money import Money, MoneyByCurrency


class VariantFigures(msgspec.Struct, kw_only=True):
    key: str
    exposures: int
    """Quotes that assigned this variant."""
    customers: int
    orders: int
    conversion_rate: Decimal | None
    revenue_per_quote: Decimal | None
    """Ordered goods per exposure, in the experiment's `currency`; null with no exposures or when
    the experiment's quotes span currencies (then see `revenue_per_quote_by_currency`)."""
    revenue_per_quote_by_currency: dict[str, Decimal]
    """Per currency: that currency's revenue over that currency's exposures."""
    lift: float | None
    """Relative change of conversion against the control, in % (null for the control)."""
    p_value: float | None
    """Fixed-horizon two-sided two-proportion z-test against the control (display only)."""
    ci95: list[float] | None
    """95 % interval of (variant - control) conversion, in percentage points."""
    revenue_p_value: float | None = None
    """Welch's t-test of revenue per quote against the control (display only); null for the
    control, an experiment spanning currencies, or too little data."""


class Experiment(msgspec.Struct, kw_only=True):
    key: str
    status: str
    """running, or rolled_back once the guardrail gave every user the control."""
    rolled_back_at: datetime | None
    control: str
    currency: str | None
    """The one currency of the experiment's quotes; null with none or several."""
    variants: list[VariantFigures]
    guardrail: Guardrail | None
    srm: SampleRatio | None = None
    """The split test (sample ratio mismatch); null once rolled back (the weights changed)."""


@dataclass(frozen=True)
class Measured:
    """An experiment as shown, and each arm's revenue per quote sample in its one currency."""

    experiment: Experiment
    revenue: dict[str, Revenue]
    """Empty when the experiment spans currencies."""


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


class _Arm:
    """One arm's exposures and orders, and its revenue and exposures per currency."""

    def __init__(self) -> None:
        self.quotes = 0
        self.orders = 0
        self.revenue = MoneyByCurrency()
        self.quotes_in: dict[str, int] = {}

    def add(self, currency: str, quotes: int, orders: int, revenue: Decimal) -> None:
        self.quotes += quotes
        self.orders += orders
        self.revenue.add(Money(revenue, currency))
        self.quotes_in[currency] = self.quotes_in.get(currency, 0) + quotes

    def revenue_per_quote(self) -> dict[str, Decimal]:
        """{currency: revenue / exposures} over the currencies with exposures."""
        return {
            m.currency: (m / self.quotes_in[m.currency]).rounded().amount
            for m in self.revenue
            if self.quotes_in[m.currency]
        }


def _arms(flag_key: str, totals: dict[tuple[str, str], list[Decimal]]) -> dict[str, _Arm]:
    """The flag's arms from the variant rollup sums ((`flag:variant`, currency) -> figures)."""
    arms: dict[str, _Arm] = {}
    for (arm_key, currency), figures in totals.items():
        flag, _, arm_name = arm_key.partition(":")
        if flag == flag_key:
            arms.setdefault(arm_name, _Arm()).add(currency, int(figures[0]), int(figures[1]), figures[2])
    return arms


def _figures(
    key: str, arm: _Arm, control: _Arm, is_control: bool, customers: dict[str, int], currency: str | None
) -> VariantFigures:
    quotes, orders = arm.quotes, arm.orders
    c_quotes, c_orders = control.quotes, control.orders
    test = None if is_control else stats.two_proportion_test(c_orders, c_quotes, orders, quotes)
    ci = None if is_control else stats.difference_ci95(c_orders, c_quotes, orders, quotes)
    lift = None
    if not is_control and c_quotes and quotes:
        lift = stats.lift_percent(c_orders / c_quotes, orders / quotes)
    per_quote = arm.revenue_per_quote()
    return VariantFigures(
        key=key,
        exposures=quotes,
        customers=customers.get(key, 0),
        orders=orders,
        conversion_rate=percent(orders, quotes),
        revenue_per_quote=per_quote.get(currency) if currency is not None else None,
        revenue_per_quote_by_currency=per_quote,
        lift=_round(lift),
        p_value=_round(test.p_value if test else None, 6),
        ci95=None if ci is None else [round(ci[0] * 100, 2), round(ci[1] * 100, 2)],
    )


class Experiments:
    def __init__(self, analytics: Analytics) -> None:
        self.analytics = analytics

    async def every(self, *, now: datetime) -> list[Experiment]:
        rows = await self.analytics.reads.for_read().fetch(
            "SELECT key, rollout, created_at, rolled_back_at FROM feature_flags"
            " WHERE jsonb_array_length(COALESCE(rollout->'variants', '[]')) > 0 ORDER BY key"
        )
        return [(await self._measured(r, now)).experiment for r in rows]

    async def get(self, key: str, *, now: datetime) -> Experiment:
        return (await self.measure(key, now=now)).experiment

    async def measure(self, key: str, *, now: datetime) -> Measured:
        """The experiment `key` with its arms' revenue samples (the guardrail's view)."""
        row = await self.analytics.reads.for_read().fetchrow(
            "SELECT key, rollout, created_at, rolled_back_at FROM feature_flags WHERE key = $1"
            " AND jsonb_array_length(COALESCE(rollout->'variants', '[]')) > 0",
            key,
        )
        if row is None:
            raise NotFound("no experiment with this key (a flag with variants)")
        return await self._measured(row, now)

    async def _measured(self, row: asyncpg.Record, now: datetime) -> Measured:
        await distributions.load_statistics()  # scipy's first import off the event loop
        key, created_at = row["key"], row["created_at"]
        rollout = msgspec.convert(row["rollout"], Rollout)
        lo = created_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        hi = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        totals = await self.analytics.sums("pricing", "variant", utc_period(lo, hi), now)
        customers = {
            r["variant"]: int(r["n"])
            for r in await self.analytics.reads.for_read().fetch(
                "SELECT variant, count(*) AS n FROM rollup_variant_customers WHERE flag_key = $1 GROUP BY variant", key
            )
        }
        arms = _arms(key, totals)
        currencies = sorted({currency for arm in arms.values() for currency in arm.revenue.currencies()})
        currency = currencies[0] if len(currencies) == 1 else None
        control = rollout.variants[0].key
        baseline = arms.get(control, _Arm())
        variants = [
            _figures(arm.key, arms.get(arm.key, _Arm()), baseline, arm.key == control, customers, currency)
            for arm in rollout.variants
        ]
        samples: dict[str, Revenue] = {}
        if currency is not None:
            exposures = {(name, currency): arm.quotes_in.get(currency, 0) for name, arm in arms.items()}
            samples = arm_revenue(
                exposures, await revenue_moments(self.analytics.reads.for_read(), key, lo, hi), currency
            )
        for figures in variants[1:]:
            if control in samples and figures.key in samples:
                figures.revenue_p_value = _round(health.revenue_p_value(samples[control], samples[figures.key]), 6)
        running = row["rolled_back_at"] is None
        experiment = Experiment(
            key=key,
            rolled_back_at=row["rolled_back_at"],
            status="running" if running else "rolled_back",
            control=control,
            currency=currency,
            variants=variants,
            guardrail=rollout.guardrail,
            srm=health.sample_ratio(customers, {arm.key: arm.weight for arm in rollout.variants}) if running else None,
        )
        return Measured(experiment, samples)
