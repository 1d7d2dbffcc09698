"""An order's money as one typed record, and the one calculator for every change of it. Pure: no I/O, no clock.

## The record

`OrderMoney` is what an order charges: its lines (`LineMoney`: each line's goods, discount, tax and its tax by
code, its commission by kind — category, seller, installment commission, each named fee —, the platform's
contribution, the tax on its commission, so its seller's payout), its fees (`Fees`: the order's own delivery fee
and logistics commission, or each seller's shipment's; the small-basket fee; the named fees charged once per
shipment or order, `OnceFee`). It is built once from a `Quote` and from nothing else (`record_of`), when the
quote is placed as an order and when an edit's basket is priced; what the order has left after refunds is the
same record read back from its rows (order_edits/basis.py), a refund's take of a line is a `LineMoney` of what it
gives back (`taken`).

    Quote ──record_of──▶ OrderMoney ──┐
                                      ├─ change(removed, added) ──▶ Change ──▶ ledger entries (one per seller)
    the order's rows ──what is left──▶┘                                       ──▶ refund / edit / order rows

## The calculator

Every change after the quote is one call of `change(removed, added)`: what it takes off the order and what it
adds, each an `OrderMoney`; the `Change` is their difference, in total and per seller (`SellerEntry`):

| change | removed | added |
|---|---|---|
| placing (an order, a flash purchase) | nothing | the quote's record |
| a refund, a cancel | the units given back, the fees given back, the fees charged once it reverses | nothing |
| an edit or exchange | what the order has left | the edited basket's record |
| a payment of money due | nothing | nothing (it settles `balance_due`: no seller's money moves) |

A seller's entry is its part of the difference: goods, tax (and by code), platform contribution, commission
(its lines' `line_commission`, its shipment's logistics commission, the fees charged to it once), the tax on the
commission, its shipment's delivery fee, its named fees, and its `payout` (`settlement.payout`). The ledger keeps
the entries the change wrote, in the change's transaction (`ledger_entries`: an order's for each seller with a
line, a refund's for each seller it gave something back of, an edit's for each seller whose money it moved); the
statements and the payouts read those, never the order's rows again (docs/architecture.md#money-after-the-quote).

A line's parts are named as refunds name them (`refund_math`): `amount` (its subtotal), `discount`, `tax`,
`seller` and `category` commission, `platform` contribution, `commission_tax`, and where it has them `tax:<code>`
per tax component, `installment_commission`, `exempted` (the tax an exempt tax-inclusive price held) and
`fee:<name>` per named fee; the record's typed views (`goods`, `commission`, `taxes`, `fees`, ...) read them, so
a refund prorates every part alike and the calculator adds them alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from msgspec import UNSET, UnsetType

from quote_service.orders import commission_record, record_math
from quote_service.orders.commission_record import FEE_PART
from quote_service.orders.refund_math import ChargedLine, LineTake
from quote_service.pricing import settlement
from quote_service.pricing.money import ZERO, quantum
from quote_service.pricing.once_fees import OnceFee, quote_once_fees
from quote_service.pricing.quote import Quote, QuoteLine, SelectedInstallment

PLAIN_TAX = "TAX"
"""The one tax code of a line priced by a single rate (as statements name it)."""
LINE_DIMENSIONS = ("category", "seller")
Kind = Literal["order", "refund", "edit"]
"""The ledger's kinds of entries: what wrote them."""


