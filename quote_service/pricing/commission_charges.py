"""Step 10 for a quote whose rates charge as marketplaces do (docs/commission.md). Pure.

Only a quote with a line whose plan is `extended` (a named component's rate wins on it, or a winner
charges on another base than the net, or a FLAT winner charges per line, shipment or order) comes here
(the engine looks, without a call, only when the snapshot has such rates), after its delivery fee is
known; every other quote prices its commission in `settle` as it always did, byte for byte, and pays
nothing for this step.

Per line, each component's winner (category, then seller, then each named component in name order):

    PERCENTAGE, TIERED  on the base the rate names: `net` (the line's commission net, as `settle` found
                        it), `gross` (net + the line's tax), `gross_with_delivery` (gross + the line's
                        share of its shipment's delivery fee: pro rata to the shipment's lines' goods, each
                        rounded half up, never past what is left, the last line taking the remainder;
                        without shipping profiles the quote's delivery fee is one shipment's, of every line)
    FLAT per unit       rate x quantity; per line: rate; both clamped per line
    FLAT per shipment   once per shipment (the lines of one seller) in which it wins on some line, charged
                        to that seller; per order: once per quote, charged to the seller of the first line
                        it wins on; clamped once, on no line (a detail with `per` and `seller_id`)

Each amount is rounded half up once. The category and seller parts are the sums of their amounts, each
named component's fee the sum of its; the details list each line's amounts (`line` set), then the fees
charged per shipment or order. The logistics part stays `commission_breakdown`'s and the shipments'.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from msgspec import UNSET
from msgspec.structs import replace

from quote_service.pricing.commission import CommissionRate, commission_amount
from quote_service.pricing.lines import Line
from quote_service.pricing.plan import RegionPlan
from quote_service.pricing.quote import CommissionBreakdown, CommissionDetail, CommissionFee
from quote_service.pricing.settle import Settled
from quote_service.pricing.settlement import prorate
from quote_service.pricing.shipments import Shipments


class GroupCharge:
    """A FLAT fee charged once per shipment or once per order: to whom, and how much."""

    __slots__ = ("amount", "component", "detail", "seller_id")

    def __init__(self, component: str, seller_id: str | None, amount: Decimal, detail: CommissionDetail) -> None:
        self.component, self.seller_id, self.amount, self.detail = component, seller_id, amount, detail


class Charges:
    """A quote's commission as its rates charge it: per line, per shipment or order, and the sums."""

    __slots__ = ("category", "details", "fees", "groups", "lines", "seller", "sellers")

    def __init__(self, zero: Decimal) -> None:
        self.lines: list[tuple[Decimal, dict[str, Decimal]]] = []
        """Each line's commission (category + seller + its named fees) and its named fees by name."""
        self.sellers: list[str | None] = []
        """Each line's seller."""
        self.groups: list[GroupCharge] = []
        self.details: list[CommissionDetail] = []
        self.category = self.seller = zero
        self.fees: dict[str, Decimal] = {}
        """Each named component that won somewhere, with its sum (0 where it charged nothing)."""

    def settle_into(self, settled: Settled) -> None:
        """Put these amounts where `commission_breakdown` reads the per-item ones."""
        settled.details = [*self.details, *(group.detail for group in self.groups)]
        settled.category_total, settled.seller_total = self.category, self.seller

    def with_fees(self, commission: CommissionBreakdown) -> CommissionBreakdown:
        """The breakdown with the named fees listed and in its total (unchanged without any)."""
        if not self.fees:
            return commission
        names = sorted(self.fees)
        return replace(
            commission,
            total_commission=commission.total_commission + sum(self.fees.values(), Decimal(0)),
            fees=[CommissionFee(name=name, amount=self.fees[name]) for name in names],
        )

    def _add(self, component: str, amount: Decimal, zero: Decimal, fees: dict[str, Decimal] | None) -> None:
        if component == "category":
            self.category += amount
        elif component == "seller":
            self.seller += amount
        else:
            self.fees[component] = self.fees.get(component, zero) + amount
            if fees is not None:
                fees[component] = fees.get(component, zero) + amount


