"""A marketplace quote's per-seller totals (docs/shipping.md#per-seller-totals). Pure.

Each seller's goods (its lines' subtotals), discount, tax (added; `tax_included`: contained), delivery
fee (its shipment's), commission (its lines' category and seller parts, and its shipment's logistics
commission), commission tax (per line, at COMMISSION_TAX_RATE, rounded once, as an order records it)
and payout, the seller statement's formula on this basket:

    payout = goods - discount + tax + platform-funded discounts - commission - commission_tax + delivery_fee

(less, for an exempt tax-inclusive line, the tax its price held: it charges its net, docs/taxes.md).

Every field summed over the sellers is the quote's own figure (subtotal, discount_amount, tax_amount,
tax_included, delivery_fee, total_commission): each line and each shipment belongs to exactly one seller.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from msgspec import UNSET

from quote_service.pricing.lines import Line
from quote_service.pricing.quote import QuoteLine, SellerTotals
from quote_service.pricing.settle import Settled
from quote_service.pricing.shipments import Shipments


def commission_tax(commission: Decimal, percent: Decimal, cent: Decimal) -> Decimal:
    """The tax on a line's commission (category + seller) at `percent`, rounded half up once."""
    if not percent:
        return Decimal(0).quantize(cent)
    return (commission * percent / 100).quantize(cent, ROUND_HALF_UP)


def seller_totals(
    shipments: Shipments, lines: Sequence[Line], settled: Settled, *, commission_tax_rate: Decimal, cent: Decimal
) -> list[SellerTotals]:
    """Each shipment's seller's share of the quote, in the shipments' order."""
    zero = shipments.zero
    sums: dict[
        str | None, list[Decimal]
    ] = {}  # seller -> [goods, discount, tax, included, platform - exempted, commission, tax on it]
    details = settled.details
    at = 0  # settle writes each line's category detail, then its seller detail when its plan has a seller rate
    for line, item in zip(lines, settled.items, strict=True):
        taken = 1 if line.priced.plan.seller_rate is None else 2
        commission = sum((detail.amount for detail in details[at : at + taken]), zero)
        at += taken
        entry = sums.setdefault(line.priced.seller_id, [zero] * 7)
        entry[0] += item.line_subtotal
        entry[1] += item.discount
        entry[3 if line.priced.inclusive else 2] += item.tax
        entry[4] += _platform(item, zero)
        exempted = item.tax_exempted
        if exempted is not UNSET:  # docs/taxes.md#exemptions: the line charges its net (`is not`: no call a line)
            entry[4] -= exempted
        entry[5] += commission
        entry[6] += commission_tax(commission, commission_tax_rate, cent)
    totals = []
    for parcel in shipments.parcels:
        goods, discount, tax, included, platform, commission, tax_on_it = sums[parcel.seller_id]
        commission += parcel.logistics
        totals.append(
            SellerTotals(
                seller_id=parcel.seller_id,
                goods=goods,
                discount=discount,
                tax=tax,
                tax_included=included,
                delivery_fee=parcel.fee,
                commission=commission,
                commission_tax=tax_on_it,
                payout=goods - discount + tax + platform - commission - tax_on_it + parcel.fee,
            )
        )
    return totals


def _platform(item: QuoteLine, zero: Decimal) -> Decimal:
    funded = item.platform_funded
    return funded if isinstance(funded, Decimal) else zero
