"""Step 10 of a quote (API.md §4 Commission rates): what the platform charges the seller.

Sales commission per line on the line after its discount share, from the winning rate for the
line's category, seller (the item's, else the quote's) and delivery region, else the default
rate; attributed to `seller_commission` when the rate names a seller, else to
`category_commission` (computed per line by `settle`). Logistics commission once per quote from
the rate of the quote's `logistics_provider`, on the delivery fee charged (FLAT: once per order).
Flash-sale lines pay commission like any other line. Nothing here changes what the customer pays.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from quote_service.pricing.commission import commission_amount
from quote_service.pricing.lines import Line
from quote_service.pricing.plan import RegionPlan
from quote_service.pricing.quote import CommissionBreakdown, CommissionDetail
from quote_service.pricing.settle import Settled


def commission_breakdown(
    lines: Sequence[Line],
    settled: Settled,
    region: RegionPlan,
    *,
    quote_seller_id: str | None,
    logistics_provider: str | None,
    delivery_fee: Decimal,
) -> CommissionBreakdown:
    """The lines' sales commission plus the per-quote logistics commission; the total is their exact sum."""
    details = settled.details
    logistics_total = region.zero
    logistics = None
    if logistics_provider is not None:
        logistics = region.resolution.logistics_rate(
            provider=logistics_provider,
            seller_id=quote_seller_id,
            category_ids=frozenset(line.category_id for line in lines if line.category_id is not None),
            city=region.city,
            country=region.country,
            currency=region.currency,
            now=region.now,
        )
    if logistics is not None:
        logistics_total = commission_amount(
            logistics, base=delivery_fee, quantity=1, currency=region.currency, per_order=True
        )
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
        total_commission=settled.seller_total + settled.category_total + logistics_total,
        seller_commission=settled.seller_total,
        category_commission=settled.category_total,
        logistics_commission=logistics_total,
        currency=region.currency,
        details=details,
    )
