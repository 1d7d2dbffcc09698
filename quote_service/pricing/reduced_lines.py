"""Reduced lines (docs/promotions.md#reduced-lines): how a coupon or promotion treats a line whose
price before it is already below its product's own price.

A line's own price is its product's `current_price` x its units (a catalog line's list subtotal; a
price-list line's product price, when the product is priced in the quote's currency; a client-priced
line's own `unit_price`). It is reduced, for a discount, when what is left of it before that discount
is below its own price: a price list, a price rule, a flash price or an earlier promotion or coupon
lowered it. Each coupon and promotion says (`on_reduced_lines`):

    stack    the discount takes reduced lines like any other (the default: quotes read as before)
    skip     reduced lines are left out of the discount and of what it is worked out on
    best_of  the discount is worked out as if each reduced line were at its own price; each line's
             share of it is what it takes off that line's own price, and a reduced line gets only what
             that share takes below its reduced price (nothing when the reduced price is lower still):
             the customer pays the lower of the two prices, never both reductions. The parts, summed
             and rounded once, are spread over the lines in proportion to them (floors and the cap as
             for any discount: `discounts.give_best_of`)

Pure. `mark_own_prices` runs only for a quote whose snapshot has a coupon or promotion that does not
stack: any other quote pays nothing for the feature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal

from quote_service.pricing.coupons import OnReducedLines
from quote_service.pricing.lines import Line
from quote_service.pricing.money import ZERO
from quote_service.pricing.offers import OfferBook
from quote_service.pricing.quote import CatalogProduct


def mark_own_prices(
    lines: Sequence[Line],
    products: Mapping[str, CatalogProduct],
    currency: str,
    cent: Decimal,
    offers: OfferBook | None = None,
) -> None:
    """Set each line's `own`: its units at their product's own price, or for a line sold from another
    seller's offer (`offers`) at that offer's own price (None: none in this currency)."""
    for line in lines:
        priced = line.priced
        if priced.source != "price_list":
            line.own = priced.list_subtotal
            continue
        product = products.get(priced.product_id)
        if product is not None and product.currency == currency:
            price = product.current_price
            if offers is not None and priced.seller_id != product.seller_id:  # a price list's entry for an offer
                sold_from = next(
                    (o for o in offers.by_product.get(priced.product_id, ()) if o.seller_id == priced.seller_id), None
                )
                if sold_from is not None:
                    price = sold_from.current_price
            line.own = (price * priced.units).quantize(cent, ROUND_HALF_UP)


def is_reduced(line: Line) -> bool:
    """Whether what is left of the line is below its own price."""
    own = line.own
    return own is not None and line.priced.subtotal - line.discount < own


def reduced_view(
    policy: OnReducedLines, lines: Sequence[Line], lefts: Sequence[Decimal]
) -> tuple[list[Line], list[Decimal]]:
    """The lines a discount is worked out on, and what it sees left of each: `skip` leaves reduced
    lines out; `best_of` sees a reduced line at its own price."""
    if policy == "skip":
        kept = [i for i, line in enumerate(lines) if not is_reduced(line)]
        return [lines[i] for i in kept], [lefts[i] for i in kept]
    seen = list(lefts)
    for i, line in enumerate(lines):
        if line.own is not None and is_reduced(line):
            seen[i] = line.own
    return list(lines), seen


def best_of_parts(
    wanted: Decimal, lines: Sequence[Line], seen: Sequence[Decimal], weights: Sequence[Decimal] | None
) -> list[Decimal]:
    """Each line's exact part of `wanted` (worked out on `seen`, spread by `weights` or by `seen`):
    its share, less what the line's reduction below its own price already took."""
    basis = seen if weights is None else weights
    total = sum(basis, ZERO)
    if total <= 0:
        return [ZERO] * len(lines)
    parts = []
    for position, line in enumerate(lines):
        share = wanted * basis[position] / total
        left = line.priced.subtotal - line.discount
        parts.append(max(left - seen[position] + share, ZERO) if left < seen[position] else share)
    return parts