@dataclass(frozen=True)
class LineMoney:
    """One line's money (or what a change moves of it), by its refund_math parts (module docstring)."""

    seller_id: str | None
    parts: Mapping[str, Decimal]
    inclusive: bool = False
    kept: bool = False
    """Its tax components are kept (docs/taxes.md#statements): statements count its tax by their codes."""
    external: bool = False
    """A tax extension answered its tax (docs/extensions.md)."""
    components: tuple[tuple[str, Decimal], ...] | None = None
    """A quote's line: its tax components as the order keeps them (None: the quote kept none)."""

    def part(self, name: str) -> Decimal:
        return self.parts.get(name, ZERO)

    @property
    def goods(self) -> Decimal:
        """After every discount, without tax (a tax-inclusive line's contained tax taken out)."""
        return settlement.goods(self.part("amount"), self.part("discount"), self.part("tax"), inclusive=self.inclusive)

    @property
    def paid(self) -> Decimal:
        """What the customer pays for it: its goods and their tax, added or contained."""
        return self.goods + self.part("tax")

    @property
    def commission(self) -> Decimal:
        return settlement.line_commission(
            self.part("category"), self.part("seller"), self.part("installment_commission"), self.fee_total
        )

    @property
    def payout(self) -> Decimal:
        """What it pays its seller (`settlement.payout`; its shipment's fee and logistics are the order's fees)."""
        return settlement.payout(
            goods=self.goods, tax=self.part("tax"), platform=self.part("platform"), commission=self.commission,
            commission_tax=self.part("commission_tax"), delivery=ZERO,
        )  # fmt: skip

    def fees(self) -> dict[str, Decimal]:
        """Its named commission fees (docs/commission.md), by name."""
        return {name.removeprefix(FEE_PART): amount for name, amount in self.parts.items() if name.startswith(FEE_PART)}

    @property
    def fee_total(self) -> Decimal:
        return sum(self.fees().values(), ZERO)

    def taxes(self) -> dict[str, Decimal]:
        """Its tax by code: its components, else its one rate's."""
        codes = {name[4:]: amount for name, amount in self.parts.items() if name.startswith("tax:")}
        return codes or {PLAIN_TAX: self.part("tax")}

    def code_rows(self) -> list[tuple[str, Decimal]]:
        """Its tax by code as a statement counts it (docs/taxes.md#statements): each kept component (one of 0.00
        too), else its tax under code TAX when it has some."""
        if self.components is not None:
            return list(self.components)
        if self.kept:
            return [(name[4:], amount) for name, amount in self.parts.items() if name.startswith("tax:")]
        tax = self.part("tax")
        return [(PLAIN_TAX, tax)] if tax != ZERO else []


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


NO_FEES = Fees()


@dataclass(frozen=True)
class OrderMoney:
    """An order's money (or what a change takes off it or adds): its lines and its fees."""

    lines: Sequence[LineMoney] = ()
    fees: Fees = NO_FEES

    @property
    def customer_total(self) -> Decimal:
        """What the customer pays for it: goods after discounts, their tax, the fees."""
        return sum((line.paid for line in self.lines), ZERO) + self.fees.total

    @property
    def tax(self) -> Decimal:
        return sum((line.part("tax") for line in self.lines), ZERO)

    @property
    def commission(self) -> Decimal:
        """Every commission: its lines', the logistics commission and the fees charged once."""
        lines = sum((line.commission for line in self.lines), ZERO)
        return lines + self.fees.commission + self.fees.once_commission

    def total(self, part: str, *, inclusive: bool | None = None) -> Decimal:
        """One part summed over the lines (`inclusive`: only the tax-inclusive lines, or only the others)."""
        return sum((line.part(part) for line in self.lines if inclusive is None or line.inclusive is inclusive), ZERO)


NOTHING = OrderMoney()


@dataclass
class SellerEntry:
    """What a change moves of one seller's money: its ledger entry."""

    seller_id: str | None
    goods: Decimal = ZERO
    tax: Decimal = ZERO
    platform: Decimal = ZERO
    commission: Decimal = ZERO
    commission_tax: Decimal = ZERO
    delivery: Decimal = ZERO
    taxes: dict[str, Decimal] = field(default_factory=dict)
    """The change of its tax by code (net: an edit's)."""
    fees: dict[str, Decimal] = field(default_factory=dict)
    """The change of its named commission fees (in `commission`), by name: its lines' and those charged to it
    once per shipment or order (a name of 0.00 too)."""
    codes: dict[tuple[str, bool, bool], list[Decimal]] = field(default_factory=dict)
    """Its tax by (code, kept, external): [collected, given back], as placing and refunds count it."""
    has_lines: bool = False
    """Some line of the seller's is in the change."""

    @property
    def difference_due(self) -> Decimal:
        return self.goods + self.tax + self.delivery

    @property
    def payout(self) -> Decimal:
        return settlement.payout(
            goods=self.goods, tax=self.tax, platform=self.platform, commission=self.commission,
            commission_tax=self.commission_tax, delivery=self.delivery,
        )  # fmt: skip

    @property
    def moved(self) -> bool:
        """Whether the change moved any of the seller's money (a seller it did not touch: none)."""
        amounts = (self.goods, self.tax, self.platform, self.commission, self.commission_tax, self.delivery)
        return any(amounts) or any(self.taxes.values()) or any(self.fees.values())

    def add_line(self, line: LineMoney, sign: int) -> None:
        self.has_lines = True
        self.goods += sign * line.goods
        self.tax += sign * line.part("tax")
        self.platform += sign * line.part("platform")
        self.commission += sign * line.commission
        self.commission_tax += sign * line.part("commission_tax")
        for code, amount in line.taxes().items():
            self.taxes[code] = self.taxes.get(code, ZERO) + sign * amount
        for name, amount in line.fees().items():
            self.fees[name] = self.fees.get(name, ZERO) + sign * amount
        for code, amount in line.code_rows():
            row = self.codes.setdefault((code, line.kept, line.external), [ZERO, ZERO])
            row[0 if sign > 0 else 1] += amount

    def add_fees(self, shipment: tuple[Decimal, Decimal] | None, once: Iterable[OnceFee], sign: int) -> None:
        if shipment is not None:
            fee, logistics = shipment
            self.delivery += sign * fee
            self.commission += sign * logistics
        for charged in once:  # docs/commission.md: a fee charged once per shipment or order
            self.commission += sign * charged.amount
            self.commission_tax += sign * charged.tax
            if charged.name not in LINE_DIMENSIONS:
                self.fees[charged.name] = self.fees.get(charged.name, ZERO) + sign * charged.amount

    def tax_moved(self) -> tuple[Decimal, Decimal]:
        """(collected, given back) of its tax: an edit's codes that grew and those that shrank (without codes: its
        tax by its sign), so a statement's tax adds up to its codes (docs/taxes.md#statements)."""
        if self.taxes:
            collected = sum((max(v, ZERO) for v in self.taxes.values()), ZERO)
            return collected, sum((max(-v, ZERO) for v in self.taxes.values()), ZERO)
        return max(self.tax, ZERO), max(-self.tax, ZERO)


