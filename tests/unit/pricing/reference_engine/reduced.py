"""Reduced lines and partial free delivery, written again from docs/promotions.md ("Lines already
reduced", "Partial free delivery"), in exact fractions; shares only the types with the production code.

A line's own price: its product's current_price x its units, rounded half up (a price-list line's
only when the product is priced in the quote's currency; a client-priced line's unit_price x units).
A line is reduced, for a discount, when what is left of it before that discount is below its own
price. `skip`: the discount sees only the lines that are not reduced. `best_of`: it sees a reduced
line at its own price; each line's part is its exact share of what the discount asks for (by the
weights it spreads by), less what the line's reduction already took, never below nothing; the parts,
summed and rounded half up once, are what it gives (within the cap), split in proportion to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from quote_service.pricing.coupons import OnReducedLines
from quote_service.pricing.promotions import FreeDelivery
from quote_service.pricing.quote import CatalogProduct
from tests.unit.pricing.reference_engine.lines import Line
from tests.unit.pricing.reference_engine.money import ZERO
from tests.unit.pricing.reference_engine.shares import half_up


def set_own_prices(lines: Sequence[Line], products: Mapping[str, CatalogProduct], currency: str, cent: Decimal) -> None:
    for line in lines:
        product = products.get(line.product_id)
        if line.source in ("catalog", "price_list", "flash_sale"):
            priced_here = product is not None and product.currency == currency
            line.own = half_up(Fraction(product.current_price) * line.quantity, cent) if priced_here else None  # type: ignore[union-attr]
        else:
            line.own = half_up(Fraction(line.list_unit) * line.quantity, cent)


def is_reduced(line: Line) -> bool:
    return line.own is not None and line.subtotal - line.discount < line.own


def seen(policy: OnReducedLines, lines: Sequence[Line]) -> tuple[list[Line], list[Decimal]]:
    """The lines a discount is worked out on, and what it sees left of each."""
    if policy == "skip":
        kept = [line for line in lines if not is_reduced(line)]
        return kept, [line.subtotal - line.discount for line in kept]
    values = [
        line.own if policy == "best_of" and line.own is not None and is_reduced(line) else line.subtotal - line.discount
        for line in lines
    ]
    return list(lines), values


def best_of(
    asked: Decimal, lines: Sequence[Line], values: Sequence[Decimal], weights: Sequence[Decimal], cent: Decimal
) -> tuple[list[Fraction], Decimal]:
    """(each line's exact part, their sum rounded half up once)."""
    whole = sum((Fraction(w) for w in weights), Fraction(0))
    if whole <= 0:
        return [Fraction(0)] * len(lines), ZERO.quantize(cent)
    parts = []
    for line, value, weight in zip(lines, values, weights, strict=True):
        share = Fraction(asked) * Fraction(weight) / whole
        left = Fraction(line.subtotal - line.discount)
        parts.append(max(left - Fraction(value) + share, Fraction(0)) if left < value else share)
    return parts, half_up(sum(parts, Fraction(0)), cent)


def delivery_part(config: FreeDelivery, fee: Decimal, cent: Decimal) -> Decimal:
    """What a FREE_DELIVERY promotion takes off one fee: all of it, or percent (half up) or amount, at
    most max, never more than the fee."""
    if config.percent is None and config.amount is None:
        off = fee
    elif config.percent is None:
        off = config.amount  # type: ignore[assignment]
    else:
        off = half_up(Fraction(fee) * Fraction(config.percent) / 100, cent)
    return min(fee, off, fee if config.max is None else config.max)
