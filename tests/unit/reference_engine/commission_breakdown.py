"""FROZEN COPY (see engine.py here).

Step 10 of a quote (API.md §4 Commission rates): what the platform charges the seller.

Sales commission per line on the line after its discount share, from the winning rate for the
line's category, seller (the item's, else the quote's) and delivery region, else the default
rate; attributed to `seller_commission` when the rate names a seller, else to
`category_commission`. Logistics commission once per quote from the rate of the quote's
`logistics_provider`, on the delivery fee charged (FLAT: once per order). Flash-sale lines pay
commission like any other line. Nothing here changes what the customer pays.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from quote_service.pricing.commission import CommissionRate, commission_amount, default_rate, dimension_of
from quote_service.pricing.quote import CommissionBreakdown, CommissionDetail
from tests.unit.reference_engine.lines import Line
from tests.unit.reference_engine.resolution import Resolution


def commission_breakdown(
    lines: Sequence[Line],
    rates: Resolution,
    *,
    default_percent: Decimal,
    quote_seller_id: str | None,
    logistics_provider: str | None,
    delivery_fee: Decimal,
    city: str,
    country: str,
    currency: str,
    zero: Decimal,
    now: datetime,
) -> CommissionBreakdown:
    """Per-line sales commission plus the per-quote logistics commission; the total is their exact sum."""
    fallback: CommissionRate | None = None
    details: list[CommissionDetail] = []
    seller_total = category_total = logistics_total = zero
    for line in lines:
        rate = rates.sales_rate(
            category_id=line.category_id,
            seller_id=line.seller_id or quote_seller_id,
            city=city,
            country=country,
            currency=currency,
            now=now,
        )
        if rate is None:
            rate = fallback = fallback or default_rate(default_percent, currency)
        base = line.subtotal - line.discount
        amount = commission_amount(rate, base=base, quantity=line.quantity, currency=currency)
        dimension = dimension_of(rate)
        if dimension == "seller":
            seller_total += amount
        else:
            category_total += amount
        details.append(
            CommissionDetail(
                product_id=line.product_id,
                rate_id=rate.id,
                dimension=dimension,
                commission_type=rate.commission_type,
                base=base,
                rate=rate.rate,
                amount=amount,
            )
        )
    logistics = None
    if logistics_provider is not None:
        logistics = rates.logistics_rate(
            provider=logistics_provider,
            seller_id=quote_seller_id,
            category_ids=frozenset(line.category_id for line in lines if line.category_id is not None),
            city=city,
            country=country,
            currency=currency,
            now=now,
        )
    if logistics is not None:
        logistics_total = commission_amount(logistics, base=delivery_fee, quantity=1, currency=currency, per_order=True)
        details.append(
            CommissionDetail(
                product_id=None,
                rate_id=logistics.id,
                dimension="logistics",
                commission_type=logistics.commission_type,
                base=delivery_fee,
                rate=logistics.rate,
                amount=logistics_total,
            )
        )
    return CommissionBreakdown(
        total_commission=seller_total + category_total + logistics_total,
        seller_commission=seller_total,
        category_commission=category_total,
        logistics_commission=logistics_total,
        currency=currency,
        details=details,
    )
