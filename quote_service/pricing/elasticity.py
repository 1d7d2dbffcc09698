"""Price elasticity of demand, fitted by ordinary least squares on log(units) = a + ε·log(price).

Pure: the caller passes the daily (average price, units ordered) pairs; nothing here reads a
clock or a database. A constant-elasticity demand q = A·p^ε is a straight line in log-log
space, so the slope is ε and r² says how much of the variation in log(units) it explains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

METHOD = "log-log OLS"
MIN_POINTS = 5
MIN_DISTINCT_PRICES = 2


class ElasticityFit(msgspec.Struct, frozen=True, kw_only=True):
    """A fit, or `elasticity` None with the `reason` the data cannot support one."""

    elasticity: float | None
    r_squared: float | None
    points: int
    distinct_prices: int
    reason: str | None = None


def fit_elasticity(pairs: Sequence[tuple[float, float]]) -> ElasticityFit:
    """Fit ε over (price, units) pairs; pairs with a non-positive price or units are left out
    (their logarithm does not exist: a day without orders has no average price anyway)."""
    usable = [(math.log(p), math.log(q)) for p, q in pairs if p > 0 and q > 0]
    points = len(usable)
    distinct = len({round(x, 9) for x, _ in usable})
    if points < MIN_POINTS:
        return ElasticityFit(
            elasticity=None,
            r_squared=None,
            points=points,
            distinct_prices=distinct,
            reason=f"too few days with orders: {points}, need at least {MIN_POINTS}",
        )
    if distinct < MIN_DISTINCT_PRICES:
        return ElasticityFit(
            elasticity=None,
            r_squared=None,
            points=points,
            distinct_prices=distinct,
            reason="the price never changed in the window: demand cannot be related to price",
        )
    mean_x = sum(x for x, _ in usable) / points
    mean_y = sum(y for _, y in usable) / points
    sxx = sum((x - mean_x) ** 2 for x, _ in usable)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in usable)
    syy = sum((y - mean_y) ** 2 for _, y in usable)
    slope = sxy / sxx
    # Units that never vary are explained perfectly by a flat line.
    r_squared = 1.0 if syy == 0 else (sxy * sxy) / (sxx * syy)
    return ElasticityFit(
        elasticity=round(slope, 6), r_squared=round(r_squared, 6), points=points, distinct_prices=distinct
    )
