"""The log-log OLS fit: known elasticities come back, thin data says why it cannot fit."""

from __future__ import annotations

import math
import random

import pytest

from quote_service.pricing.elasticity import fit_elasticity


@pytest.mark.parametrize("epsilon", [-3.0, -1.8, -1.2, -0.5, 0.4])
def test_constant_elasticity_demand_recovers_epsilon(epsilon: float) -> None:
    rng = random.Random(7)
    pairs = []
    for day in range(60):
        price = 50 + (day % 12) * 2.5
        units = 1000 * price**epsilon * math.exp(rng.gauss(0, 0.05))
        pairs.append((price, units))
    fit = fit_elasticity(pairs)
    assert fit.elasticity is not None
    assert abs(fit.elasticity - epsilon) < 0.05
    assert fit.r_squared is not None
    assert fit.r_squared > 0.5
    assert fit.points == 60
    assert fit.distinct_prices == 12


def test_exact_power_law_fits_perfectly() -> None:
    fit = fit_elasticity([(p, 5000 * p**-2.0) for p in (10.0, 12.0, 15.0, 20.0, 25.0)])
    assert fit.elasticity == pytest.approx(-2.0, abs=1e-6)
    assert fit.r_squared == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("pairs", "points", "reason"),
    [
        ([], 0, "too few"),
        ([(10.0, 5.0), (11.0, 4.0), (12.0, 3.0), (13.0, 3.0)], 4, "too few"),
        ([(10.0, 5.0)] * 3 + [(10.0, 0.0)] * 5, 3, "too few"),  # days without units do not count
        ([(10.0, float(q)) for q in range(1, 9)], 8, "never changed"),
    ],
)
def test_too_little_data_gives_no_fit_and_a_reason(pairs: list[tuple[float, float]], points: int, reason: str) -> None:
    fit = fit_elasticity(pairs)
    assert fit.elasticity is None
    assert fit.r_squared is None
    assert fit.points == points
    assert fit.reason is not None
    assert reason in fit.reason