@dataclass(frozen=True)
class Change:
    """A change of an order's money: its difference in total, and per seller."""

    removed: OrderMoney
    added: OrderMoney
    sellers: list[SellerEntry]
    """In order of first appearance: the removed lines' sellers, the added lines', then the fees'."""

    @property
    def difference_due(self) -> Decimal:
        """What the customer owes more (less, negative) after the change."""
        return self.added.customer_total - self.removed.customer_total

    @property
    def tax_delta(self) -> Decimal:
        return self.added.tax - self.removed.tax

    @property
    def commission_delta(self) -> Decimal:
        return self.added.commission - self.removed.commission

    def reversed_(self, part: str, *, inclusive: bool | None = None) -> Decimal:
        """What the change takes off of one line part (the removed lines' less the added ones')."""
        return self.removed.total(part, inclusive=inclusive) - self.added.total(part, inclusive=inclusive)


def change(removed: OrderMoney, added: OrderMoney) -> Change:
    """The calculator: the change that takes `removed` off an order and adds `added` (module docstring)."""
    sellers: dict[str | None, SellerEntry] = {}

    def entry(seller_id: str | None) -> SellerEntry:
        return sellers.setdefault(seller_id, SellerEntry(seller_id))

    for line in removed.lines:
        entry(line.seller_id).add_line(line, -1)
    for line in added.lines:
        entry(line.seller_id).add_line(line, 1)
    for fees, sign in ((removed.fees, -1), (added.fees, 1)):
        for seller_id, shipment in fees.shipments.items():
            entry(seller_id).add_fees(shipment, (), sign)
        for once in fees.once:
            entry(once.seller_id).add_fees(None, (once,), sign)
    return Change(removed, added, list(sellers.values()))


def ledger_entries(made: Change, kind: Kind) -> list[SellerEntry]:
    """The entries the ledger keeps of a change (module docstring): an order's of each seller with a line in it,
    a refund's of each seller it gave something back of, an edit's of each seller whose money it moved. A line
    without a seller has no statement to be in."""
    if kind == "order":
        return [s for s in made.sellers if s.seller_id is not None and s.has_lines]
    if kind == "refund":
        return [s for s in made.sellers if s.seller_id is not None]
    return [s for s in made.sellers if s.seller_id is not None and s.moved]


def taken(take: LineTake, line: ChargedLine) -> LineMoney:
    """What a take of an order line moves (a refund's give-back, or what is left of the line)."""
    return LineMoney(line.seller_id, take.parts, take.prices_include_tax, kept=line.kept, external=line.external)


# --- the record, from a quote -------------------------------------------------------------------------


@dataclass(frozen=True)
class LineCommission:
    """A quote line's commission as the order keeps it: (category, seller), its named fees, the platform's
    contribution and the tax on its commission."""

    category: Decimal
    seller: Decimal
    fees: dict[str, Decimal]
    platform: Decimal
    tax: Decimal


