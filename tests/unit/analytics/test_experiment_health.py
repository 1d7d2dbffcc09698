"""Experiment health statistics (analytics/health.py), against values worked out by hand.

The chi-square of one degree of freedom has the closed form p = erfc(sqrt(x / 2)); both tests are
checked against scipy.stats's own (chisquare; ttest_ind over the raw samples the moments
summarise, so the moments, the variance and the degrees of freedom are ours to get right) and,
for large samples, Welch's against the normal approximation.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest
from scipy import stats as scipy_stats

from quote_service.analytics.health import Revenue, revenue_p_value, revenue_verdict, sample_ratio


def chi2_one_df(observed: list[int], expected: list[float]) -> float:
    x = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    return math.erfc(math.sqrt(x / 2))


def test_a_fair_split_is_no_mismatch_and_a_skewed_one_is() -> None:
    fair = sample_ratio({"control": 550, "savings": 450}, {"control": 50, "savings": 50})
    skewed = sample_ratio({"control": 560, "savings": 440}, {"control": 50, "savings": 50})

    # chi-square 10.0: p = 0.00157, not below 0.001; 14.4: p = 0.000148.
    assert fair.p_value == pytest.approx(chi2_one_df([550, 450], [500, 500]), rel=1e-9)
    assert fair.p_value == pytest.approx(0.001565, abs=1e-6)
    assert fair.mismatch is False
    assert skewed.p_value == pytest.approx(chi2_one_df([560, 440], [500, 500]), rel=1e-9)
    assert skewed.mismatch is True
    assert (skewed.expected, skewed.observed) == (
        {"control": 500.0, "savings": 500.0},
        {"control": 560, "savings": 440},
    )


def test_three_arms_agree_with_scipy_stats_chisquare() -> None:
    split = sample_ratio({"a": 520, "b": 470, "c": 1010}, {"a": 1, "b": 1, "c": 2})

    expected = scipy_stats.chisquare([520, 470, 1010], [500, 500, 1000]).pvalue
    assert split.p_value == pytest.approx(float(expected), rel=1e-9)


def test_expected_counts_follow_the_weights_and_arms_of_weight_zero_take_no_part() -> None:
    split = sample_ratio({"a": 760, "b": 240, "off": 9}, {"a": 3, "b": 1, "off": 0})

    assert split.expected == {"a": 750.0, "b": 250.0}
    assert split.observed == {"a": 760, "b": 240}
    assert split.p_value == pytest.approx(chi2_one_df([760, 240], [750, 250]), rel=1e-9)
    assert split.mismatch is False


def test_no_customers_or_one_arm_is_no_test() -> None:
    assert sample_ratio({}, {"a": 1, "b": 1}).p_value is None
    assert sample_ratio({}, {"a": 1, "b": 1}).mismatch is False
    assert sample_ratio({"a": 10}, {"a": 1, "b": 0}).p_value is None


def moments(values: list[Decimal]) -> Revenue:
    return Revenue(len(values), sum(values, Decimal(0)), sum((v * v for v in values), Decimal(0)))


def test_welch_from_our_moments_equals_welch_over_the_raw_samples() -> None:
    rng = random.Random(5)
    control = [Decimal(rng.choice(["0", "0", "0", "25.50", "80.00"])) for _ in range(400)]
    variant = [Decimal(rng.choice(["0", "0", "0", "0", "25.50", "120.00"])) for _ in range(300)]

    expected = scipy_stats.ttest_ind([float(v) for v in control], [float(v) for v in variant], equal_var=False).pvalue

    assert revenue_p_value(moments(control), moments(variant)) == pytest.approx(float(expected), rel=1e-9)


def test_welch_is_close_to_the_normal_approximation_for_large_samples() -> None:
    control = Revenue(20_000, Decimal("120000"), Decimal("7200000"))  # 2000 orders of 60.00: mean 6
    variant = Revenue(20_000, Decimal("110400"), Decimal("6624000"))  # 1840 orders of 60.00: mean 5.52
    mean_c, mean_v = 6.0, 5.52
    var_c = (7_200_000 - 20_000 * mean_c**2) / 19_999
    var_v = (6_624_000 - 20_000 * mean_v**2) / 19_999
    z = (mean_v - mean_c) / math.sqrt(var_c / 20_000 + var_v / 20_000)

    assert revenue_p_value(control, variant) == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-3)


def test_no_variance_or_too_few_exposures_is_no_test() -> None:
    assert revenue_p_value(Revenue(100, Decimal(0), Decimal(0)), Revenue(100, Decimal(0), Decimal(0))) is None
    assert revenue_p_value(Revenue(1, Decimal(5), Decimal(25)), Revenue(100, Decimal(50), Decimal(2500))) is None


def arm(quotes: int, orders: int, amount: str) -> Revenue:
    value = Decimal(amount)
    return Revenue(quotes, value * orders, value * value * orders)


@pytest.mark.parametrize(
    ("control", "variant", "drop", "least", "rolled_back"),
    [
        (arm(2000, 400, "30.00"), arm(2000, 400, "10.00"), 20, 1000, True),  # 6.00 -> 2.00 a quote
        (arm(2000, 400, "30.00"), arm(2000, 400, "10.00"), 20, 2001, False),  # too few exposures
        (arm(2000, 400, "30.00"), arm(2000, 400, "10.00"), 70, 1000, False),  # -66.7 % is within 70 %
        (arm(2000, 400, "10.00"), arm(2000, 400, "30.00"), 20, 1000, False),  # the variant earns more
        (arm(200, 40, "30.00"), arm(1000, 160, "26.00"), 10, 100, False),  # -30.7 %, not significant yet
        (arm(2000, 0, "30.00"), arm(2000, 0, "10.00"), 20, 1000, False),  # nothing earned: nothing to fall below
    ],
)
def test_the_revenue_guardrail_needs_every_condition(
    control: Revenue, variant: Revenue, drop: float, least: int, rolled_back: bool
) -> None:
    verdict = revenue_verdict(control, variant, max_drop_percent=drop, min_exposures=least)

    assert (verdict is not None) is rolled_back
    if verdict is not None:
        assert verdict.lift == pytest.approx(-66.67, abs=0.01)
        assert verdict.sequential_p < 0.05
