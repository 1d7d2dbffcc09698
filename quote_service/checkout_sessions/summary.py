"""A quote as a session shows it: every amount in integer minor units, exactly the quote's (pure).

Lines: `base_amount` = list price x quantity, `subtotal` = what the line charges before added tax
(its `line_subtotal` less its share of promotions and coupons), `discount` = base - subtotal, `total`
= subtotal + tax (subtotal for a tax-inclusive line). Totals: `discount` is the order-level part of
the quote's discount that no line carries, and `fee` the rest of `total_amount` (small-basket and
named fees), so total = subtotal - discount + fulfillment + tax + fee holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from quote_service.checkout_sessions.schemas import (
    Allocation,
    Applied,
    Group,
    Item,
    Line,
    Option,
    Rejected,
    Summary,
    Totals,
)
from quote_service.pricing.money import minor_units
from quote_service.pricing.quote import Quote, QuoteLine, Shipment

FREE_DELIVERY = "FREE_DELIVERY"


def minor(amount: Decimal, currency: str) -> int:
    """`amount` in minor units of `currency`: exact, or ValueError (the quote is already rounded)."""
    scaled = amount.scaleb(minor_units(currency))
    whole = int(scaled)
    if scaled != whole:
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return whole


def line_id(index: int) -> str:
    """A line's id: its position among the items the agent sent (1-based)."""
    return f"li_{index + 1}"


def summarize(quote: Quote, items: Sequence[tuple[int, Item]], shipping: dict[str, str], now: datetime) -> Summary:
    """The quote of `items` (each with its index in the agent's list) as the session shows it."""
    currency = quote.currency
    priced = [line for line in quote.items if line.is_gift is not True]
    gifts = [line for line in quote.items if line.is_gift is True]
    lines = [_line(line_id(i), item, line, currency) for (i, item), line in zip(items, priced, strict=True)]
    lines += [
        _line(f"gift_{n + 1}", Item(id=g.product_id, quantity=g.quantity), g, currency) for n, g in enumerate(gifts)
    ]
    by_product: dict[str, list[str]] = {}
    for line, source in zip(lines, [*priced, *gifts], strict=True):
        by_product.setdefault(source.product_id, []).append(line.id)
    groups = [_group(s, by_product, shipping, now, currency) for s in _shipments(quote)]
    totals = _totals(quote, lines)
    shares = [minor(source.discount, currency) for source in [*priced, *gifts]]
    paths = [f"$.line_items[{n}]" for n in range(len(lines))]
    applied = _applied(quote, shares, paths)
    return Summary(
        quote_id=quote.quote_id,
        quote_expires_at=quote.valid_until,
        total_amount=str(quote.total_amount),
        lines=lines,
        groups=groups,
        totals=totals,
        applied=applied,
        rejected=[Rejected(code=r.code, reason=r.reason) for r in quote.rejected_coupons],
    )


def _line(id_: str, item: Item, line: QuoteLine, currency: str) -> Line:
    base = minor(line.list_unit_price, currency) * line.quantity
    subtotal = minor(line.line_subtotal - line.discount, currency)
    tax = minor(line.tax, currency)
    inclusive = line.prices_include_tax is True
    return Line(
        id=id_,
        item=item,
        seller_id=line.seller_id,
        unit_price=minor(line.unit_price, currency),
        base_amount=base,
        discount=base - subtotal,
        subtotal=subtotal,
        tax=tax,
        total=subtotal if inclusive else subtotal + tax,
    )


def _shipments(quote: Quote) -> list[Shipment]:
    return quote.shipments if isinstance(quote.shipments, list) else []


def _group(
    shipment: Shipment, by_product: dict[str, list[str]], shipping: dict[str, str], now: datetime, currency: str
) -> Group:
    seller = shipment.seller_id or ""
    options = [
        Option(
            id=o.code,
            title=o.name,
            amount=minor(o.fee, currency),
            earliest=now + timedelta(days=o.eta_days_min),
            latest=now + timedelta(days=o.eta_days_max),
        )
        for o in shipment.options
    ]
    line_ids = [line for product in shipment.product_ids for line in by_product.get(product, [])]
    chosen = shipping.get(seller)
    return Group(
        seller_id=seller,
        line_ids=line_ids,
        options=options,
        selected=shipment.selected if chosen is not None else None,
        fee=minor(shipment.delivery_fee, currency),
    )


def _totals(quote: Quote, lines: Sequence[Line]) -> Totals:
    currency = quote.currency
    base = sum(line.base_amount for line in lines)
    subtotal = sum(line.subtotal for line in lines)
    carried = sum((line.discount for line in quote.items), Decimal(0))
    order_discount = minor(quote.discount_amount - carried, currency)
    fulfillment = minor(quote.delivery_fee, currency)
    tax = minor(quote.tax_amount, currency)
    total = minor(quote.total_amount, currency)
    return Totals(
        items_base_amount=base,
        items_discount=base - subtotal,
        subtotal=subtotal,
        discount=order_discount,
        fulfillment=fulfillment,
        tax=tax,
        fee=total - (subtotal - order_discount + fulfillment + tax),
        total=total,
    )


def _applied(quote: Quote, shares: Sequence[int], paths: Sequence[str]) -> list[Applied]:
    """The quote's coupons and promotions; a goods discount allocated over the lines in proportion to each
    line's discount (the largest remainders take the last units), a delivery one to `$.totals.fulfillment`."""
    currency = quote.currency
    found: list[tuple[str, str | None, str, int, bool, bool]] = [
        (f"coupon:{c.code}", c.code, c.code, minor(c.amount, currency), False, c.type == FREE_DELIVERY)
        for c in quote.applied_coupons
    ]
    found += [
        (f"promotion:{p.promotion_id}", None, p.name, minor(p.amount, currency), True, p.kind == FREE_DELIVERY)
        for p in quote.applied_promotions
    ]
    return [
        Applied(
            id=id_,
            code=code,
            title=title,
            amount=amount,
            automatic=automatic,
            method="across",
            allocations=[Allocation(path="$.totals.fulfillment", amount=amount)]
            if delivery
            else allocate(amount, shares, paths),
        )
        for id_, code, title, amount, automatic, delivery in found
    ]


def allocate(amount: int, weights: Sequence[int], paths: Sequence[str]) -> list[Allocation]:
    """`amount` split over the paths in proportion to `weights` (equal parts when they are all zero); the
    parts sum to `amount` exactly, the largest remainders taking the units left."""
    if not paths or amount == 0:
        return []
    positive = [max(w, 0) for w in weights]
    whole = sum(positive)
    if whole == 0:
        positive, whole = [1] * len(paths), len(paths)
    parts = [amount * w // whole for w in positive]
    remainders = sorted(range(len(paths)), key=lambda n: (-(amount * positive[n] % whole), n))
    for n in remainders[: amount - sum(parts)]:
        parts[n] += 1
    return [Allocation(path=path, amount=part) for path, part in zip(paths, parts, strict=True) if part]
