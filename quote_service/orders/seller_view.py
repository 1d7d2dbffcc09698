"""An order as a seller sees it (docs/sellers.md): its own lines, its shipment and its totals. Pure.

A seller's view keeps the order's identity and state (id, customer, status) and replaces every
amount with the seller's part: the subtotal, discount, tax and total of its own lines, its own
shipment's delivery fee and logistics commission, its own per-seller totals, the commission on its
own lines, of the coupons and promotions only those that discounted its lines, by what they took
from them, and of the refunds only those that gave back its lines or its shipment's fee, by what
they gave back of them (`refunded_amount`), and of its edits what each moved of its part (`edits`,
`balance_due`: docs/orders-and-refunds.md#edits-and-exchanges). Other sellers' lines, shipments, totals,
commission details and refunds, and the order's payments (the buyer's), are left out: a detail is the
seller's when it is on one of its lines (its `line`, the line's number, as the view's `items` show it),
never because its product id is (another seller may sell the same product id in the same order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from msgspec import UNSET

from quote_service.orders.schemas import Order, OrderLine
from quote_service.pricing.money import round_money
from quote_service.pricing.quote import CommissionBreakdown, CommissionDetail, CommissionFee

ZERO = Decimal(0)


def seller_view(
    order: Order,
    seller_id: str,
    *,
    refunds: Sequence[tuple[UUID, Decimal]],
    edits: Mapping[UUID, Decimal] | None = None,
) -> Order:
    """`order` with only what belongs to `seller_id`; `refunds`: each refund of the order that gave
    back something of the seller's, oldest first, with what it gave back of it
    (orders/refund_repository.py `seller_refunds`); `edits`: what each of its edits moved of what the
    customer pays the seller (its ledger entry's goods, tax and delivery; absent: nothing)."""
    currency = order.currency
    moved = edits or {}

    def total(amounts: Iterable[Decimal]) -> Decimal:
        return round_money(sum(amounts, ZERO), currency)

    # Its lines, and their numbers (the details name their line: one product id may be another seller's too).
    lines = [line for line in order.items if line.seller_id == seller_id]
    own = {line.line for line in lines}
    shipments = [s for s in order.shipments if s.seller_id == seller_id] if order.shipments else []
    delivery_fee = total(s.delivery_fee for s in shipments)
    logistics = total(s.logistics_commission for s in shipments)
    taken: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        for part in line.discounts:
            taken[(part.source, part.code if part.source == "coupon" and part.code else part.id)] += part.amount
    breakdown = order.commission_breakdown
    # docs/commission.md: fees charged once per shipment or order are the seller's they are charged to
    charged = [d for d in breakdown.details if d.per is not UNSET and d.seller_id == seller_id]
    seller_part = total(
        [*(line.commission.seller for line in lines), *(d.amount for d in charged if d.dimension == "seller")]
    )
    category_part = total(
        [*(line.commission.category for line in lines), *(d.amount for d in charged if d.dimension == "category")]
    )
    extra: dict[str, Any] = {}  # a seller-funded installment option's part of its lines (docs/taxes.md), its fees
    if breakdown.installment_commission is not UNSET:
        extra["installment_commission"] = total(
            line.installment_commission for line in lines if isinstance(line.installment_commission, Decimal)
        )
    if breakdown.fees is not UNSET:
        extra["fees"] = _own_fees(breakdown.fees, lines, charged, currency)
    return msgspec.structs.replace(
        order,
        items=lines,
        subtotal=total(line.line_subtotal for line in lines),
        discount_amount=total(line.discount for line in lines),
        tax_amount=total(line.tax for line in lines),
        tax_included=(
            UNSET if order.tax_included is UNSET else total(line.tax for line in lines if line.prices_include_tax)
        ),
        delivery_fee=delivery_fee,
        small_basket_fee=total(()),
        total_amount=total(line.net + line.tax for line in lines) + delivery_fee,
        logistics_commission=logistics,
        commission_breakdown=CommissionBreakdown(
            **extra,
            total_commission=seller_part
            + category_part
            + logistics
            + extra.get("installment_commission", ZERO)
            + sum((fee.amount for fee in extra.get("fees", ())), ZERO),
            seller_commission=seller_part,
            category_commission=category_part,
            logistics_commission=logistics,
            currency=breakdown.currency,
            details=[
                *(d for d in breakdown.details if isinstance(d.line, int) and d.line in own),
                *charged,
            ],
        ),
        applied_coupons=[
            msgspec.structs.replace(c, amount=taken[("coupon", c.code)])
            for c in order.applied_coupons
            if ("coupon", c.code) in taken
        ],
        applied_promotions=[
            msgspec.structs.replace(p, amount=taken[("promotion", str(p.promotion_id))])
            for p in order.applied_promotions
            if ("promotion", str(p.promotion_id)) in taken
        ],
        shipments=shipments if order.shipments else UNSET,
        sellers=[t for t in order.sellers if t.seller_id == seller_id] if order.sellers else UNSET,
        refunded_amount=total(amount for _, amount in refunds),
        edits=[
            msgspec.structs.replace(e, difference_due=round_money(moved.get(e.edit_id, ZERO), currency))
            for e in order.edits
        ],
        balance_due=total(amount for amount in moved.values() if amount > 0),
        refunds=[refund_id for refund_id, _ in refunds],
        paid_amount=total(()),  # the buyer's and the platform's (docs/sellers.md)
        payments=[],
    )


def _own_fees(
    fees: Sequence[CommissionFee], lines: Sequence[OrderLine], charged: Sequence[CommissionDetail], currency: str
) -> list[CommissionFee]:
    """The seller's named fees: its lines' and those charged to it per shipment or order, every name of the
    order's (0 where it paid none)."""
    mine = {fee.name: ZERO for fee in fees}
    for line in lines:
        for fee in line.commission.fees or ():
            mine[fee.name] += fee.amount
    for detail in charged:
        if detail.dimension in mine:
            mine[detail.dimension] += detail.amount
    return [CommissionFee(name=name, amount=round_money(amount, currency)) for name, amount in mine.items()]
