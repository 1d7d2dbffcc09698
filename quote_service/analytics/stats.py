"""Experiment statistics: pure functions (docs/experiments.md).

Conversion of a variant is compared with the control's:
- `two_proportion_test`: the fixed-horizon two-sided z-test (pooled standard error), shown
  for display;
- `difference_ci95`: the 95 % interval of the difference in conversion (unpooled, Wald);
- `msprt`: the mixture sequential probability ratio test (normal mixing distribution on the
  difference), which stays valid however often it is looked at — what the guardrail uses.

An arm that converts 0 % or 100 % has no sample variance, and the normal approximation would
call any difference from it certain (or, with both arms at a boundary, give no test at all: a
control converting 100 % against a variant converting 0 % was never rolled back). The
sequential test therefore takes such an arm's variance at (hits + ½) / (n + 1) (the
Haldane-Anscombe correction): never zero, and large for a tiny sample, so 3 of 3 against
900 of 1000 is no evidence, while 1000 of 1000 against 0 of 1000 is overwhelming.

The formulas are written out here; the normal tail and quantile they need come from scipy
(`distributions`, imported on first use). The mixture SPRT is a closed formula and needs no
distribution function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from quote_service.analytics.distributions import normal_quantile, normal_two_sided


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float


def two_proportion_test(control_hits: int, control_n: int, variant_hits: int, variant_n: int) -> ZTest | None:
    """Two-sided pooled z-test of variant vs control conversion; None without data on a side or
    when both convert at 0 % or 100 % (no variance)."""
    if control_n <= 0 or variant_n <= 0:
        return None
    pooled = (control_hits + variant_hits) / (control_n + variant_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / control_n + 1 / variant_n))
    if se == 0:
        return None
    z = (variant_hits / variant_n - control_hits / control_n) / se
    return ZTest(z=z, p_value=normal_two_sided(z))


def difference_ci95(control_hits: int, control_n: int, variant_hits: int, variant_n: int) -> tuple[float, float] | None:
    """95 % interval of (variant - control) conversion, as fractions; None without data."""
    if control_n <= 0 or variant_n <= 0:
        return None
    p1, p2 = control_hits / control_n, variant_hits / variant_n
    half = normal_quantile(0.975) * math.sqrt(p1 * (1 - p1) / control_n + p2 * (1 - p2) / variant_n)
    return (p2 - p1 - half, p2 - p1 + half)


def lift_percent(control_rate: float, variant_rate: float) -> float | None:
    """Relative change of the variant's rate against the control's, in %; None when control is 0."""
    if control_rate == 0:
        return None
    return (variant_rate - control_rate) / control_rate * 100


def arm_variance(hits: int, n: int) -> float:
    """The variance of one arm's conversion, p(1 - p)/n; at 0 % or 100 % (no sample variance)
    p is taken as (hits + 1/2)/(n + 1), so it is never zero and stays wide for tiny samples."""
    p = hits / n
    if hits <= 0 or hits >= n:
        p = (hits + 0.5) / (n + 1)
    return p * (1 - p) / n


@dataclass(frozen=True)
class Sequential:
    likelihood_ratio: float
    p_value: float
    """Always-valid p-value of this look: min(1, 1 / likelihood ratio)."""
    difference: float


def msprt(
    control_hits: int, control_n: int, variant_hits: int, variant_n: int, *, tau: float = 0.05
) -> Sequential | None:
    """Mixture SPRT of H0 "same conversion" with a N(0, tau²) mixture over the difference
    (Johari, Pekelis, Walsh: "Always valid inference"), on the normal approximation:

        Λ = sqrt(V / (V + tau²)) · exp(tau² · d² / (2 · V · (V + tau²)))

    with d the observed difference and V its variance. Rejecting when Λ >= 1/alpha keeps the
    false-alarm rate below alpha however many times the test is repeated as data arrives.
    An arm at 0 % or 100 % contributes its corrected variance (`arm_variance`). None without
    data on a side."""
    if control_n <= 0 or variant_n <= 0:
        return None
    variance = arm_variance(control_hits, control_n) + arm_variance(variant_hits, variant_n)
    return mixture_ratio(variant_hits / variant_n - control_hits / control_n, variance, tau=tau)


def mixture_ratio(difference: float, variance: float, *, tau: float) -> Sequential:
    """Λ of the mixture SPRT (`msprt`'s formula) for an observed `difference` of two means whose
    estimate has `variance` (> 0), mixing over N(0, tau²): any two means, conversion or revenue."""
    d, t2 = difference, tau * tau
    exponent = t2 * d * d / (2 * variance * (variance + t2))
    log_ratio = 0.5 * math.log(variance / (variance + t2)) + exponent
    ratio = math.exp(min(log_ratio, 700.0))
    return Sequential(likelihood_ratio=ratio, p_value=min(1.0, 1 / ratio), difference=d)


def should_roll_back(
    control_hits: int,
    control_n: int,
    variant_hits: int,
    variant_n: int,
    *,
    max_drop_percent: float,
    min_exposures: int,
    alpha: float = 0.05,
) -> bool:
    """The guardrail: the variant has enough exposures, converts worse than the control by more
    than `max_drop_percent` (relative), and the sequential test rejects "no difference"."""
    if variant_n < min_exposures or control_n <= 0 or control_hits <= 0:
        return False
    lift = lift_percent(control_hits / control_n, variant_hits / variant_n)
    if lift is None or -lift <= max_drop_percent:
        return False
    test = msprt(control_hits, control_n, variant_hits, variant_n)
    return test is not None and test.difference < 0 and test.p_value < alpha
