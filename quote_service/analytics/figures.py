"""Small figures every report shares: percentages with 2 decimals."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """part / whole x 100 with 2 decimals (half up); None when whole is 0."""
    if not whole:
        return None
    return (Decimal(100) * Decimal(part) / Decimal(whole)).quantize(CENT, ROUND_HALF_UP)