def charge_commission(
    lines: Sequence[Line], settled: Settled, region: RegionPlan, *, parcels: Shipments | None, delivery_fee: Decimal
) -> Charges:
    """The quote's commission as docs/commission.md charges it (some line's plan is `extended`)."""
    plans = [line.priced.plan for line in lines]
    zero, currency = region.zero, region.currency
    shares = None
    for plan in plans:
        if plan.extended and plan.delivered:
            shares = delivery_shares(lines, parcels, delivery_fee, zero, region.cent)
            break
    charges = Charges(zero)
    grouped: dict[tuple[object, ...], GroupCharge] = {}
    at = 0
    for index, (line, item, plan) in enumerate(zip(lines, settled.items, plans, strict=True)):
        charges.sellers.append(line.priced.seller_id)
        taken = 1 if plan.seller_rate is None else 2
        found = settled.details[at : at + taken]  # settle's: the category detail, then the seller one
        at += taken
        if not plan.extended:  # as settle priced it
            for detail in found:
                charges._add(detail.dimension, detail.amount, zero, None)
                charges.details.append(replace(detail, line=index))
            charges.lines.append((sum((d.amount for d in found), zero), {}))
            continue
        net = found[0].base
        gross = net + item.tax
        seller_id = line.priced.seller_id
        fees: dict[str, Decimal] = {}
        on_line = zero
        for component, rate in plan.charged_by:
            if rate.commission_type == "FLAT" and rate.per in ("shipment", "order"):
                key = (component, rate.id, rate.per, seller_id if rate.per == "shipment" else None)
                if key not in grouped:
                    amount = commission_amount(rate, base=zero, quantity=1, currency=currency, per_order=True)
                    detail = _detail(None, rate, component, zero, amount, per=rate.per, seller_id=seller_id)
                    grouped[key] = GroupCharge(component, seller_id, amount, detail)
                    charges.groups.append(grouped[key])
                    charges._add(component, amount, zero, None)
                continue
            base = net
            if rate.base != "net" and rate.commission_type != "FLAT":
                base = gross if rate.base == "gross" or shares is None else gross + shares[index]
            units = line.priced.units if rate.per == "unit" else 1
            amount = commission_amount(rate, base=base, quantity=units, currency=currency)
            charges._add(component, amount, zero, fees)
            charges.details.append(_detail(line.priced.product_id, rate, component, base, amount, line=index))
            on_line += amount
        charges.lines.append((on_line, fees))
    return charges


def delivery_shares(
    lines: Sequence[Line], parcels: Shipments | None, fee: Decimal, zero: Decimal, cent: Decimal
) -> list[Decimal]:
    """Each line's share of its shipment's delivery fee: pro rata to the shipment's lines' goods (after
    discounts), `settlement.prorate`'s remainder rule (the last line takes the remainder)."""
    if parcels is None:
        groups = [(list(range(len(lines))), fee)]
    else:
        position = {id(line): index for index, line in enumerate(lines)}
        groups = [([position[id(line)] for line in parcel.lines], parcel.fee) for parcel in parcels.parcels]
    shares = [zero] * len(lines)
    for members, amount in groups:
        split = prorate(amount, [lines[i].priced.subtotal - lines[i].discount for i in members], cent)
        for i, share in zip(members, split, strict=True):
            shares[i] = zero + share  # a share of goods worth nothing stays on the currency's grid ("0.00")
    return shares


def _detail(
    product_id: str | None,
    rate: CommissionRate,
    component: str,
    base: Decimal,
    amount: Decimal,
    *,
    line: int | None = None,
    per: str | None = None,
    seller_id: str | None = None,
) -> CommissionDetail:
    detail = CommissionDetail(
        product_id=product_id,
        rate_id=rate.id,
        dimension=component,
        commission_type=rate.commission_type,
        base=base,
        rate=rate.rate,
        amount=amount,
        line=UNSET if line is None else line,
    )
    if per is not None:
        detail = replace(detail, per=per, seller_id=seller_id)
    return detail
