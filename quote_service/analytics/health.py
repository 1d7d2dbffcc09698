"""Experiment health (docs/experiments.md#health): pure statistics.

- `sample_ratio`: is the split the one configured? Pearson's chi-square of the customers each
  variant was assigned against the weights; `mismatch` when p < 0.001 (a broken assignment,
  not chance: the guardrail stops judging until it clears).
- `revenue_p_value`: does a variant's revenue per quote differ from the control's? Welch's
  t-test (unequal variances) over every exposure, ordered or not (an unordered quote is 0).
- `revenue_verdict`: the guardrail on revenue per quote, judged by a mixture sequential test
  that stays valid however often it looks (`stats.mixture_ratio`).

The two statistics are the textbook one-liners; their distributions (chi-square and Student's t
tails) are scipy's special functions, imported on first use (`distributions`: async callers await
`distributions.load_statistics()` first, which imports scipy in a thread).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import NamedTuple

import msgspec

from quote_service.analytics import stats
from quote_service.analytics.distributions import chi_square_tail, t_two_sided

SRM_ALPHA = 0.001
"""p below this is a sample ratio mismatch."""
GUARDRAIL_ALPHA = 0.05


class SampleRatio(msgspec.Struct, kw_only=True):
    """The split test: customers observed per variant against those the weights expect."""

    p_value: float | None
    """Chi-square test of `observed` against `expected`; null with no customers or fewer than two arms in play."""
    expected: dict[str, float]
    observed: dict[str, int]
    mismatch: bool
    """p_value < 0.001."""


def sample_ratio(observed: Mapping[str, int], weights: Mapping[str, int]) -> SampleRatio:
    """Customers per variant against the configured weights (arms of weight 0 take no part)."""
    arms = [arm for arm, weight in weights.items() if weight > 0]
    counts = {arm: observed.get(arm, 0) for arm in arms}
    total, weight_sum = sum(counts.values()), sum(weights[arm] for arm in arms)
    expected = {arm: total * weights[arm] / weight_sum for arm in arms} if weight_sum else {}
    p_value = None
    if len(arms) >= 2 and total > 0:
        statistic = sum((counts[arm] - expected[arm]) ** 2 / expected[arm] for arm in arms)
        p_value = chi_square_tail(statistic, len(arms) - 1)
    return SampleRatio(
        p_value=p_value,
        expected={arm: round(value, 2) for arm, value in expected.items()},
        observed=counts,
        mismatch=p_value is not None and p_value < SRM_ALPHA,
    )


class Revenue(NamedTuple):
    """One arm's revenue per quote as a sample: exposures, their revenue and its sum of squares."""

    exposures: int
    total: Decimal
    squares: Decimal

    def mean(self) -> float:
        return float(self.total) / self.exposures

    def variance(self) -> float:
        """The sample variance (n - 1) of revenue per quote; 0 for fewer than two exposures."""
        n = self.exposures
        if n < 2:
            return 0.0
        # Exact in Decimal first: a large mean would lose the variance to float cancellation.
        return max(0.0, float((self.squares - self.total * self.total / n) / (n - 1)))


def revenue_p_value(control: Revenue, variant: Revenue) -> float | None:
    """Welch's two-sided t-test of the variant's revenue per quote against the control's; None
    with fewer than two exposures on a side or no variance at all."""
    if control.exposures < 2 or variant.exposures < 2:
        return None
    a, b = control.variance() / control.exposures, variant.variance() / variant.exposures
    if a + b <= 0:
        return None
    statistic = (variant.mean() - control.mean()) / math.sqrt(a + b)
    # Welch-Satterthwaite degrees of freedom.
    degrees = (a + b) ** 2 / (a * a / (control.exposures - 1) + b * b / (variant.exposures - 1))
    return t_two_sided(statistic, degrees)


class RevenueVerdict(NamedTuple):
    """Why a variant's revenue per quote makes the guardrail roll it back."""

    lift: float
    sequential_p: float
    likelihood_ratio: float


def revenue_verdict(
    control: Revenue, variant: Revenue, *, max_drop_percent: float, min_exposures: int
) -> RevenueVerdict | None:
    """The guardrail on revenue per quote: the variant has `min_exposures`, earns less per quote
    than the control by more than `max_drop_percent` (relative), and the mixture sequential
    test (mixing scale: that drop of the control's mean) rejects "no difference" at 5 %."""
    if variant.exposures < min_exposures or control.exposures < 2 or variant.exposures < 2:
        return None
    control_mean, variant_mean = control.mean(), variant.mean()
    lift = stats.lift_percent(control_mean, variant_mean)
    if lift is None or control_mean <= 0 or -lift <= max_drop_percent:
        return None
    variance = control.variance() / control.exposures + variant.variance() / variant.exposures
    if variance <= 0:
        return None
    test = stats.mixture_ratio(variant_mean - control_mean, variance, tau=control_mean * max_drop_percent / 100)
    if test.difference >= 0 or test.p_value >= GUARDRAIL_ALPHA:
        return None
    return RevenueVerdict(lift=lift, sequential_p=test.p_value, likelihood_ratio=test.likelihood_ratio)
