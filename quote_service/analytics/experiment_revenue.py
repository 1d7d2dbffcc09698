"""Revenue per quote of an experiment's arms as samples (docs/experiments.md#health): exposures,
revenue and its sum of squares per arm and currency, for Welch's t-test and the revenue guardrail.

Revenue is what the rollups count (ordered goods after discounts, `subtotal - discount_amount`,
of the orders of the quotes in the window, by the quote's currency); an unordered exposure is a
quote of revenue 0. The sums of squares come from the orders alone (they are few next to the
quotes): one index range over `orders.created_at`, each joined to its quote by primary key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from quote_service.analytics.health import Revenue
from quote_service.db.pool import Pool

_MOMENTS = """
SELECT ql.experiments ->> $1 AS variant, ql.currency,
       sum(o.subtotal - o.discount_amount) AS revenue,
       sum((o.subtotal - o.discount_amount) * (o.subtotal - o.discount_amount)) AS squares
FROM orders o JOIN quote_log ql ON ql.quote_id = o.quote_id
WHERE o.created_at >= $2 AND ql.created_at >= $2 AND ql.created_at < $3 AND ql.experiments ? $1
GROUP BY 1, 2
"""

Moments = dict[tuple[str, str], tuple[Decimal, Decimal]]
"""(variant, currency) -> (revenue, sum of squared revenue per ordered quote)."""


async def revenue_moments(pool: Pool, key: str, lo: datetime, hi: datetime) -> Moments:
    """The ordered revenue and its squares of each arm and currency, quotes created in [lo, hi)."""
    rows = await pool.fetch(_MOMENTS, key, lo, hi)
    return {(row["variant"], row["currency"]): (row["revenue"], row["squares"]) for row in rows}


def arm_revenue(exposures: Mapping[tuple[str, str], int], moments: Moments, currency: str) -> dict[str, Revenue]:
    """Each arm's revenue per quote sample in `currency` (arms with exposures in it)."""
    zero = (Decimal(0), Decimal(0))
    return {
        arm: Revenue(count, *moments.get((arm, in_currency), zero))
        for (arm, in_currency), count in exposures.items()
        if in_currency == currency and count > 0
    }
