"""Experiments: every flag with variants, its arms' figures and statistics (docs/experiments.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import msgspec

from quote_service.analytics import health, stats
from quote_service.analytics.experiment_revenue import arm_revenue, revenue_moments
from quote_service.analytics.health import Revenue, SampleRatio
from quote_service.analytics.service import Analytics, percent
from quote_service.errors import NotFound
from quote_service.pricing import money
from quote_service.pricing.flags import Guardrail, Rollout


class VariantFigures(msgspec.Struct, kw_only=True):
    key: str
    exposures: int
    """Quotes that assigned this variant."""
    customers: int
    orders: int
    conversion_rate: Decimal | None
    revenue_per_quote: Decimal | None
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
        key, created_at = row["key"], row["created_at"]
        rollout = msgspec.convert(row["rollout"], Rollout)
        lo = created_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        hi = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        totals = await self.analytics.sums("pricing", "variant", lo, hi, now)
        customers = {
            r["variant"]: int(r["n"])
            for r in await self.analytics.reads.for_read().fetch(
                "SELECT variant, count(*) AS n FROM rollup_variant_customers WHERE flag_key = $1 GROUP BY variant", key
            )
        }
        by_arm: dict[str, tuple[int, int, Decimal]] = {}
        exposures: dict[tuple[str, str], int] = {}
        currency = None
        for (arm_key, arm_currency), figures in totals.items():
            flag, _, arm_name = arm_key.partition(":")
            if flag != key:
                continue
            currency = currency or arm_currency  # one currency per experiment is the expected case
            q, o, r = by_arm.get(arm_name, (0, 0, Decimal(0)))
            by_arm[arm_name] = (q + int(figures[0]), o + int(figures[1]), r + figures[2])
            exposures[arm_name, arm_currency] = int(figures[0])
        single = len({in_currency for _, in_currency in exposures}) == 1
        moments = await revenue_moments(self.analytics.reads.for_read(), key, lo, hi) if single else {}
        samples = arm_revenue(exposures, moments, currency) if single and currency is not None else {}
        control = rollout.variants[0].key
        c_quotes, c_orders, _ = by_arm.get(control, (0, 0, Decimal(0)))
        variants = []
        for arm in rollout.variants:
            quotes, orders, revenue = by_arm.get(arm.key, (0, 0, Decimal(0)))
            is_control = arm.key == control
            test = None if is_control else stats.two_proportion_test(c_orders, c_quotes, orders, quotes)
            ci = None if is_control else stats.difference_ci95(c_orders, c_quotes, orders, quotes)
            lift = None
            if not is_control and c_quotes and quotes:
                lift = stats.lift_percent(c_orders / c_quotes, orders / quotes)
            revenue_test = None
            if not is_control and control in samples and arm.key in samples:
                revenue_test = health.revenue_p_value(samples[control], samples[arm.key])
            variants.append(
                VariantFigures(
                    key=arm.key,
                    exposures=quotes,
                    customers=customers.get(arm.key, 0),
                    orders=orders,
                    conversion_rate=percent(orders, quotes),
                    revenue_per_quote=money.round_money(revenue / quotes, currency or "TRY") if quotes else None,
                    lift=_round(lift),
                    p_value=_round(test.p_value if test else None, 6),
                    ci95=None if ci is None else [round(ci[0] * 100, 2), round(ci[1] * 100, 2)],
                    revenue_p_value=_round(revenue_test, 6),
                )
            )
        running = row["rolled_back_at"] is None
        weights = {arm.key: arm.weight for arm in rollout.variants}
        experiment = Experiment(
            key=key,
            rolled_back_at=row["rolled_back_at"],
            status="running" if running else "rolled_back",
            control=control,
            currency=currency,
            variants=variants,
            guardrail=rollout.guardrail,
            srm=health.sample_ratio(customers, weights) if running else None,
        )
        return Measured(experiment, samples)
