"""Step 10 of a quote (docs/commission.md): what the platform charges the seller.

Three components that add up. Per line, on the line after its discount share (computed by
`settle`): `category_commission` from the winning category rate for the line's category, seller
(the item's, else the quote's) and delivery region, else the default rate; `seller_commission`
from the winning seller rate, when one matches. Once per quote: `logistics_commission` from the
rate of the quote's `logistics_provider`, on the delivery fee charged (FLAT: once per order).
Flash-sale lines pay commission like any other line. Nothing here changes what the customer pays.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from quote_service.pricing.commission import commission_amount
from quote_service.pricing.fx_convert import Converter
from quote_service.pricing.fx_rates import Conversion
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
    fx: Converter | None = None,
) -> CommissionBreakdown:
    """The lines' category and seller commission plus the quote's logistics commission; the total is their sum.
    `fx`: the quote's conversions, which lock the rate a logistics rate in another currency converted at."""
    details = settled.details
    logistics_total = region.zero
    if logistics_provider is not None:
        categories = frozenset(line.priced.category_id for line in lines if line.priced.category_id is not None)
        key = (logistics_provider, quote_seller_id, categories, delivery_fee)
        found = region.logistics.get(key)
        if found is None:
            found = region.remember(region.logistics, key, _logistics(region, key))
        logistics_total, detail, conversion = found
        if detail is not None:
            details.append(detail)
        if conversion is not None and fx is not None:
            fx.lock(conversion)
    return CommissionBreakdown(
        total_commission=settled.seller_total + settled.category_total + logistics_total,
        seller_commission=settled.seller_total,
        category_commission=settled.category_total,
        logistics_commission=logistics_total,
        currency=region.currency,
        details=details,
    )


def _logistics(
    region: RegionPlan, key: tuple[str, str | None, frozenset[str], Decimal]
) -> tuple[Decimal, CommissionDetail | None, Conversion | None]:
    """The logistics commission of a quote, its detail line (None without a matching rate) and the rate its
    rate was converted at (None: it is priced in the quote's currency, or in every one)."""
    provider, seller_id, categories, delivery_fee = key
    rate, conversion = region.logistics_rate(provider, seller_id, categories)
    if rate is None:
        return region.zero, None, None
    amount = commission_amount(rate, base=delivery_fee, quantity=1, currency=region.currency, per_order=True)
    detail = CommissionDetail(
        product_id=None,
        rate_id=rate.id,
        dimension="logistics",
        commission_type=rate.commission_type,
        base=delivery_fee,
        rate=rate.rate,
        amount=amount,
    )
    return amount, detail, conversion
