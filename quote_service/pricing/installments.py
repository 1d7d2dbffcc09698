"""Installments ("taksit", docs/taxes.md#installments): the options a card is offered, and the one chosen. Pure.

A plan matches a quote when one of its BIN prefixes starts the quote's `card_bin`, it is in the
quote's currency, and the quote's `total_amount` reaches its `min_total`. Each of its options is
priced on that total:

- customer-funded: total_payable = round(total x (1 + rate / 100)), half up, once;
- seller- or platform-funded: total_payable = total (the customer pays no interest).

The total payable is split into `count` installments: each is total_payable / count rounded down
to the minor unit, and the first takes the remainder, so first + (count - 1) x installment =
total_payable exactly. `total_amount` itself never changes. A seller-funded option chosen adds
`installment_commission` to each seller's commission: `seller_commission_rate` % of its goods
(its lines after discounts, without tax: a tax-inclusive line's net, as the sales commission's base),
rounded half up once per line (each line carries its share, which an
order keeps and a refund reverses pro rata), summed per seller.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType
from msgspec.structs import replace

from quote_service.errors import invalid
from quote_service.pricing.money import quantum
from quote_service.pricing.quote import InstallmentOption, Quote, QuoteLine, SelectedInstallment, SellerTotals
from quote_service.pricing.settlement import seller_payout

Funder = Literal["customer", "seller", "platform"]


class PlanOption(msgspec.Struct, frozen=True, kw_only=True):
    """One option of a plan, as configured."""

    count: int
    rate: Decimal
    funded_by: Funder
    seller_commission_rate: Decimal | None = None


class InstallmentPlan(msgspec.Struct, frozen=True, kw_only=True):
    """An active plan as the quote path reads it."""

    id: UUID
    bin_prefixes: tuple[str, ...]
    currency: str
    min_total: Decimal
    options: tuple[PlanOption, ...]


class Paying(msgspec.Struct, frozen=True):
    """An input of the quote engine (`price_quote(installments=...)`): how the quote is paid in parts, read before
    pricing. The engine's installment step (`with_installments`, once the total it reads is summed) shows the options
    and adds a seller-funded option's commission to the lines, the commission breakdown and the sellers. A struct:
    built in C, no call (the cost budget, docs/hot-path.md)."""

    plans: Sequence[InstallmentPlan]
    """The active plans of the quote's currency."""
    card_bin: str
    installments: int | None
    """The number of installments chosen (None: the options are only shown)."""
    shown: bool = True
    """Whether the quote lists the options (an order edit's priced basket shows only the one its order chose)."""


def split(total_payable: Decimal, count: int, cent: Decimal) -> tuple[Decimal, Decimal]:
    """(installment, first installment): count - 1 of the first and one of the second make total_payable."""
    each = (total_payable / count).quantize(cent, ROUND_DOWN)
    return each, total_payable - each * (count - 1)


def _priced(plan: InstallmentPlan, option: PlanOption, total: Decimal, cent: Decimal) -> InstallmentOption:
    payable = total
    if option.funded_by == "customer" and option.rate:
        payable = (total * (100 + option.rate) / 100).quantize(cent, ROUND_HALF_UP)
    each, first = split(payable, option.count, cent)
    return InstallmentOption(
        plan_id=plan.id,
        count=option.count,
        rate=option.rate,
        funded_by=option.funded_by,
        installment_amount=each,
        first_installment_amount=first,
        total_payable=payable,
    )


def offered(
    plans: Sequence[InstallmentPlan], *, card_bin: str, currency: str, total: Decimal
) -> list[tuple[InstallmentOption, PlanOption]]:
    """Every option of the plans matching the card, currency and total: by plan (oldest first), then count."""
    cent = quantum(currency)
    found = []
    for plan in plans:
        if plan.currency != currency or total < plan.min_total:
            continue
        if not any(card_bin.startswith(prefix) for prefix in plan.bin_prefixes):
            continue
        for option in sorted(plan.options, key=lambda o: o.count):
            found.append((_priced(plan, option, total, cent), option))
    return found


def with_installments(quote: Quote, paying: Paying) -> Quote:
    """The engine's installment step (`Paying`), on the quote it is answering: its `installment_options` for the
    card, and `installment` when a count chooses one (422 naming `installments` for a count no option offers). Of
    several options with that count, the one the customer pays least for (then the older plan) is chosen."""
    count = paying.installments
    options = offered(paying.plans, card_bin=paying.card_bin, currency=quote.currency, total=quote.total_amount)
    shown: list[InstallmentOption] | UnsetType = [option for option, _ in options]
    if count is None:
        return replace(quote, installment_options=shown)
    matching = [(option, plan_option) for option, plan_option in options if option.count == count]
    if not matching:
        counts = sorted({option.count for option, _ in options})
        raise invalid("installments", f"no installment plan offers {count} installments for this card: {counts}")
    chosen, configured = min(matching, key=lambda pair: pair[0].total_payable)
    selected = SelectedInstallment(
        plan_id=chosen.plan_id,
        count=chosen.count,
        rate=chosen.rate,
        funded_by=chosen.funded_by,
        installment_amount=chosen.installment_amount,
        first_installment_amount=chosen.first_installment_amount,
        total_payable=chosen.total_payable,
    )
    if not paying.shown:
        shown = UNSET
    if configured.funded_by != "seller" or not configured.seller_commission_rate:
        return replace(quote, installment_options=shown, installment=selected)
    return _seller_funded(quote, shown, selected, configured.seller_commission_rate)


def goods(item: QuoteLine) -> Decimal:
    """A line's goods: after every discount, without tax (its `net`, shown in a quote with a tax-inclusive
    line; else the line after its discount). An exempt tax-inclusive line's net leaves out the tax its price
    held, as the commission base does."""
    net = item.net
    return net if isinstance(net, Decimal) else item.line_subtotal - item.discount


def _with_commission(totals: SellerTotals, commission: Decimal) -> SellerTotals:
    """A seller's totals charged `commission`, its payout worked out again (`settlement.seller_payout`)."""
    charged = replace(totals, commission=commission)
    return replace(charged, payout=seller_payout(charged))


def _seller_funded(
    quote: Quote, shown: list[InstallmentOption] | UnsetType, selected: SelectedInstallment, rate: Decimal
) -> Quote:
    """The quote with each line's installment commission (`rate` % of it after discounts) added to its
    seller's commission."""
    cent = quantum(quote.currency)
    zero = Decimal(0).quantize(cent)
    charged: dict[str | None, Decimal] = {}
    items = []
    for item in quote.items:
        share = (goods(item) * rate / 100).quantize(cent, ROUND_HALF_UP)
        charged[item.seller_id] = charged.get(item.seller_id, zero) + share
        items.append(replace(item, installment_commission=share))
    extra = sum(charged.values(), zero)
    breakdown = quote.commission_breakdown
    breakdown = replace(breakdown, installment_commission=extra, total_commission=breakdown.total_commission + extra)
    sellers = quote.sellers
    if sellers is not UNSET:
        sellers = [
            _with_commission(totals, totals.commission + charged.get(totals.seller_id, Decimal(0)))
            for totals in sellers
        ]
    selected = replace(selected, seller_commission_rate=rate, installment_commission=extra)
    return replace(
        quote,
        items=items,
        installment_options=shown,
        installment=selected,
        commission_breakdown=breakdown,
        sellers=sellers,
    )
