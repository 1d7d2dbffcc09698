"""What an edit does to its edited basket's quote before its money is worked out (orders/money.py works it
out: the edit is the change from what the order has left to the edited basket's record). Pure (no I/O, no clock).

The fees an order charged once per shipment or order stay as charged (`kept_once_fees`, `with_once_fees`), and
the fees it already gave back stay given back (`without_fees`); each seller's totals follow, its payout by the
one formula (`settlement.seller_payout`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

from msgspec import UNSET, UnsetType
from msgspec.structs import replace

from quote_service.orders.money import OnceFee, quote_once_fees
from quote_service.pricing.money import ZERO, quantum
from quote_service.pricing.quote import CommissionFee, Quote, SellerTotals, Shipment
from quote_service.pricing.settlement import seller_payout


def kept_once_fees(
    after: Sequence[OnceFee], before: Sequence[OnceFee], sellers: Collection[str | None]
) -> list[OnceFee]:
    """The fees charged once an edited basket keeps, as a refund would (docs/commission.md): of the order's
    (`before`), each stays as charged (its seller, its amount) while its shipment has units (a shipment's: its
    seller is among the edited basket's `sellers`) or always (an order's: an edit never takes the order's last
    unit); a shipment's whose seller has no unit left is reversed. One the edited basket charges (`after`)
    that the order did not (a new seller's shipment, a rate that wins now) is charged."""
    was = {fee.key: fee for fee in before}
    kept = [was.get(fee.key, fee) for fee in after]
    charged = {fee.key for fee in after}
    kept += [fee for fee in before if fee.key not in charged and (fee.per == "order" or fee.seller_id in sellers)]
    return kept


def with_once_fees(quote: Quote, fees: Sequence[OnceFee], commission_tax_rate: Decimal) -> Quote:
    """`quote` charging `fees` once per shipment or order in place of its own (`kept_once_fees`): its details,
    `fees`, `total_commission` and each seller's commission, its tax, fees and payout follow."""
    own = quote_once_fees(quote, commission_tax_rate)
    if own == list(fees):
        return quote
    breakdown = quote.commission_breakdown
    details = [d for d in breakdown.details if isinstance(d.per, UnsetType)]
    at = next((i for i, d in enumerate(details) if d.dimension == "logistics"), len(details))
    details[at:at] = [fee.detail() for fee in fees]
    moved: dict[str | None, dict[str, Decimal]] = {}
    taxed: dict[str | None, Decimal] = {}
    for fee, sign in [(f, -1) for f in own] + [(f, 1) for f in fees]:
        mine = moved.setdefault(fee.seller_id, {})
        mine[fee.name] = mine.get(fee.name, ZERO) + sign * fee.amount
        taxed[fee.seller_id] = taxed.get(fee.seller_id, ZERO) + sign * fee.tax
    change = sum((f.amount for f in fees), ZERO) - sum((f.amount for f in own), ZERO)
    names = _fee_sums(breakdown.fees)
    for mine in moved.values():
        for name, amount in mine.items():
            names[name] = names.get(name, ZERO) + amount
    breakdown = replace(
        breakdown,
        details=details,
        total_commission=breakdown.total_commission + change,
        fees=_fee_list(names) if names else breakdown.fees,
    )
    sellers = quote.sellers
    if sellers is not UNSET:
        sellers = [_seller_moved(s, moved.get(s.seller_id, {}), taxed.get(s.seller_id, ZERO)) for s in sellers]
    return replace(quote, commission_breakdown=breakdown, sellers=sellers)


def _fee_sums(fees: list[CommissionFee] | UnsetType) -> dict[str, Decimal]:
    return {} if isinstance(fees, UnsetType) else {f.name: f.amount for f in fees}


def _fee_list(fees: Mapping[str, Decimal]) -> list[CommissionFee]:
    return [CommissionFee(name=name, amount=fees[name]) for name in sorted(fees)]


def _seller_moved(seller: SellerTotals, fees: Mapping[str, Decimal], tax: Decimal) -> SellerTotals:
    if not fees and not tax:
        return seller
    change = sum(fees.values(), ZERO)
    names = _fee_sums(seller.fees)
    for name, amount in fees.items():
        names[name] = names.get(name, ZERO) + amount
    moved = replace(
        seller,
        commission=seller.commission + change,
        commission_tax=seller.commission_tax + tax,
        fees=_fee_list(names) if names else seller.fees,
    )
    return replace(moved, payout=seller_payout(moved))


def without_fees(quote: Quote, sellers: Collection[str | None] | None) -> Quote:
    """`quote` with fees the order already gave back waived again: every fee (`sellers` None: the order's
    fees were refunded), or the shipment fees (and their logistics commission) of `sellers`. Every total
    still adds up: the delivery fee is its shipments', the commission its parts', the sellers' payouts
    their formula's."""
    zero = ZERO.quantize(quantum(quote.currency))
    shipments: list[Shipment] | UnsetType
    if quote.shipments is UNSET:
        if sellers is not None:
            return quote
        waived_delivery, waived_logistics = quote.delivery_fee, quote.commission_breakdown.logistics_commission
        shipments, seller_totals = UNSET, quote.sellers
    else:
        waived = [s for s in quote.shipments if sellers is None or s.seller_id in sellers]
        waived_delivery = sum((s.delivery_fee for s in waived), zero)
        waived_logistics = sum((s.logistics_commission for s in waived), zero)
        gone = {s.seller_id for s in waived}
        shipments = [
            replace(s, delivery_fee=zero, logistics_commission=zero) if s.seller_id in gone else s
            for s in quote.shipments
        ]
        seller_totals = quote.sellers
        if seller_totals is not UNSET:
            by_seller = {s.seller_id: s for s in quote.shipments}
            seller_totals = [
                _waived(t, by_seller[t.seller_id].logistics_commission, zero) if t.seller_id in gone else t
                for t in seller_totals
            ]
    small = quote.small_basket_fee if sellers is None else zero
    breakdown = quote.commission_breakdown
    breakdown = replace(
        breakdown,
        logistics_commission=breakdown.logistics_commission - waived_logistics,
        total_commission=breakdown.total_commission - waived_logistics,
        details=[d for d in breakdown.details if d.dimension != "logistics"]
        if breakdown.logistics_commission == waived_logistics
        else breakdown.details,
    )
    return replace(
        quote,
        delivery_fee=quote.delivery_fee - waived_delivery,
        small_basket_fee=quote.small_basket_fee - small,
        total_amount=quote.total_amount - waived_delivery - small,
        commission_breakdown=breakdown,
        shipments=shipments,
        sellers=seller_totals,
    )


def _waived(totals: SellerTotals, logistics: Decimal, zero: Decimal) -> SellerTotals:
    """A seller's totals without its shipment's fee and the logistics commission on it."""
    waived = replace(totals, delivery_fee=zero, commission=totals.commission - logistics)
    return replace(waived, payout=seller_payout(waived))
