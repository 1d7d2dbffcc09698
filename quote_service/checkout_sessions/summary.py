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
from quote_service.pricing.money import to_minor
from quote_service.pricing.quote import Quote

FREE_DELIVERY = "FREE_DELIVERY"


def minor(amount: Decimal, currency: str) -> int:
    """`amount` in minor units of `currency`: exact, or ValueError (the quote is already rounded)."""
    return to_minor([amount], currency)[0]


_PER_LINE = 5
"""The amounts a line shows, in `_line_amounts`'s order: list unit price, subtotal, tax, unit price, discount."""


def summarize(quote: Quote, items: Sequence[tuple[int, Item]], shipping: dict[str, str], now: datetime) -> Summary:
    """The quote of `items` (each with its index in the agent's list) as the session shows it.

    Every amount shown goes to minor units in one pass (`money.to_minor`), then is read back in the order it
    was gathered: a session's update makes a summary, so its per-amount and per-line calls count."""
    currency = quote.currency
    priced = [line for line in quote.items if line.is_gift is not True]
    gifts = [line for line in quote.items if line.is_gift is True]
    sources = [*priced, *gifts]
    shipments = quote.shipments if isinstance(quote.shipments, list) else []
    coupons, promotions = quote.applied_coupons, quote.applied_promotions
    carried = sum((line.discount for line in quote.items), Decimal(0))
    amounts = [
        amount
        for line in sources
        for amount in (
            line.list_unit_price,
            line.line_subtotal - line.discount,
            line.tax,
            line.unit_price,
            line.discount,
        )
    ]
    amounts += [o.fee for shipment in shipments for o in shipment.options]
    amounts += [shipment.delivery_fee for shipment in shipments]
    amounts += [c.amount for c in coupons]
    amounts += [p.amount for p in promotions]
    amounts += (quote.discount_amount - carried, quote.delivery_fee, quote.tax_amount, quote.total_amount)
    whole = to_minor(amounts, currency)
    at = _PER_LINE * len(sources)
    per_line = [whole[k : k + _PER_LINE] for k in range(0, at, _PER_LINE)]
    shown = iter(whole[at:])  # the rest, read in the order gathered (each `zip` takes its own first)
    # A line's id: its position among the items the agent sent (1-based).
    line_items = [(f"li_{i + 1}", item) for (i, item), _ in zip(items, priced, strict=True)]
    line_items += [(f"gift_{n + 1}", Item(id=g.product_id, quantity=g.quantity)) for n, g in enumerate(gifts)]
    lines = [
        Line(
            id=id_,
            item=item,
            seller_id=line.seller_id,
            unit_price=unit,
            base_amount=(line_base := listed * line.quantity),
            discount=line_base - subtotal,
            subtotal=subtotal,
            tax=tax,
            total=subtotal if line.prices_include_tax is True else subtotal + tax,
        )
        for (id_, item), line, (listed, subtotal, tax, unit, _) in zip(line_items, sources, per_line, strict=True)
    ]
    shares = [each[4] for each in per_line]
    by_product: dict[str, list[str]] = {}
    for line, source in zip(lines, sources, strict=True):
        by_product.setdefault(source.product_id, []).append(line.id)
    options = [
        [
            Option(
                id=o.code,
                title=o.name,
                amount=amount,
                earliest=now + timedelta(days=o.eta_days_min),
                latest=now + timedelta(days=o.eta_days_max),
            )
            for o, amount in zip(shipment.options, shown, strict=False)
        ]
        for shipment in shipments
    ]
    groups = [
        Group(
            seller_id=shipment.seller_id or "",
            line_ids=[id_ for product in shipment.product_ids for id_ in by_product.get(product, ())],
            options=offered,
            selected=shipment.selected if (shipment.seller_id or "") in shipping else None,
            fee=fee,
        )
        for shipment, offered, fee in zip(shipments, options, shown, strict=False)
    ]
    found: list[tuple[str, str | None, str, int, bool, bool]] = [
        (f"coupon:{c.code}", c.code, c.code, amount, False, c.type == FREE_DELIVERY)
        for c, amount in zip(coupons, shown, strict=False)
    ]
    found += [
        (f"promotion:{p.promotion_id}", None, p.name, amount, True, p.kind == FREE_DELIVERY)
        for p, amount in zip(promotions, shown, strict=False)
    ]
    order_discount, fulfillment, tax, total = shown
    base = sum([line.base_amount for line in lines])
    subtotal = sum([line.subtotal for line in lines])
    paths = [f"$.line_items[{n}]" for n in range(len(lines))]
    return Summary(
        quote_id=quote.quote_id,
        quote_expires_at=quote.valid_until,
        total_amount=str(quote.total_amount),
        lines=lines,
        groups=groups,
        totals=Totals(
            items_base_amount=base,
            items_discount=base - subtotal,
            subtotal=subtotal,
            discount=order_discount,
            fulfillment=fulfillment,
            tax=tax,
            fee=total - (subtotal - order_discount + fulfillment + tax),
            total=total,
        ),
        applied=_applied(found, shares, paths),
        rejected=[Rejected(code=r.code, reason=r.reason) for r in quote.rejected_coupons],
    )


def _applied(
    found: Sequence[tuple[str, str | None, str, int, bool, bool]], shares: Sequence[int], paths: Sequence[str]
) -> list[Applied]:
    """The quote's coupons and promotions (id, code, title, amount, automatic, a delivery discount); a goods
    discount allocated over the lines in proportion to each line's discount (the largest remainders take the
    last units), a delivery one to `$.totals.fulfillment`."""
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
