"""Fees charged once per shipment or order (docs/commission.md), and an order edit's fees as an input of the quote
engine (`EditFees`): the fees an order charged once stay as charged, and the fees it already gave back stay given
back, in the edited basket's quote (docs/orders-and-refunds.md#edits-and-exchanges). Pure (no I/O, no clock).

The engine's last step (`edit_fees`) waives the fees given back (`without_fees`), then charges the once-charged
fees the edited basket keeps (`kept_once_fees`, `with_once_fees`); each seller's totals follow, its payout by the
one formula (`settlement.seller_payout`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType
from msgspec.structs import replace

from quote_service.pricing.money import ZERO, quantum
from quote_service.pricing.quote import CommissionDetail, CommissionFee, Quote, SellerTotals, Shipment
from quote_service.pricing.settlement import commission_tax, seller_payout


@dataclass(frozen=True)
class OnceFee:
    """A named commission fee charged once per shipment or per order (docs/commission.md), to `seller_id`,
    with the commission tax on it."""

    per: str
    seller_id: str | None
    name: str
    rate_id: UUID | None
    amount: Decimal
    tax: Decimal
    commission_type: str = "FLAT"
    base: Decimal = ZERO
    rate: Decimal | None = None

    def detail(self) -> CommissionDetail:
        """The fee as a quote's commission detail (no line's)."""
        return CommissionDetail(
            product_id=None, rate_id=self.rate_id, dimension=self.name,
            commission_type=self.commission_type,  # type: ignore[arg-type]
            base=self.base, rate=self.rate, amount=self.amount,
            per=self.per, seller_id=self.seller_id,  # type: ignore[arg-type]
        )  # fmt: skip

    @property
    def key(self) -> tuple[str, str | None, str, UUID | None]:
        """What makes it the same fee before and after an edit: an order's is one whoever pays it."""
        return self.per, self.seller_id if self.per == "shipment" else None, self.name, self.rate_id


class EditFees(msgspec.Struct, frozen=True):
    """An input of the quote engine (`price_quote(edit_fees=...)`): what an order edit's priced basket keeps of its
    order's fees (docs/orders-and-refunds.md#edits-and-exchanges). A struct: built in C."""

    charged_once: Sequence[OnceFee]
    """The order's fees charged once per shipment or order, not reversed (`kept_once_fees`' `before`)."""
    given_back: Collection[str | None] | None
    """The sellers whose shipment fees the order already gave back (empty: none); None: every fee (its fees
    were refunded)."""


def edit_fees(quote: Quote, fees: EditFees, commission_tax_rate: Decimal) -> Quote:
    """The engine's step for an order edit's basket: the fees given back waived again, then the fees charged once
    as the order charged them (`kept_once_fees`), in place of the basket's own."""
    given = fees.given_back
    if given is None or given:
        quote = without_fees(quote, given)
    own = quote_once_fees(quote, commission_tax_rate)
    kept = kept_once_fees(own, fees.charged_once, {i.seller_id for i in quote.items})
    return with_once_fees(quote, kept, commission_tax_rate)


def charged_once(
    detail: CommissionDetail, commission_tax_rate: Decimal, cent: Decimal
) -> tuple[str | None, str | None, Decimal | None]:
    """A fee charged once per shipment or order: (per, its seller, the tax on it, as a line's commission is
    taxed: COMMISSION_TAX_RATE, rounded once); (None, None, None) for any other detail."""
    if isinstance(detail.per, UnsetType):
        return None, None, None
    seller_id = None if isinstance(detail.seller_id, UnsetType) else detail.seller_id
    return detail.per, seller_id, commission_tax(detail.amount, commission_tax_rate, cent)


def _once(detail: CommissionDetail, commission_tax_rate: Decimal, cent: Decimal) -> OnceFee | None:
    per, seller_id, tax = charged_once(detail, commission_tax_rate, cent)
    if per is None or tax is None:
        return None
    return OnceFee(
        per, seller_id, detail.dimension, detail.rate_id, detail.amount, tax, detail.commission_type, detail.base,
        detail.rate,
    )  # fmt: skip


def quote_once_fees(quote: Quote, commission_tax_rate: Decimal) -> list[OnceFee]:
    """The named fees the quote charges once per shipment or order, with their commission tax."""
    cent = quantum(quote.currency)
    found = (_once(d, commission_tax_rate, cent) for d in quote.commission_breakdown.details)
    return [fee for fee in found if fee is not None]


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
