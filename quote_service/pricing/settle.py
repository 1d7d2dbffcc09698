"""Steps 6 and 10 per line, after the coupons: tax, sales commission and the response line, in one pass.

Each line's tax is on its net (subtotal - discount) at its plan's TAX_RATE (or the default);
its sales commission on the same net from its plan's rate (or the default rate), attributed to
`seller_commission` when the rate names a seller, else to `category_commission`. A line no coupon
touched takes both from its `Priced`, computed once for every quote with the same inputs. The pass
also sums what each price rule and each TAX_RATE rule moved over the lines, in order of first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from msgspec.structs import replace

from quote_service.pricing.commission import commission_amount
from quote_service.pricing.lines import Line
from quote_service.pricing.money import HUNDRED, ZERO
from quote_service.pricing.plan import Priced, RegionPlan
from quote_service.pricing.quote import AppliedRule, CommissionDetail, QuoteLine


class Settled:
    """The lines as the response shows them, with their sums."""

    __slots__ = ("category_total", "details", "items", "price_rules", "seller_total", "tax", "tax_rules")

    def __init__(self, zero: Decimal) -> None:
        self.items: list[QuoteLine] = []
        self.details: list[CommissionDetail] = []
        """Sales commission per line; the logistics line is added by `commission_breakdown`."""
        self.tax = self.seller_total = self.category_total = zero
        self.price_rules: list[AppliedRule] = []
        self.tax_rules: list[AppliedRule] = []


Parts = tuple[QuoteLine, CommissionDetail]
_NO_LINE = object()


def _response_parts(priced: Priced, discount: Decimal, base: Decimal, tax: Decimal, amount: Decimal) -> Parts:
    """The line as the response shows it, and its sales commission."""
    plan = priced.plan
    rate = plan.sales_rate
    item = QuoteLine(
        product_id=priced.product_id,
        quantity=priced.units,
        list_unit_price=priced.list_shown,
        unit_price=priced.unit_shown,
        line_subtotal=priced.subtotal,
        discount=discount,
        tax=tax,
        price_source=priced.source,
        applied_rules=list(priced.shown),
        category_id=priced.category_id,
        seller_id=priced.seller_id,
        flash_sale_id=priced.flash_sale_id,
        tax_rate=plan.tax_rate,
    )
    detail = CommissionDetail(
        product_id=priced.product_id,
        rate_id=rate.id,
        dimension=plan.dimension,
        commission_type=rate.commission_type,
        base=base,
        rate=rate.rate,
        amount=amount,
    )
    return item, detail


def settle(lines: Sequence[Line], region: RegionPlan) -> Settled:
    """Tax and commission of every line, the response lines, and the rules each step used with their money."""
    cent, currency = region.cent, region.currency
    settled = Settled(region.zero)
    items, details = settled.items, settled.details
    tax_total = seller_total = category_total = region.zero
    taxes: list[Decimal] = []  # each line's tax
    tax_shown: Any = _NO_LINE  # the TAX_RATE rule (as shown) of every line so far, while they share one
    same_tax = True
    movers: list[Priced] = []  # lines that price rules moved
    for line in lines:
        priced, discount = line.priced, line.discount
        plan = priced.plan
        parts: Parts | None
        if discount:
            base = priced.subtotal - discount
            tax = (base * plan.tax_rate).scaleb(-2).quantize(cent, ROUND_HALF_UP)  # rate is a percent
            if plan.percent is not None:  # `commission_amount` written out for a plain percentage
                amount = (max(base, ZERO) * plan.percent / HUNDRED).quantize(cent, ROUND_HALF_UP)
            else:
                amount = commission_amount(plan.sales_rate, base=base, quantity=priced.units, currency=currency)
            parts = _response_parts(priced, discount, base, tax, amount)
        else:
            tax, amount, parts = priced.tax, priced.commission, priced.parts
            if parts is None:
                parts = priced.parts = _response_parts(priced, discount, priced.base, tax, amount)
        tax_total += tax
        taxes.append(tax)
        if plan.tax_applied is not tax_shown:
            if tax_shown is _NO_LINE:
                tax_shown = plan.tax_applied
            else:
                same_tax = False
        if plan.dimension == "seller":
            seller_total += amount
        else:
            category_total += amount
        if priced.moves:
            movers.append(priced)
        items.append(parts[0])
        details.append(parts[1])
    settled.tax, settled.seller_total, settled.category_total = tax_total, seller_total, category_total
    if same_tax:  # the usual case: one TAX_RATE (or the default) for the whole basket, its amount the tax total
        settled.tax_rules = [] if tax_shown is None or tax_shown is _NO_LINE else [replace(tax_shown, amount=tax_total)]
    else:
        settled.tax_rules = _tax_rules(lines, taxes)
    settled.price_rules = _price_rules(movers)
    return settled


def _tax_rules(lines: Sequence[Line], taxes: list[Decimal]) -> list[AppliedRule]:
    """Each TAX_RATE rule once, in order of first use, with the tax it charged summed over its lines."""
    taxed: dict[int, list[Any]] = {}  # id(rule) -> [the rule as shown, tax]: UUIDs hash slowly
    for line, tax in zip(lines, taxes, strict=True):
        plan = line.priced.plan
        if plan.tax_applied is not None:
            entry = taxed.get(plan.tax_key)
            if entry is None:
                taxed[plan.tax_key] = [plan.tax_applied, tax]
            else:
                entry[1] += tax
    return [replace(shown, amount=money) for shown, money in taxed.values()]


def _price_rules(movers: list[Priced]) -> list[AppliedRule]:
    """Each price rule once, in order of first use, with the money it moved summed over the lines."""
    if not movers:
        return []
    first = movers[0]
    if len(movers) == 1:
        return list(first.shown)
    keys = first.rule_keys
    for priced in movers:
        if priced.rule_keys != keys:
            break
    else:  # the usual case, the same rules on every line: sum the amounts rule by rule
        columns = zip(*[priced.moneys for priced in movers], strict=True)
        return [
            replace(shown, amount=sum(column[1:], column[0]))
            for shown, column in zip(first.shown, columns, strict=True)
        ]
    moved: dict[int, list[Any]] = {}  # id(rule) -> [amount, the line's AppliedRule, lines]
    for priced in movers:
        for rule_key, _, money, shown in priced.moves:
            entry = moved.get(rule_key)
            if entry is None:
                moved[rule_key] = [money, shown, 1]
            else:
                entry[0] += money
                entry[2] += 1
    return [shown if lines == 1 else replace(shown, amount=money) for money, shown, lines in moved.values()]
