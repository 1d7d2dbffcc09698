"""GET /api/v1/analytics/flags: flag adoption over the quotes of a period (docs/analytics.md).

Read from the pricing rollups (dimensions `all`, `flag` and `variant`), so it costs what the other
reports cost whatever the number of stored quotes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import msgspec

from quote_service.analytics.figures import percent
from quote_service.analytics.service import Analytics
from quote_service.periods import Period, Span, span_fields, utc_period


class FlagAdoption(msgspec.Struct, kw_only=True):
    key: str
    quotes: int
    """Quotes of the period the flag was on for."""
    on_share: Decimal | None
    """quotes / every quote of the period x 100 (2 decimals); null when the period has no quote."""
    variants: dict[str, Decimal]
    """Each variant's share of the quotes the flag assigned a variant to, in percent (2 decimals)."""


class FlagsReport(Span, kw_only=True):
    quotes: int
    """Every quote of the period (each one evaluated every flag defined at its moment)."""
    rows: list[FlagAdoption]


async def flags_report(analytics: Analytics, period: Period, *, now: datetime) -> FlagsReport:
    whole = utc_period(period.start, period.end)  # every quote of the period, not by day
    total = sum(int(figures[0]) for figures in (await analytics.sums("pricing", "all", whole, now)).values())
    on: dict[str, int] = defaultdict(int)
    for (key, _currency), figures in (await analytics.sums("pricing", "flag", whole, now)).items():
        on[key] += int(figures[0])
    assigned: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (arm, _currency), figures in (await analytics.sums("pricing", "variant", whole, now)).items():
        flag, _, variant = arm.partition(":")
        assigned[flag][variant] += int(figures[0])
    defined = {r["key"] for r in await analytics.reads.for_read().fetch("SELECT key FROM feature_flags")}
    rows = [
        FlagAdoption(
            key=key,
            quotes=on.get(key, 0),
            on_share=percent(on.get(key, 0), total),
            variants=_shares(assigned.get(key, {})),
        )
        for key in sorted(defined | on.keys() | assigned.keys())
    ]
    return FlagsReport(quotes=total, rows=rows, **span_fields(period))


def _shares(counts: dict[str, int]) -> dict[str, Decimal]:
    whole = sum(counts.values())
    return {variant: percent(n, whole) or Decimal("0.00") for variant, n in sorted(counts.items())}
