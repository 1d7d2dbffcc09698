"""Step 6 for a quote that uses taxes as markets have them (docs/taxes.md): `settle`'s pass, component by component.

A quote takes this pass instead of `settle`'s only when some line's TAX_RATE has components, the
request states an exemption, or the quote's rounding is not the default (HALF_UP per LINE): every
other quote costs what it did and reads byte for byte as it did. Here each line's tax is worked out
anew (`taxes`): its components (a single rate is one, code TAX), their sum its `tax`; an exempt
line carries none, and a tax-inclusive exempt line charges its net: its `line_subtotal` leaves out
the tax its price held (`tax_exempted`), so line_subtotal - discount = net and the quote still adds
up (docs/pricing.md). Commission stays on the line's net; the rules' money and the sums are kept as
`settle` keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from msgspec.structs import replace

from quote_service.pricing.lines import Line
from quote_service.pricing.money import ZERO
from quote_service.pricing.plan import Priced, RegionPlan
from quote_service.pricing.quote import CommissionDetail, QuoteLine
from quote_service.pricing.settle import Settled, price_rules_moved, response_parts, tax_rules_moved
from quote_service.pricing.taxes import (
    InvoiceLine,
    LineTax,
    Rounding,
    TaxExemption,
    added,
    contained,
    contained_total,
    invoice_taxes,
)


class TaxTerms:
    """What a quote's taxes follow beyond the rules: its rounding and the exemption its caller stated."""

    __slots__ = ("exemption", "key", "rounding")

    def __init__(self, rounding: Rounding, exemption: TaxExemption | None) -> None:
        self.rounding = rounding
        self.exemption = exemption if exemption != "none" else None
        self.key = (rounding.mode, rounding.tax_calculation, self.exemption)
        """What decides a line's taxes besides the line: its settled parts are kept by it."""


def _net_and_taxes(priced: Priced, after: Decimal, terms: TaxTerms, cent: Decimal) -> tuple[Decimal, list[LineTax]]:
    """(net, taxes) of a line worth `after` once discounted (gross when tax-inclusive), not exempt."""
    components = priced.plan.components()
    if priced.inclusive:
        return contained(after, components, quantity=priced.units, cent=cent, rounding=terms.rounding)
    return after, added(after, components, quantity=priced.units, cent=cent, rounding=terms.rounding)


def _exempt_net(priced: Priced, after: Decimal, terms: TaxTerms, cent: Decimal) -> Decimal:
    """The net of an exempt line: a tax-inclusive one less the tax its price holds."""
    if not priced.inclusive:
        return after
    components = priced.plan.components()
    return after - contained_total(after, components, quantity=priced.units, cent=cent, rounding=terms.rounding)


SettledLine = tuple[QuoteLine, tuple[CommissionDetail, ...], Decimal, Decimal, Decimal, Decimal]
"""A line settled: (response line, its commission details, tax, tax exempted, category, seller commission)."""


def _settle_line(
    line: Line, terms: TaxTerms, split: bool, cent: Decimal, zero: Decimal, invoiced: list[LineTax] | None = None
) -> SettledLine:
    """One line's taxes, commission and response parts under `terms` (`invoiced`: its taxes as invoice rounding
    gave them back, `invoice_taxes`)."""
    priced, discount = line.priced, line.discount
    plan = priced.plan
    exemption = terms.exemption
    after = priced.subtotal - discount
    taxes: list[LineTax] = []
    exempted = zero
    if invoiced is not None:
        taxes = invoiced
        tax = sum((part.amount for part in taxes), zero)
        net = after - tax if priced.inclusive else after
    elif exemption is None:
        net, taxes = _net_and_taxes(priced, after, terms, cent)
        tax = sum((part.amount for part in taxes), zero)
    else:
        net = _exempt_net(priced, after, terms, cent)
        exempted, tax = after - net, zero
    base = net
    funded = None
    if line.funded:  # the platform pays part of the discount: not off the commission base
        funded = line.funded
        kept = priced.subtotal - (discount - line.funded)
        base = _commission_net(priced, kept, terms, cent) if priced.inclusive else kept
    category, seller = plan.commission(base, priced.units)
    item, commission = response_parts(
        priced, discount, net, tax, category, seller, split, funded, base if funded is not None else None
    )
    item = replace(item, taxes=taxes, tax_rate=plan.tax_rate)
    if exemption is not None:
        item = replace(item, tax_exemption=exemption, tax_rate=ZERO)
        if priced.inclusive:  # it charges its net: its subtotal leaves out the tax its price held
            item = replace(item, line_subtotal=priced.subtotal - exempted, gross=net, tax_exempted=exempted)
    return item, commission, tax, exempted, category, seller


def settle_taxed(lines: Sequence[Line], region: RegionPlan, terms: TaxTerms, split: bool) -> tuple[Settled, Decimal]:
    """`settle` for a quote with compound taxes, an exemption or its own rounding; and the tax exempted.
    A line no discount touched is settled once per set of terms and kept on its `Priced`, as `settle` keeps it."""
    cent, zero = region.cent, region.zero
    items: list[QuoteLine] = []
    details: list[CommissionDetail] = []
    tax_total = included_total = exempted_total = seller_total = category_total = zero
    added_taxes: list[Decimal] = []
    movers: list[Priced] = []
    key = (terms.key, split)
    invoiced = None  # docs/taxes.md#rounding-modes: a line's taxes depend on the whole invoice, none is kept
    if terms.rounding.tax_calculation == "INVOICE" and terms.exemption is None:
        invoiced = invoice_taxes(
            [
                InvoiceLine(amount=line.priced.subtotal - line.discount, components=line.priced.plan.components(),
                            inclusive=line.priced.inclusive)
                for line in lines
            ],
            cent=cent,
            rounding=terms.rounding,
        )  # fmt: skip
    for index, line in enumerate(lines):
        priced = line.priced
        if invoiced is not None:
            found = _settle_line(line, terms, split, cent, zero, invoiced[index])
        elif line.discount:
            found = _settle_line(line, terms, split, cent, zero)
        else:
            memo = priced.taxed
            if memo is None:
                memo = priced.taxed = {}
            found = memo.get(key)  # type: ignore[assignment]
            if found is None:
                found = memo[key] = _settle_line(line, terms, split, cent, zero)
        item, commission, tax, exempted, category, seller = found
        if priced.inclusive:
            included_total += tax
            exempted_total += exempted
            added_taxes.append(zero)
        else:
            tax_total += tax
            added_taxes.append(tax)
        category_total += category
        seller_total += seller
        if priced.moves:
            movers.append(priced)
        items.append(item)
        details.extend(commission)
    tax_rules = tax_rules_moved(lines, added_taxes) if terms.exemption is None else []
    moved = price_rules_moved(movers)
    settled = Settled(tax_total, included_total, seller_total, category_total, items, details, moved, tax_rules)
    return settled, exempted_total


def _commission_net(priced: Priced, kept: Decimal, terms: TaxTerms, cent: Decimal) -> Decimal:
    """The net of a tax-inclusive line worth `kept` (its seller-funded discounts only): the commission base."""
    components = priced.plan.components()
    return kept - contained_total(kept, components, quantity=priced.units, cent=cent, rounding=terms.rounding)
