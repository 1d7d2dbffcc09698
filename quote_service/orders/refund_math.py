"""The money of a refund, split exactly: pure (no I/O, no clock), so every case is a unit test.

A line was charged, once, seven parts: `amount` (its subtotal before coupons), `discount`, `tax`,
the `seller` and `category` commission parts, the `platform` contribution (what the platform pays
the seller for its platform-funded discounts) and the `commission_tax` (the tax on the commission).
A refund of `n` of its `quantity` units takes, of each part, the unit's share (the part ÷ quantity,
ROUND_HALF_UP to the currency's minor unit) times `n` — never more than what is left of that part —
and the refund that takes a line's LAST units takes exactly what is left. So refunding everything,
in any split, returns exactly what was charged, to the minor unit, part by part.

A line with named commission fees (docs/commission.md) has a part per fee (`fee:payment_fee`), split the
same way. A line under taxes as markets have them (docs/taxes.md) has a part per tax component (`tax:OTV`,
`tax:KDV`), each split the same way, and its `tax` is then their sum; an exempt tax-inclusive line has
the part `exempted` (the tax its price held, never charged: its `amount` already leaves it out), shown
beside what the customer gets back. Their unit shares round in the order's ROUNDING_MODE.

The order's fees (delivery, small basket) and the logistics commission on the delivery fee are
refunded once, whole, by the first refund that asks for them (`include_fees`, or a cancel). An order
with shipments gives each shipment's fee (and its logistics commission) back once, by a refund that
names its seller or by the first that asks for the fees (docs/shipping.md).

What an order edit made due and no payment settled yet (`balance_due`) was never charged: a reversal
(a refund, a cancel, an edit's negative difference) takes what it is worth off that first, and only the
rest goes back to the customer (`against_due`). So what comes back never exceeds what was charged and
paid (docs/orders-and-refunds.md#money-due-and-payments).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from quote_service.pricing.money import ZERO, quantum
from quote_service.pricing.settlement import units_share

LINE_PARTS = ("amount", "discount", "tax", "seller", "category", "platform", "commission_tax")
FEE_PARTS = ("delivery_fee", "small_basket_fee", "logistics_commission")


@dataclass(frozen=True, kw_only=True)
class ChargedLine:
    """One order line as charged, and what earlier refunds took of it."""

    position: int
    product_id: str
    quantity: int
    charged: Mapping[str, Decimal]
    """Each of LINE_PARTS, as charged (missing: none; an order placed before the part was kept)."""
    refunded_units: int = 0
    refunded: Mapping[str, Decimal] = field(default_factory=dict)
    """Each of LINE_PARTS, summed over earlier refunds (missing: nothing yet)."""
    prices_include_tax: bool = False
    """A gross line: its `tax` is contained in `amount - discount`, not added (docs/markets.md)."""
    extras: tuple[str, ...] = ()
    """Its parts beyond LINE_PARTS: `tax:<code>` per tax component, `exempted` (docs/taxes.md), `fee:<name>`
    per named commission fee (docs/commission.md)."""
    tax_rounding: str = ROUND_HALF_UP
    """How its tax parts' unit shares round: the order's ROUNDING_MODE."""
    seller_id: str | None = None
    kept: bool = False
    """Its tax components are kept (docs/taxes.md#statements)."""
    external: bool = False
    """A tax extension answered its tax (docs/extensions.md)."""

    @property
    def remaining_units(self) -> int:
        return self.quantity - self.refunded_units


@dataclass(frozen=True, kw_only=True)
class LineTake:
    """What one refund takes of one order line."""

    position: int
    product_id: str
    quantity: int
    parts: dict[str, Decimal]
    prices_include_tax: bool = False


class UnknownProduct(ValueError):
    """A requested product is on no line of the order."""

    def __init__(self, index: int, product_id: str) -> None:
        super().__init__(f"product {product_id} is not in this order")
        self.index, self.product_id = index, product_id


class UnknownLine(ValueError):
    """A requested `line` is not a line of the order, or is a line of another product."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def listed(numbers: Collection[int]) -> str:
    """Line numbers as a reader names them: "3", "3 and 4", "3, 4 and 5"."""
    shown = [str(number) for number in sorted(numbers)] or ["none"]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


class AmbiguousProduct(ValueError):
    """A product id (without `line`) names lines of more than one seller: which one is meant?"""

    def __init__(self, index: int, product_id: str, lines: Sequence[ChargedLine]) -> None:
        named = [f"{line.position} ({line.seller_id})" for line in lines]
        listed = ", ".join(named[:-1]) + " and " + named[-1]
        super().__init__(f"product {product_id} is on lines {listed}, of different sellers: name the line")
        self.index, self.product_id = index, product_id


class ExceedsOrder(ValueError):
    """More units asked than remain unrefunded."""

    def __init__(self, index: int, product_id: str, asked: int, remaining: int) -> None:
        super().__init__(f"product {product_id}: {asked} unit(s) asked, {remaining} left to refund")
        self.index, self.product_id, self.asked, self.remaining = index, product_id, asked, remaining


def part_refund(
    charged: Decimal,
    quantity: int,
    refunded_units: int,
    refunded: Decimal,
    units: int,
    currency: str,
    rounding: str = ROUND_HALF_UP,
) -> Decimal:
    """What `units` more units take of a part charged `charged` over `quantity` units (`settlement.units_share`:
    the one remainder rule)."""
    return units_share(charged, quantity, refunded_units, refunded, units, quantum(currency), rounding)


def take_from_line(line: ChargedLine, units: int, currency: str) -> LineTake:
    """A refund of `units` of this line's remaining units, part by part."""
    parts = {
        part: part_refund(
            line.charged.get(part, ZERO),
            line.quantity,
            line.refunded_units,
            line.refunded.get(part, ZERO),
            units,
            currency,
            line.tax_rounding if part.startswith("tax") or part == "exempted" else ROUND_HALF_UP,
        )
        for part in (*LINE_PARTS, *line.extras)
    }
    components = [parts[part] for part in line.extras if part.startswith("tax:")]
    if components:  # the tax given back is the sum of its components', each exact over every refund
        parts["tax"] = sum(components, ZERO)
    return LineTake(
        position=line.position,
        product_id=line.product_id,
        quantity=units,
        parts=parts,
        prices_include_tax=line.prices_include_tax,
    )


class Wanted(NamedTuple):
    """One entry of a refund request: units of a product, from one line of it (`line`) or from its lines."""

    product_id: str
    units: int
    line: int | None = None
    """The line's number (its position: `items[].line`); None: the product's lines, first first."""


def plan_refund(lines: Sequence[ChargedLine], wanted: Sequence[Wanted], currency: str) -> list[LineTake]:
    """Split a request (in request order) over the order's lines, by line, never by product id alone.

    An entry naming its `line` takes units from that line only (a line of its product). One that does not
    names the product's lines: one line, or the lines of one seller (a flash split of the same goods), whose
    units come back from the first line with units left first; lines of different sellers are different
    goods and money: AmbiguousProduct. Raises UnknownProduct, UnknownLine, AmbiguousProduct or ExceedsOrder
    (the first entry found so) and takes nothing then.
    """
    ordered = sorted(lines, key=lambda line: line.position)
    at = {line.position: line for line in ordered}
    by_product: dict[str, list[ChargedLine]] = {}
    for line in ordered:
        by_product.setdefault(line.product_id, []).append(line)
    left = {line.position: line.remaining_units for line in ordered}
    taken: dict[int, int] = {}
    for index, entry in enumerate(wanted):
        candidates = by_product.get(entry.product_id)
        if entry.line is not None:
            named = at.get(entry.line)
            if named is None:
                raise UnknownLine(index, f"the order has no line {entry.line} (its lines are {listed(at)})")
            if named.product_id != entry.product_id:
                raise UnknownLine(index, f"line {entry.line} is product {named.product_id}, not {entry.product_id}")
            candidates = [named]
        elif candidates is None:
            raise UnknownProduct(index, entry.product_id)
        elif len({line.seller_id for line in candidates}) > 1:
            raise AmbiguousProduct(index, entry.product_id, candidates)
        remaining = sum(left[line.position] for line in candidates)
        if entry.units > remaining:
            raise ExceedsOrder(index, entry.product_id, entry.units, remaining)
        units = entry.units
        for line in candidates:
            n = min(units, left[line.position])
            left[line.position] -= n
            taken[line.position] = taken.get(line.position, 0) + n
            units -= n
    return [take_from_line(line, taken[line.position], currency) for line in ordered if taken.get(line.position)]


def everything_left(lines: Sequence[ChargedLine], currency: str) -> list[LineTake]:
    """A refund of every unit not yet refunded (a cancel)."""
    return [take_from_line(line, line.remaining_units, currency) for line in lines if line.remaining_units > 0]


def fee_refund(fees: Mapping[str, Decimal], *, already_refunded: bool, include: bool) -> dict[str, Decimal]:
    """The fees this refund gives back: all of them once, when asked for and not given yet."""
    give = include and not already_refunded
    return {part: fees[part] if give else ZERO for part in FEE_PARTS}


def shipment_fee_refund(
    small_basket_fee: Decimal,
    shipments: Sequence[tuple[int, Decimal, Decimal, bool]],
    named: Collection[int],
    *,
    include: bool,
    already_refunded: bool,
) -> tuple[dict[str, Decimal], list[int]]:
    """The fees of an order with shipments (position, delivery fee, logistics commission, given back yet)
    this refund gives back, and the shipments it gives back: each `named` one, and with `include` every
    one not given back yet and the small-basket fee (once). Each shipment's fee comes back once."""
    given = [position for position, _, _, back in shipments if not back and (include or position in named)]
    taken = [(fee, logistics) for position, fee, logistics, _ in shipments if position in given]
    fees = {
        "delivery_fee": sum((fee for fee, _ in taken), ZERO),
        "small_basket_fee": small_basket_fee if include and not already_refunded else ZERO,
        "logistics_commission": sum((logistics for _, logistics in taken), ZERO),
    }
    return fees, given


class Settled(NamedTuple):
    """How a reversal is settled: what goes back to the customer, and what comes off the balance due."""

    back: Decimal
    reduced: Decimal


def against_due(worth: Decimal, due: Decimal, *, closing: bool = False) -> Settled:
    """A reversal worth `worth` (the goods, tax and fees it gives back) of an order owing `due`: what was never
    paid is cancelled first, only the rest is paid back. `closing` (a cancel, or the refund of the order's
    last units and fees): whatever is still due is cancelled with it, so a closed order owes nothing."""
    reduced = due if closing else min(max(worth, ZERO), due)
    return Settled(back=max(worth - reduced, ZERO), reduced=reduced)
