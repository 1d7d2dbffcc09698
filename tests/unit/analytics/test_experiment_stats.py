"""Experiment statistics against values computed by hand (docs/experiments.md).

Control 100/1000 (10 %), variant 70/1000 (7 %):
- pooled p = 170/2000 = 0.085; se = sqrt(0.085 x 0.915 x (1/1000 + 1/1000)) = 0.0124720;
  z = (0.07 - 0.10) / se = -2.40539; p = 2 (1 - Phi(2.40539)) = 0.016155;
- V = 0.1 x 0.9 / 1000 + 0.07 x 0.93 / 1000 = 0.0001551; 1.96 sqrt(V) = 0.024409:
  CI = [-0.054409, -0.005591];
- mSPRT, tau = 0.05: sqrt(V / (V + 0.0025)) = 0.241695; exponent = 0.0025 x 0.0009 /
  (2 V (V + 0.0025)) = 2.731894; ratio = 0.241695 x e^2.731894 = 3.71280; p = 1 / 3.7128 = 0.26934.

The z-test's tail and the interval's quantile are also checked against scipy.stats.norm.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from quote_service.analytics.stats import (
    arm_variance,
    difference_ci95,
    lift_percent,
    msprt,
    should_roll_back,
    two_proportion_test,
)


def test_two_proportion_z_test() -> None:
    test = two_proportion_test(100, 1000, 70, 1000)
    assert test is not None
    assert test.z == pytest.approx(-2.40539, abs=1e-5)
    assert test.p_value == pytest.approx(0.016155, abs=1e-6)
    assert two_proportion_test(0, 0, 1, 10) is None
    assert two_proportion_test(0, 10, 0, 10) is None  # no variance


@pytest.mark.parametrize("figures", [(100, 1000, 70, 1000), (5, 40, 9, 35), (4000, 90000, 3700, 90000), (1, 3, 0, 2)])
def test_the_z_test_and_interval_agree_with_scipy_stats_norm(figures: tuple[int, int, int, int]) -> None:
    c_hits, c_n, v_hits, v_n = figures
    test = two_proportion_test(*figures)
    assert test is not None
    assert test.p_value == 2 * scipy_stats.norm.sf(abs(test.z))
    low, high = difference_ci95(*figures) or (0, 0)
    p1, p2 = c_hits / c_n, v_hits / v_n
    half = scipy_stats.norm.ppf(0.975) * math.sqrt(p1 * (1 - p1) / c_n + p2 * (1 - p2) / v_n)
    assert (low, high) == (p2 - p1 - half, p2 - p1 + half)


def test_confidence_interval_of_the_difference() -> None:
    low, high = difference_ci95(100, 1000, 70, 1000) or (0, 0)
    assert low == pytest.approx(-0.054409, abs=1e-6)
    assert high == pytest.approx(-0.005591, abs=1e-6)


def test_lift() -> None:
    assert lift_percent(0.10, 0.07) == pytest.approx(-30.0)
    assert lift_percent(0.0, 0.07) is None


def test_msprt_by_hand_and_stricter_than_the_fixed_horizon_p_value() -> None:
    test = msprt(100, 1000, 70, 1000)
    assert test is not None
    assert test.likelihood_ratio == pytest.approx(3.71280, abs=1e-4)
    assert test.p_value == pytest.approx(0.26934, abs=1e-4)
    # The same rates with 10x the data: the evidence is overwhelming.
    big = msprt(1000, 10000, 700, 10000)
    assert big is not None
    assert big.p_value < 1e-6


def test_guardrail_rolls_back_only_when_every_condition_holds() -> None:
    rule = {"max_drop_percent": 10.0, "min_exposures": 5000}
    assert should_roll_back(1000, 10000, 700, 10000, **rule)  # -30 %, significant, enough exposures
    assert not should_roll_back(1000, 10000, 700, 4999, **rule)  # below min_exposures
    assert not should_roll_back(1000, 10000, 700, 10000, max_drop_percent=35.0, min_exposures=5000)  # drop too small
    # -30 % with 1000 exposures each: fixed-horizon p = 0.016, but the sequential p = 0.27 >= 0.05.
    assert not should_roll_back(100, 1000, 70, 1000, max_drop_percent=10.0, min_exposures=1000)
    assert not should_roll_back(1000, 10000, 1300, 10000, **rule)  # better, not worse


def test_an_arm_at_0_or_100_percent_gets_the_corrected_variance() -> None:
    # 1000/1000: p = 1000.5/1001 = 0.99950050; p(1 - p)/n = 0.99950050 x 0.00049950 / 1000 = 4.99251e-7.
    assert arm_variance(1000, 1000) == pytest.approx(4.99251e-7, rel=1e-5)
    assert arm_variance(0, 1000) == pytest.approx(4.99251e-7, rel=1e-5)  # 0.5/1001, symmetric
    # 3/3: p = 3.5/4 = 0.875; 0.875 x 0.125 / 3 = 0.0364583 (wide: three exposures say little).
    assert arm_variance(3, 3) == pytest.approx(0.0364583, rel=1e-5)
    assert arm_variance(70, 1000) == pytest.approx(0.07 * 0.93 / 1000)  # inside (0, 1): unchanged


def test_control_at_100_percent_against_a_lower_variant_is_rolled_back() -> None:
    """The case that never rolled back: both arms at a boundary gave a zero variance, no test."""
    rule = {"max_drop_percent": 20.0, "min_exposures": 1000}
    total_loss = msprt(1000, 1000, 0, 1000)
    assert total_loss is not None
    assert total_loss.difference == -1.0
    assert total_loss.p_value < 1e-100
    assert should_roll_back(1000, 1000, 0, 1000, **rule)
    # 1000/1000 against 900/1000: V = 4.99251e-7 + 0.9 x 0.1 / 1000 = 9.04993e-5, d = -0.1;
    # ln Λ = ½ ln(V / (V + 0.0025)) + 0.0025 x 0.01 / (2 V (V + 0.0025)) = -1.67713 + 53.31895 = 51.64182.
    ninety = msprt(1000, 1000, 900, 1000)
    assert ninety is not None
    assert math.log(ninety.likelihood_ratio) == pytest.approx(51.64182, abs=1e-4)
    assert should_roll_back(1000, 1000, 900, 1000, max_drop_percent=5.0, min_exposures=1000)


@pytest.mark.parametrize(
    ("figures", "why"),
    [
        ((0, 1000, 0, 1000), "both convert 0 %: no rate to fall below"),
        ((1000, 1000, 1000, 1000), "both convert 100 %: no difference"),
        ((3, 3, 900, 1000), "a 3-quote control at 100 % is no evidence (uncorrected: p ~ 1e-23)"),
        ((1, 1, 0, 1000), "one quote of control"),
        ((2, 2, 0, 2), "tiny samples on both sides"),
    ],
)
def test_degenerate_samples_never_roll_back(figures: tuple[int, int, int, int], why: str) -> None:
    assert not should_roll_back(*figures, max_drop_percent=5.0, min_exposures=1), why
    test = msprt(*figures)
    assert test is not None, why  # a test on any data: never "no answer"
    assert test.p_value > 0.05, why


def test_equal_boundary_arms_are_no_difference_at_all() -> None:
    for hits in (0, 1000):
        test = msprt(hits, 1000, hits, 1000)
        assert test is not None
        assert test.difference == 0
        assert test.p_value == 1.0
