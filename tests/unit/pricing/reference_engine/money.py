"""Money as the docs define it: a currency's minor units and the one rounding, ROUND_HALF_UP.

Written from docs/pricing.md and docs/api.md ("Money"), not from `quote_service.pricing.money`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MINOR_UNITS = {"EUR": 2, "TRY": 2, "USD": 2, "JPY": 0, "KWD": 3}
"""ISO 4217 minor units of the currencies the differential test draws; any other code is refused."""
ZERO = Decimal(0)


def cent_of(currency: str) -> Decimal:
    """The smallest amount of `currency` (0.01 for EUR, 1 for JPY, 0.001 for KWD)."""
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def rounded(amount: Decimal, cent: Decimal) -> Decimal:
    """Half up to the currency's grid."""
    return amount.quantize(cent, ROUND_HALF_UP)


def on_grid(amount: Decimal, currency: str) -> bool:
    """True when `amount` has no more decimals than `currency` allows."""
    try:
        return amount == amount.quantize(cent_of(currency))
    except InvalidOperation:
        return False


def percent(amount: Decimal, rate: Decimal) -> Decimal:
    """`rate` % of `amount`, unrounded."""
    return amount * rate / 100
