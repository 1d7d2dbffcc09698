"""A marketplace quote's per-seller totals (docs/shipping.md#per-seller-totals). Pure.

Each seller's goods (its lines' subtotals), discount, tax (added; `tax_included`: contained), delivery
fee (its shipment's), commission (its lines' category and seller parts, and its shipment's logistics
commission), commission tax (per line, at COMMISSION_TAX_RATE, rounded once, as an order records it)
and payout, the seller statement's formula on this basket (`settlement.payout`, goods after discount):

    payout = goods - discount + tax + platform_contribution - commission - commission_tax + delivery_fee

An exempt tax-inclusive line's subtotal already leaves out the tax its price held (docs/taxes.md), which
its seller's `tax_exempted` shows. `platform_contribution` (what the platform pays for its discounts on the
seller's lines) and `tax_exempted` are on every seller of a quote that has some, so each payout can be
worked out again from its own entry.

Every field summed over the sellers is the quote's own figure (subtotal, discount_amount, tax_amount,
tax_included, delivery_fee, total_commission): each line and each shipment belongs to exactly one seller.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from msgspec import UNSET

from quote_service.pricing.commission_charges import Charges
from quote_service.pricing.lines import Line
from quote_service.pricing.quote import CommissionFee, SellerTotals
from quote_service.pricing.settle import Settled
from quote_service.pricing.settlement import commission_tax, payout
from quote_service.pricing.shipments import Shipments


def seller_totals(
    shipments: Shipments,
    lines: Sequence[Line],
    settled: Settled,
    *,
    commission_tax_rate: Decimal,
    cent: Decimal,
    charges: Charges | None = None,
) -> list[SellerTotals]:
    """Each shipment's seller's share of the quote, in the shipments' order. `charges`: the commission as
    docs/commission.md charges it (each line's, and the fees charged per shipment or order, each taxed once)."""
    zero = shipments.zero
    # seller -> [goods, discount, tax, included, platform, commission, tax on it, exempted]
    sums: dict[str | None, list[Decimal]] = {}
    details = settled.details
    funded = exempt = False  # some line has a platform-funded discount, or is exempt tax-inclusive
    at = 0  # settle writes each line's category detail, then its seller detail when its plan has a seller rate
    for index, (line, item) in enumerate(zip(lines, settled.items, strict=True)):
        if charges is None:
            commission = zero + details[at].amount  # its category detail (written out: no call a line)
            at += 1
            if line.priced.plan.seller_rate is not None:  # and its seller detail
                commission += details[at].amount
                at += 1
        else:
            commission = charges.lines[index][0]
        entry = sums.setdefault(line.priced.seller_id, [zero] * 8)
        entry[0] += item.line_subtotal
        entry[1] += item.discount
        entry[3 if line.priced.inclusive else 2] += item.tax
        platform = item.platform_funded
        if platform is not UNSET:  # `is not`, no call: a line without one costs nothing
            entry[4] += platform
            funded = True
        exempted = item.tax_exempted
        if exempted is not UNSET:  # docs/taxes.md#exemptions: already out of its line_subtotal
            entry[7] += exempted
            exempt = True
        entry[5] += commission
        entry[6] += commission_tax(commission, commission_tax_rate, cent)
    if charges is not None:
        for group in charges.groups:  # a fee per shipment or order: its seller's, taxed once
            entry = sums[group.seller_id]
            entry[5] += group.amount
            entry[6] += commission_tax(group.amount, commission_tax_rate, cent)
    totals = []
    for parcel in shipments.parcels:
        goods, discount, tax, included, platform, commission, tax_on_it, exempted = sums[parcel.seller_id]
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
                payout=payout(
                    goods=goods - discount,
                    tax=tax,
                    platform=platform,
                    commission=commission,
                    commission_tax=tax_on_it,
                    delivery=parcel.fee,
                ),
                platform_contribution=platform if funded else UNSET,
                tax_exempted=exempted if exempt else UNSET,
                fees=UNSET if charges is None or not charges.fees else seller_fees(charges, parcel.seller_id, zero),
            )
        )
    return totals


def seller_fees(charges: Charges, seller_id: str | None, zero: Decimal) -> list[CommissionFee]:
    """One seller's named fees, every name of the quote's in name order (0 where it paid none)."""
    fees = dict.fromkeys(charges.fees, zero)
    for (_, on_line), item_seller in zip(charges.lines, charges.sellers, strict=True):
        if item_seller == seller_id:
            for name, amount in on_line.items():
                fees[name] += amount
    for group in charges.groups:
        if group.seller_id == seller_id and group.component in fees:
            fees[group.component] += group.amount
    return [CommissionFee(name=name, amount=fees[name]) for name in sorted(fees)]
