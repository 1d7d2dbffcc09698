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
from quote_service.pricing.quote import Quote, QuoteLine

FREE_DELIVERY = "FREE_DELIVERY"


def minor(amount: Decimal, currency: str) -> int:
    """`amount` in minor units of `currency`: exact, or ValueError (the quote is already rounded)."""
    return to_minor([amount], currency)[0]


_PER_LINE = 5
"""The amounts a line shows, in `_line_amounts`'s order: list unit price, subtotal, tax, unit price, discount."""


def summarize(quote: Quote, items: Sequence[tuple[int, Item]], shipping: dict[str, str], now: datetime) -> Summary:
    """The quote of `items` (each with its index in the agent's list) as the session shows it.

    Every amount shown goes to minor units in one pass (`money.to_minor`), then is read back in the order it
    was gathered. A session's update makes a summary, so it is written as plain loops: a comprehension is a
    call of its own, and a helper call per line or amount would be one per line or amount."""
    currency = quote.currency
    priced: list[QuoteLine] = []
    gifts: list[QuoteLine] = []
    carried = Decimal(0)
    for line in quote.items:
        carried += line.discount
        if line.is_gift is True:
            gifts.append(line)
        else:
            priced.append(line)
    sources = priced + gifts
    shipments = quote.shipments if isinstance(quote.shipments, list) else []
    coupons, promotions = quote.applied_coupons, quote.applied_promotions
    amounts: list[Decimal] = []
    for line in sources:
        amounts += (line.list_unit_price, line.line_subtotal - line.discount, line.tax, line.unit_price, line.discount)
    for shipment in shipments:
        for o in shipment.options:
            amounts += (o.fee,)
    for shipment in shipments:
        amounts += (shipment.delivery_fee,)
    for c in coupons:
        amounts += (c.amount,)
    for p in promotions:
        amounts += (p.amount,)
    amounts += (quote.discount_amount - carried, quote.delivery_fee, quote.tax_amount, quote.total_amount)
    whole = to_minor(amounts, currency)
    if len(items) != len(priced):
        raise ValueError(f"{len(items)} items sent, {len(priced)} lines priced")
    # A line's id: its position among the items the agent sent (1-based); a gift's, its position among gifts.
    lines: list[Line] = []
    shares: list[int] = []  # each line's discount, for the allocations
    by_product: dict[str, list[str]] = {}
    base = subtotal = 0
    at = 0
    gift = 0
    for n, line in enumerate(sources):
        listed, line_subtotal, tax, unit, share = whole[at : at + _PER_LINE]
        at += _PER_LINE
        if n < len(priced):
            index, item = items[n]
            id_ = f"li_{index + 1}"
        else:
            gift += 1
            id_, item = f"gift_{gift}", Item(id=line.product_id, quantity=line.quantity)
        line_base = listed * line.quantity
        lines.append(
            Line(
                id=id_,
                item=item,
                seller_id=line.seller_id,
                unit_price=unit,
                base_amount=line_base,
                discount=line_base - line_subtotal,
                subtotal=line_subtotal,
                tax=tax,
                total=line_subtotal if line.prices_include_tax is True else line_subtotal + tax,
            )
        )
        shares.append(share)
        base += line_base
        subtotal += line_subtotal
        if line.product_id in by_product:
            by_product[line.product_id].append(id_)
        else:
            by_product[line.product_id] = [id_]
    options: list[list[Option]] = []
    for shipment in shipments:
        offered: list[Option] = []
        for o in shipment.options:
            offered.append(
                Option(
                    id=o.code,
                    title=o.name,
                    amount=whole[at],
                    earliest=now + timedelta(days=o.eta_days_min),
                    latest=now + timedelta(days=o.eta_days_max),
                )
            )
            at += 1
        options.append(offered)
    groups: list[Group] = []
    for shipment, offered in zip(shipments, options, strict=True):
        seller = shipment.seller_id or ""
        line_ids: list[str] = []
        for product in shipment.product_ids:
            if product in by_product:
                line_ids += by_product[product]
        groups.append(
            Group(
                seller_id=seller,
                line_ids=line_ids,
                options=offered,
                selected=shipment.selected if seller in shipping else None,
                fee=whole[at],
            )
        )
        at += 1
    found: list[tuple[str, str | None, str, int, bool, bool]] = []
    for c in coupons:
        found.append((f"coupon:{c.code}", c.code, c.code, whole[at], False, c.type == FREE_DELIVERY))
        at += 1
    for p in promotions:
        found.append((f"promotion:{p.promotion_id}", None, p.name, whole[at], True, p.kind == FREE_DELIVERY))
        at += 1
    order_discount, fulfillment, tax, total = whole[at:]
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
        applied=_applied(found, shares, [f"$.line_items[{n}]" for n in range(len(lines))]) if found else [],
        rejected=[Rejected(code=r.code, reason=r.reason) for r in quote.rejected_coupons]
        if quote.rejected_coupons
        else [],
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
