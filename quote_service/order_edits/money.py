"""The money of an order edit: what the order has left, what the edited basket charges, and the difference,
in total, per seller and part by part. Pure (no I/O, no clock), so every case is a unit test.

What the order has left is what a refund of everything still unrefunded would give back (`refund_math`:
each live line's parts less what refunds took, exactly), and the fees not given back. What the edited
basket charges is its quote's, line by line as an order records it (`quote_lines`: each line's category
and seller commission from the details on it, its platform contribution, the tax on its commission).
A committed edit retires the old lines and writes the new ones, so each difference below is exact:

    difference_due = edited total_amount - (the lines' remaining goods and added tax + fees not refunded)

and each seller's ledger entry (goods, tax, platform contribution, commission, commission tax, delivery)
is its new parts less its old ones, so a seller's statement still adds up entry by entry.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from msgspec import UNSET, UnsetType
from msgspec.structs import replace

from quote_service.orders import commission_record, record_math
from quote_service.orders.commission_record import FEE_PART
from quote_service.orders.refund_math import LineTake
from quote_service.pricing.money import ZERO, quantum
from quote_service.pricing.quote import CommissionDetail, CommissionFee, Quote, QuoteLine, SellerTotals, Shipment

PLAIN_TAX = "TAX"
"""The one tax code of a line priced by a single rate (as statements name it)."""


@dataclass(frozen=True)
class LineMoney:
    """One line's parts (refund_math's names: amount, discount, tax, seller, category, platform,
    commission_tax, and `tax:<code>`, `installment_commission`, `exempted` where it has them)."""

    seller_id: str | None
    parts: Mapping[str, Decimal]
    inclusive: bool = False

    def part(self, name: str) -> Decimal:
        return self.parts.get(name, ZERO)

    @property
    def goods(self) -> Decimal:
        """After every discount, without tax (a tax-inclusive line's contained tax taken out)."""
        return self.part("amount") - self.part("discount") - (self.part("tax") if self.inclusive else ZERO)

    @property
    def commission(self) -> Decimal:
        return self.part("seller") + self.part("category") + self.part("installment_commission") + self.fee_total

    def fees(self) -> dict[str, Decimal]:
        """The line's named commission fees (docs/commission.md), by name."""
        return {name.removeprefix(FEE_PART): amount for name, amount in self.parts.items() if name.startswith(FEE_PART)}

    @property
    def fee_total(self) -> Decimal:
        return sum(self.fees().values(), ZERO)

    def taxes(self) -> dict[str, Decimal]:
        """The tax by code: its components, else its one rate's."""
        codes = {name[4:]: amount for name, amount in self.parts.items() if name.startswith("tax:")}
        return codes or {PLAIN_TAX: self.part("tax")}


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


@dataclass(frozen=True)
class Fees:
    """An order's (or an edited basket's) fees still charged: the order's own delivery fee and logistics
    commission (no shipments), the small-basket fee, each seller's shipment's (fee, logistics), and the named
    commission fees charged once per shipment or order not reversed (`once`)."""

    delivery: Decimal = ZERO
    small_basket: Decimal = ZERO
    logistics: Decimal = ZERO
    shipments: Mapping[str | None, tuple[Decimal, Decimal]] = field(default_factory=dict)
    once: Sequence[OnceFee] = ()

    @property
    def total(self) -> Decimal:
        return self.delivery + self.small_basket + sum((fee for fee, _ in self.shipments.values()), ZERO)

    @property
    def commission(self) -> Decimal:
        """The logistics commission (the named fees charged once are `once_commission`)."""
        return self.logistics + sum((logistics for _, logistics in self.shipments.values()), ZERO)

    @property
    def once_commission(self) -> Decimal:
        return sum((fee.amount for fee in self.once), ZERO)


@dataclass
class SellerDelta:
    """What an edit changes of one seller's part: its ledger entry, and what the customer pays it."""

    seller_id: str | None
    goods: Decimal = ZERO
    tax: Decimal = ZERO
    platform: Decimal = ZERO
    commission: Decimal = ZERO
    commission_tax: Decimal = ZERO
    delivery: Decimal = ZERO
    taxes: dict[str, Decimal] = field(default_factory=dict)
    fees: dict[str, Decimal] = field(default_factory=dict)
    """The change of its named commission fees (in `commission`), by name: its lines' and those charged to it
    once per shipment or order."""

    @property
    def difference_due(self) -> Decimal:
        return self.goods + self.tax + self.delivery

    @property
    def moved(self) -> bool:
        """Whether the edit moved any of the seller's money (a seller it did not touch: none, and no entry)."""
        amounts = (self.goods, self.tax, self.platform, self.commission, self.commission_tax, self.delivery)
        return any(amounts) or any(self.taxes.values()) or any(self.fees.values())


@dataclass(frozen=True)
class EditMoney:
    difference_due: Decimal
    tax_delta: Decimal
    commission_delta: Decimal
    sellers: list[SellerDelta]
    """In order of first appearance: the old lines' sellers, then new ones."""


def quote_lines(quote: Quote, commission_tax_rate: Decimal) -> list[LineMoney]:
    """The quote's lines' parts, as placing it as an order records them (orders/service.py)."""
    details = quote.commission_breakdown.details
    on_lines = commission_record.details_on_lines([line.product_id for line in quote.items], details)
    on = [(at, d.dimension, d.amount) for at, d in zip(on_lines, details, strict=True)]
    commissions = record_math.line_commissions(len(quote.items), on)
    named = commission_record.line_fees(len(quote.items), on)
    cent = quantum(quote.currency)
    components = quote.rounding is not UNSET
    found = []
    for line, (category, seller), fees in zip(quote.items, commissions, named, strict=True):
        charged = category + seller + sum(fees.values(), ZERO)  # taxed as write_record taxes it
        parts = {
            "amount": line.line_subtotal,
            "discount": line.discount,
            "tax": line.tax,
            "category": category,
            "seller": seller,
            "platform": ZERO if line.platform_funded is UNSET else line.platform_funded,
            "commission_tax": record_math.commission_tax(charged, commission_tax_rate, cent),
        }
        parts.update(_extras(line, components))
        parts.update((f"{FEE_PART}{name}", amount) for name, amount in fees.items())
        found.append(LineMoney(line.seller_id, parts, line.prices_include_tax is True))
    return found


def _extras(line: QuoteLine, components: bool) -> dict[str, Decimal]:
    """A line's parts beyond the seven: its tax components (a quote under docs/taxes.md's terms),
    installment commission and exempted tax."""
    extras: dict[str, Decimal] = {}
    if components and line.taxes is not UNSET:
        for tax in line.taxes:
            extras[f"tax:{tax.code}"] = extras.get(f"tax:{tax.code}", ZERO) + tax.amount
    if line.installment_commission is not UNSET:
        extras["installment_commission"] = line.installment_commission
    if line.tax_exempted is not UNSET:
        extras["exempted"] = line.tax_exempted
    return extras


def remaining_lines(takes: Iterable[LineTake], sellers: Mapping[int, str | None]) -> list[LineMoney]:
    """What is left of each live line (`refund_math.everything_left`), by its seller (`sellers`: position → seller)."""
    return [LineMoney(sellers[t.position], t.parts, t.prices_include_tax) for t in takes]


def quote_fees(quote: Quote, commission_tax_rate: Decimal) -> Fees:
    """The fees the quote charges."""
    once = quote_once_fees(quote, commission_tax_rate)
    if quote.shipments is UNSET:
        return Fees(
            delivery=quote.delivery_fee,
            small_basket=quote.small_basket_fee,
            logistics=quote.commission_breakdown.logistics_commission,
            once=once,
        )
    return Fees(
        small_basket=quote.small_basket_fee,
        shipments={s.seller_id: (s.delivery_fee, s.logistics_commission) for s in quote.shipments},
        once=once,
    )


def _once(detail: CommissionDetail, commission_tax_rate: Decimal, cent: Decimal) -> OnceFee | None:
    per, seller_id, tax = commission_record.charged_once(detail, commission_tax_rate, cent)
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


def order_once_fees(rows: Iterable[Any]) -> list[OnceFee]:
    """An order's live fees charged once per shipment or order and not reversed (rows of
    `refund_repository.charged_once`)."""
    return [
        OnceFee(
            r["per"],
            r["seller_id"],
            r["dimension"],
            r["rate_id"],
            r["amount"],
            r["commission_tax"] or ZERO,
            r["commission_type"],
            r["base"],
            r["rate"],
        )
        for r in rows
    ]


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
    return replace(
        seller,
        commission=seller.commission + change,
        commission_tax=seller.commission_tax + tax,
        payout=seller.payout - change - tax,
        fees=_fee_list(names) if names else seller.fees,
    )


def customer_total(lines: Iterable[LineMoney], fees: Fees) -> Decimal:
    """What the customer pays for these lines and fees: goods after discounts, their tax, the fees."""
    return sum((line.goods + line.part("tax") for line in lines), ZERO) + fees.total


def difference(
    before: Sequence[LineMoney], fees_before: Fees, after: Sequence[LineMoney], fees_after: Fees
) -> EditMoney:
    """The edit from the order's remaining lines and fees to the edited basket's."""
    sellers: dict[str | None, SellerDelta] = {}

    def add(line: LineMoney, sign: int) -> None:
        entry = sellers.setdefault(line.seller_id, SellerDelta(line.seller_id))
        entry.goods += sign * line.goods
        entry.tax += sign * line.part("tax")
        entry.platform += sign * line.part("platform")
        entry.commission += sign * line.commission
        entry.commission_tax += sign * line.part("commission_tax")
        for code, amount in line.taxes().items():
            entry.taxes[code] = entry.taxes.get(code, ZERO) + sign * amount
        for name, amount in line.fees().items():
            entry.fees[name] = entry.fees.get(name, ZERO) + sign * amount

    for line in before:
        add(line, -1)
    for line in after:
        add(line, 1)
    for fees, sign in ((fees_before, -1), (fees_after, 1)):
        for seller_id, (fee, logistics) in fees.shipments.items():
            entry = sellers.setdefault(seller_id, SellerDelta(seller_id))
            entry.delivery += sign * fee
            entry.commission += sign * logistics
        for once in fees.once:  # docs/commission.md: a fee charged once per shipment or order
            entry = sellers.setdefault(once.seller_id, SellerDelta(once.seller_id))
            entry.commission += sign * once.amount
            entry.commission_tax += sign * once.tax
            entry.fees[once.name] = entry.fees.get(once.name, ZERO) + sign * once.amount
    return EditMoney(
        difference_due=customer_total(after, fees_after) - customer_total(before, fees_before),
        tax_delta=sum((line.part("tax") for line in after), ZERO) - sum((line.part("tax") for line in before), ZERO),
        commission_delta=sum((line.commission for line in after), ZERO)
        + fees_after.commission
        + fees_after.once_commission
        - sum((line.commission for line in before), ZERO)
        - fees_before.commission
        - fees_before.once_commission,
        sellers=list(sellers.values()),
    )


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
                replace(
                    t,
                    delivery_fee=zero,
                    commission=t.commission - by_seller[t.seller_id].logistics_commission,
                    payout=t.payout - t.delivery_fee + by_seller[t.seller_id].logistics_commission,
                )
                if t.seller_id in gone
                else t
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
