"""Steps 6 and 10 per line, after the coupons: tax, per-item commission and the response line, in one pass.

Each line's tax is at its plan's TAX_RATE (or the default), once, on the line after its discount
(subtotal - discount): added on top of a net line, contained in a tax-inclusive (gross) line
(docs/markets.md). Its commission is on its net (without tax, in both modes): the category
component from its plan's category rate (or the default rate), plus the seller component from its
plan's seller rate when one matches. The part of a line's discount the platform funds
(`Line.funded`) is not taken off the commission base: the base is the line after its seller-funded
discounts only, without the tax that line would contain. A line no coupon touched takes them from its `Priced`,
computed once for every quote with the same inputs. The pass also sums what each price rule and
each TAX_RATE rule moved over the lines (a rule moves only the tax it adds), in order of first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from msgspec import Struct
from msgspec.structs import replace

from quote_service.pricing.commission import CommissionRate, ItemComponent
from quote_service.pricing.lines import Line
from quote_service.pricing.plan import Priced, RegionPlan
from quote_service.pricing.quote import AppliedRule, CommissionDetail, QuoteLine


class Settled(Struct, gc=False):
    """The lines as the response shows them, with their sums: built once they are known, in the order of its
    fields (a struct, built in C: docs/hot-path.md#the-cost-budget). Commission charges and tax extensions
    change it afterwards (`commission_charges`, `external`)."""

    tax: Decimal
    """Added to the net lines (the quote's `tax_amount`)."""
    tax_included: Decimal
    """The tax contained in the tax-inclusive lines (the quote's `tax_included`)."""
    seller_total: Decimal
    category_total: Decimal
    items: list[QuoteLine]
    details: list[CommissionDetail]
    """Per-item commission (category, then seller when charged) per line; the logistics line is
    added by `commission_breakdown`."""
    price_rules: list[AppliedRule]
    tax_rules: list[AppliedRule]


Parts = tuple[QuoteLine, tuple[CommissionDetail, ...]]
_NO_LINE: Final = object()


def _detail(
    priced: Priced, rate: CommissionRate, dimension: ItemComponent, base: Decimal, amount: Decimal
) -> CommissionDetail:
    return CommissionDetail(
        product_id=priced.product_id,
        rate_id=rate.id,
        dimension=dimension,
        commission_type=rate.commission_type,
        base=base,
        rate=rate.rate,
        amount=amount,
    )


def line_tax(priced: Priced, discount: Decimal, cent: Decimal) -> Decimal:
    """A line's tax on what is left of it (subtotal - discount), at its plan's rate, rounded half up
    once: added to a net line, contained in a tax-inclusive one (`LinePlan.contained_tax`)."""
    if not discount:
        return priced.tax  # worked out once for every quote with the line's inputs
    if priced.inclusive:
        return priced.plan.contained_tax(priced.subtotal - discount, cent)
    return ((priced.subtotal - discount) * priced.plan.tax_fraction).quantize(cent, ROUND_HALF_UP)


def seller_funded_base(priced: Priced, seller_discount: Decimal, cent: Decimal) -> Decimal:
    """The commission base of a line whose seller-funded discount is `seller_discount`: the line after
    that discount only, without the tax it would then contain (tax-inclusive lines)."""
    after = priced.subtotal - seller_discount
    return after - line_tax(priced, seller_discount, cent) if priced.inclusive else after


def response_parts(
    priced: Priced,
    discount: Decimal,
    base: Decimal,
    tax: Decimal,
    category: Decimal,
    seller: Decimal,
    split: bool,
    funded: Decimal | None = None,
    commission_base: Decimal | None = None,
) -> Parts:
    """The line as the response shows it, and its commission details (category, then seller).
    `base` is its net (and commission's base, unless the platform funds `funded` of its discount:
    then `commission_base`); `split`: show the line's tax split."""
    plan = priced.plan
    floor = priced.floor
    after = priced.subtotal - discount  # what the line charges before added tax: gross when inclusive
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
        price_list_id=priced.price_list_id,
        at_min_price=floor > 0 and after <= floor and priced.flash_sale_id is None,
    )
    if priced.fx is not None:  # converted into the quote's currency (docs/currencies.md)
        item = replace(item, fx=priced.fx)
    if split:  # docs/markets.md#the-lines-tax-split
        inclusive = priced.inclusive
        item = replace(item, prices_include_tax=inclusive, net=base, gross=after if inclusive else after + tax)
    if funded is not None and commission_base is not None:  # docs/orders-and-refunds.md#who-funds-a-discount
        item = replace(item, platform_funded=funded)
        base = commission_base
    category_detail = _detail(priced, plan.category_rate, "category", base, category)
    if plan.seller_rate is None:
        return item, (category_detail,)
    return item, (category_detail, _detail(priced, plan.seller_rate, "seller", base, seller))


def discounted_parts(
    kept: Parts, priced: Priced, discount: Decimal, base: Decimal, tax: Decimal, category: Decimal, seller: Decimal
) -> Parts:
    """`response_parts` of a line its seller's discount reduced (tax not split), from the same line's parts
    undiscounted (`kept`, shared by every quote): the line differs in three fields and each commission detail in
    two, copied in C (a big basket's promotions reduce most of its lines: 15 fields passed a line otherwise)."""
    floor = priced.floor
    item = replace(
        kept[0],
        discount=discount,
        tax=tax,
        at_min_price=floor > 0 and priced.subtotal - discount <= floor and priced.flash_sale_id is None,
    )
    details = kept[1]
    category_detail = replace(details[0], base=base, amount=category)
    if len(details) == 1:
        return item, (category_detail,)
    return item, (category_detail, replace(details[1], base=base, amount=seller))


def settle(lines: Sequence[Line], region: RegionPlan, split: bool = False) -> Settled:
    """Tax and commission of every line, the response lines, and the rules each step used with their money.

    `split`: some line is tax-inclusive, so every line shows its tax split (`net`, `gross`,
    `prices_include_tax`); a quote without one reads as it did before there were such lines."""
    cent = region.cent
    zero = region.zero
    items: list[QuoteLine] = []
    details: list[CommissionDetail] = []
    tax_total = seller_total = category_total = included_total = zero
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
            tax = line_tax(priced, discount, cent)
            if priced.inclusive:
                base -= tax
            if line.funded:  # the platform pays part of the discount: not off the commission base
                commissioned = seller_funded_base(priced, discount - line.funded, cent)
                category, seller = plan.commission(commissioned, priced.units)
                parts = response_parts(priced, discount, base, tax, category, seller, split, line.funded, commissioned)
            else:
                category, seller = plan.commission(base, priced.units)
                if split:
                    parts = response_parts(priced, discount, base, tax, category, seller, True)
                else:
                    kept = priced.parts
                    if kept is None:
                        kept = priced.parts = response_parts(
                            priced, zero, priced.base, priced.tax, priced.category_commission,
                            priced.seller_commission, False,
                        )  # fmt: skip
                    parts = discounted_parts(kept, priced, discount, base, tax, category, seller)
        else:
            tax = priced.tax
            category, seller = priced.category_commission, priced.seller_commission
            if not split:
                parts = priced.parts
                if parts is None:
                    parts = priced.parts = response_parts(priced, discount, priced.base, tax, category, seller, False)
            else:
                parts = priced.split_parts
                if parts is None:
                    parts = priced.split_parts = response_parts(
                        priced, discount, priced.base, tax, category, seller, True
                    )
        if priced.inclusive:
            included_total += tax
            taxes.append(zero)  # contained: no TAX_RATE rule moved money on this line
        else:
            tax_total += tax
            taxes.append(tax)
        if plan.tax_applied is not tax_shown:
            if tax_shown is _NO_LINE:
                tax_shown = plan.tax_applied
            else:
                same_tax = False
        category_total += category
        seller_total += seller
        if priced.moves:
            movers.append(priced)
        items.append(parts[0])
        details.extend(parts[1])
    if same_tax:  # the usual case: one TAX_RATE (or the default) for the whole basket, its amount the tax total
        tax_rules = [] if tax_shown is None or tax_shown is _NO_LINE else [replace(tax_shown, amount=tax_total)]
    else:
        tax_rules = tax_rules_moved(lines, taxes)
    moved = price_rules_moved(movers)
    return Settled(tax_total, included_total, seller_total, category_total, items, details, moved, tax_rules)


def tax_rules_moved(lines: Sequence[Line], taxes: list[Decimal]) -> list[AppliedRule]:
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


def price_rules_moved(movers: list[Priced]) -> list[AppliedRule]:
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
        # By position, not zip(..., strict=True) and sum(): in the former compiled engine both were generic calls.
        sums = list(first.moneys)
        for priced in movers[1:]:
            for position, money in enumerate(priced.moneys):
                sums[position] += money
        return [replace(shown, amount=sums[position]) for position, shown in enumerate(first.shown)]
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