def line_commissions(
    quote: Quote, commission_tax_rate: Decimal, on_lines: Sequence[int | None]
) -> list[LineCommission]:
    """Each quote line's commission from the details on it (`on_lines`: `commission_record.details_on_lines`),
    taxed at `commission_tax_rate` percent once (its category, seller and named fees)."""
    details = quote.commission_breakdown.details
    on = [(line, d.dimension, d.amount) for line, d in zip(on_lines, details, strict=True)]
    commissions = record_math.line_commissions(len(quote.items), on)
    fees = commission_record.line_fees(len(quote.items), on)
    cent = quantum(quote.currency)
    return [
        LineCommission(
            category=category,
            seller=seller,
            fees=named,
            platform=platform_funded(line),
            tax=settlement.commission_tax(
                settlement.line_commission(category, seller, ZERO, sum(named.values(), ZERO)), commission_tax_rate, cent
            ),
        )
        for line, (category, seller), named in zip(quote.items, commissions, fees, strict=True)
    ]


def installment_funded(quote: Quote) -> bool:
    """A seller-funded installment option's commission is charged on the quote's lines (docs/taxes.md)."""
    return isinstance(quote.installment, SelectedInstallment) and bool(quote.installment.installment_commission)


def platform_funded(line: QuoteLine) -> Decimal:
    """The part of the quote line's discount the platform funds (none when the quote shows none)."""
    return ZERO if isinstance(line.platform_funded, UnsetType) else line.platform_funded


def record_of(quote: Quote, commission_tax_rate: Decimal) -> OrderMoney:
    """The quote's money as an order records it (orders/service.py writes these rows)."""
    details = quote.commission_breakdown.details
    on_lines = commission_record.details_on_lines([line.product_id for line in quote.items], details)
    return OrderMoney(
        quote_lines(quote, line_commissions(quote, commission_tax_rate, on_lines)),
        quote_fees(quote, commission_tax_rate),
    )


def quote_lines(quote: Quote, commissions: Sequence[LineCommission]) -> list[LineMoney]:
    """The quote's lines' parts, each with its commission (`line_commissions`)."""
    components = quote.rounding is not UNSET
    # As tax_record.line_taxes keeps a line's components: only in a quote that keeps any line's.
    stored = components or installment_funded(quote) or quote.tax_source == "extension"
    found = []
    for line, charged in zip(quote.items, commissions, strict=True):
        parts = {
            "amount": line.line_subtotal,
            "discount": line.discount,
            "tax": line.tax,
            "category": charged.category,
            "seller": charged.seller,
            "platform": charged.platform,
            "commission_tax": charged.tax,
        }
        parts.update(_extras(line, components))
        parts.update((f"{FEE_PART}{name}", amount) for name, amount in charged.fees.items())
        kept = stored and (components or line.tax_source is not UNSET)
        found.append(
            LineMoney(
                line.seller_id,
                parts,
                line.prices_include_tax is True,
                kept=kept,
                external=stored and line.tax_source == "extension",
                components=tuple((t.code, t.amount) for t in line.taxes or ()) if kept else None,
            )
        )
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


def order_once_fees(rows: Iterable[Any]) -> list[OnceFee]:
    """An order's fees charged once per shipment or order (rows of `refund_repository.charged_once`)."""
    return [_once_fee(r) for r in rows]


def _once_fee(r: Any) -> OnceFee:
    return OnceFee(
        r["per"], r["seller_id"], r["dimension"], r["rate_id"], r["amount"], r["commission_tax"] or ZERO,
        r["commission_type"], r["base"], r["rate"],
    )  # fmt: skip


# --- the ledger's rows of an entry ----------------------------------------------------------------------


def stored_fees(entry: SellerEntry, kind: Kind) -> dict[str, str]:
    """The entry's named fees as the ledger keeps them (exact decimal text): an edit's that moved, every other
    entry's every name (0.00 too)."""
    return {name: str(amount) for name, amount in entry.fees.items() if amount or kind != "edit"}


def tax_counts(entry: SellerEntry, kind: Kind) -> tuple[Decimal, Decimal]:
    """(collected, given back) of the entry's tax, as its statement counts it: an order's collected, a refund's
    given back, an edit's by its codes (`SellerEntry.tax_moved`)."""
    if kind == "order":
        return entry.tax, ZERO
    if kind == "refund":
        return ZERO, -entry.tax
    return entry.tax_moved()


def tax_rows(entry: SellerEntry, kind: Kind) -> list[tuple[str, bool, bool, Decimal, Decimal]]:
    """The entry's tax by code as the statement counts it (code, kept, external, collected, given back): an order's
    and a refund's by their lines' codes, an edit's by the change of each code (those that moved)."""
    if kind != "edit":
        return [(code, kept, external, counts[0], counts[1]) for (code, kept, external), counts in entry.codes.items()]
    kept = any(code != PLAIN_TAX for code in entry.taxes)
    return [(code, kept, False, max(v, ZERO), max(-v, ZERO)) for code, v in entry.taxes.items() if v != ZERO]
