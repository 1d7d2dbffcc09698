"""The quote engine's last step: what the steps answered, added up into the response (`Quote`). Pure.

The total is the exact sum of the rounded parts it names (an exempt tax-inclusive line's subtotal leaves out
the tax its price held, docs/taxes.md#exemptions: the quote's subtotal too, so total = subtotal - discount +
tax + fees still holds); the calculation steps are built in the order they apply, each with the running total
after it; every sum stays below the ceiling of every amount (docs/quotes-and-orders.md#the-money-ceiling).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from msgspec import UNSET
from msgspec.structs import replace

from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing.commission_charges import Charges
from quote_service.pricing.coupons import Coupon
from quote_service.pricing.discounts import CouponResult
from quote_service.pricing.hints import HintBasket, next_steps
from quote_service.pricing.lines import HeldPrice, Line
from quote_service.pricing.money import MAX_AMOUNT
from quote_service.pricing.offers import Choice, with_offers
from quote_service.pricing.promotion_deals import Outcome
from quote_service.pricing.promotions import Gift
from quote_service.pricing.quote import (
    AppliedCoupon,
    AppliedPromotion,
    Calculation,
    CommissionBreakdown,
    Hint,
    PricingBreakdown,
    QuantityLimit,
    Quote,
    QuoteLine,
    QuoteRequest,
    RejectedCoupon,
)
from quote_service.pricing.quote_steps import BasketSums, Fees, QuoteInputs, Taxed
from quote_service.pricing.seller_totals import seller_totals
from quote_service.pricing.shipments import Shipments


def refuse_beyond_ceiling(sums: BasketSums, total: Decimal, earned: Decimal) -> ValidationFailed:
    """The refusal of a basket a sum of which reaches the ceiling of every amount, naming the first that does
    (asked only then: each line passed the ceiling in `price_lines` and the parts are never negative, so these
    sums bound every other amount)."""
    subtotal, item_total = sums.subtotal, sums.item_total
    amounts = {"subtotal": subtotal, "item_total": item_total, "total_amount": total, "total_commission": earned}
    name, amount = next((name, amount) for name, amount in amounts.items() if amount >= MAX_AMOUNT)
    message = (
        f"the quote's {name} would be {amount}, not below {MAX_AMOUNT:f}, the ceiling of every amount: "
        "quote fewer items or units"
    )
    return ValidationFailed(message, details=[FieldError("items", message)])


def quote_answer(
    inputs: QuoteInputs,
    lines: Sequence[Line],
    sums: BasketSums,
    quote_id: UUID,
    served: tuple[dict[str, Any], dict[str, str], list[str]],
    promoted: Outcome | None,
    discounts: tuple[Decimal, Decimal, list[CouponResult]],
    taxed: Taxed,
    parcels: Shipments | None,
    charged: Fees,
    commission: tuple[CommissionBreakdown, Charges | None],
    held_and_chosen: tuple[Sequence[HeldPrice] | None, Sequence[Choice | None] | None],
    quantity_limits: Sequence[QuantityLimit] | None,
) -> Quote:
    """The response: the totals, the calculation steps, the lines (and gifts), the coupons and promotions shown,
    the shipments and each seller's totals, the hints. `served`: the feature flags, experiments and experiments
    served by the caller's test group; `discounts`: the promotions', the quote's (promotions and coupons) and
    the coupons' results; `commission`: the breakdown and, where some line's rates ask, the charges;
    `held_and_chosen`: the held prices (an order edit's) and the offers chosen, whose offer each line shows
    (`lines_shown`)."""
    region, request, now = inputs.region, inputs.request, inputs.now
    zero, currency = region.zero, region.currency
    promotion_discount, discount, coupons = discounts
    settled, terms, exempted = taxed
    delivery, fee, small, applied_promotions, rejected_promotions, _ = charged
    breakdown, charges = commission
    feature_flags, experiments, forced = served
    tax_amount = settled.tax
    shown_subtotal = sums.subtotal - exempted if exempted else sums.subtotal
    total = shown_subtotal - discount + tax_amount + fee + small.amount
    earned = breakdown.total_commission
    if sums.item_total >= MAX_AMOUNT or sums.subtotal >= MAX_AMOUNT or total >= MAX_AMOUNT or earned >= MAX_AMOUNT:
        raise refuse_beyond_ceiling(sums, total, earned)
    applied_coupons: list[AppliedCoupon] = []
    rejected_coupons: list[RejectedCoupon] = []
    for result in coupons:  # as the response shows them: applied (with their amount), rejected (with the reason)
        if result.reason is not None:
            rejected_coupons.append(RejectedCoupon(code=result.code, reason=result.reason))
        elif result.coupon is not None and result.amount is not None:
            applied_coupons.append(_applied_coupon(result.code, result.coupon, result.amount))
    shows = promoted is not None and bool(applied_promotions or rejected_promotions)
    calculations = _calculations(sums, taxed, charged, applied_coupons, (promotion_discount, discount), shows, zero)
    items = settled.items
    if held_and_chosen[0] is not None or held_and_chosen[1] is not None or (promoted is not None and promoted.gifts):
        items = lines_shown(items, request, held_and_chosen, promoted, zero)
    quote = Quote(
        quote_id=quote_id,
        customer_id=inputs.customer.customer_id,
        subtotal=shown_subtotal,
        discount_amount=discount,
        tax_amount=tax_amount,
        delivery_fee=fee,
        small_basket_fee=small.amount,
        total_amount=total,
        currency=currency,
        items=items,
        commission_breakdown=breakdown,
        pricing_breakdown=PricingBreakdown(
            item_total=sums.item_total,
            subtotal=shown_subtotal,
            tax_amount=tax_amount,
            delivery_fee=fee,
            small_basket_fee=small.amount,
            total_amount=total,
            currency=currency,
            calculations=calculations,
        ),
        applied_rules=[*settled.price_rules, *settled.tax_rules, *delivery.rules, *small.rules],
        applied_coupons=applied_coupons,
        rejected_coupons=rejected_coupons,
        feature_flags=feature_flags,
        experiments=experiments,
        created_at=now,
        valid_until=now + region.validity,
        config_version=inputs.snapshot.version,
        forced_experiments=forced,
        applied_promotions=applied_promotions,
        rejected_promotions=rejected_promotions,
        tax_included=settled.tax_included if sums.inclusive else UNSET,
        shipments=UNSET if parcels is None else parcels.shown(),
        sellers=UNSET
        if parcels is None
        else seller_totals(
            parcels,
            lines,
            settled,
            commission_tax_rate=inputs.defaults.commission_tax_rate,
            cent=region.cent,
            charges=charges,
        ),
        hints=UNSET if not request.hints else _hints(inputs, lines, sums.subtotal - discount, fee, parcels),
        quantity_limits=list(quantity_limits) if quantity_limits else UNSET,
    )
    if terms is None:
        return quote
    return replace(
        quote,
        rounding=terms.rounding,
        tax_exemption=UNSET if terms.exemption is None else terms.exemption,
        customer_tax_id=UNSET
        if terms.exemption is None or request.customer_tax_id is None
        else request.customer_tax_id,
        tax_exempted=exempted if sums.inclusive and terms.exemption is not None else UNSET,
    )


def lines_shown(
    items: list[QuoteLine],
    request: QuoteRequest,
    offers: tuple[Sequence[HeldPrice] | None, Sequence[Choice | None] | None],
    promoted: Outcome | None,
    zero: Decimal,
) -> list[QuoteLine]:
    """The response's lines: each showing the offer it is sold from (the held price's, else the offer chosen:
    `offers.with_offers`), then a line per gift given."""
    held, chosen = offers
    if held is not None:
        if any(price.offer_id is not None for price in held):  # a line per held price, in order
            items = list(items)
            for index, price in enumerate(held):
                if price.offer_id is not None:
                    items[index] = replace(items[index], offer_id=price.offer_id)
    elif chosen is not None:
        items = with_offers(items, request, chosen)
    if promoted is None or not promoted.gifts:
        return items
    return _with_gifts(items, promoted, zero)


def _calculations(
    sums: BasketSums,
    taxed: Taxed,
    charged: Fees,
    applied_coupons: list[AppliedCoupon],
    discounts: tuple[Decimal, Decimal],
    shows_promotions: bool,
    zero: Decimal,
) -> list[Calculation]:
    """The steps of the total in the order they apply, each with the running total after it (the last equals
    total_amount); the flash sale's, the promotions' and the exemption's only where the quote has them.
    `discounts`: the promotions' and the quote's (promotions and coupons)."""
    settled, _, exempted = taxed
    delivery, fee, small, applied_promotions, _, waived_by = charged
    promotion_discount, discount = discounts
    coupon_names = ", ".join(c.code for c in applied_coupons if c.type != "FREE_DELIVERY") if applied_coupons else ""
    tax_described = _tax_described(settled.tax_included) if sums.inclusive else "per line, after discounts"
    steps = [  # in the order they apply; a step the quote does not have is not there (written out: no call a step)
        ("items", "list prices", sums.item_total),
        *((("flash_sale", "flash-sale prices", sums.flash_total - sums.flash_list_total),) if sums.has_flash else ()),
        ("price_rules", f"{len(settled.price_rules)} price rules", sums.subtotal - sums.item_total - sums.flash_total
         + sums.flash_list_total),
        *((("promotions", _promotions_described(applied_promotions), zero - promotion_discount),)
          if shows_promotions else ()),
        ("discount", coupon_names or "none", promotion_discount - discount),
        ("tax", tax_described, settled.tax),
        *((("tax_exempted", "tax held in tax-inclusive prices, not charged (exempt)", zero - exempted),)
          if exempted else ()),
        ("delivery", delivery.description if fee == delivery.amount else f"waived by {waived_by}", fee),
        ("small_basket", small.description, small.amount),
    ]  # fmt: skip
    running = zero
    return [
        Calculation(step=step, description=description, amount=amount, running_total=(running := running + amount))
        for step, description, amount in steps
    ]


def _applied_coupon(code: str, coupon: Coupon, amount: Decimal) -> AppliedCoupon:
    """A coupon as the response shows it applied; `funded_by` only when the platform pays it."""
    if coupon.funded_by == "platform":
        return AppliedCoupon(code=code, type=coupon.type, amount=amount, funded_by="platform")
    return AppliedCoupon(code=code, type=coupon.type, amount=amount)


def _promotions_described(applied: list[AppliedPromotion]) -> str:
    names = [p.name for p in applied if p.kind != "FREE_DELIVERY"]
    return ", ".join(names) or "none"


def _tax_described(included: Decimal) -> str:
    """The tax step of a quote with tax-inclusive lines: the tax they contain is in the prices, not added."""
    return f"per line, after discounts; {included} included in tax-inclusive prices"


def _with_gifts(items: list[QuoteLine], promoted: Outcome, zero: Decimal) -> list[QuoteLine]:
    """The response lines and a line per gift given (docs/promotions.md#gifts): 0.00, no tax (its
    split 0.00 too where the quote's lines show one), no commission (it is no engine line)."""
    split = items[0].prices_include_tax is not UNSET
    gifts = [
        QuoteLine(
            product_id=stock.id,
            quantity=promotion.config.quantity if isinstance(promotion.config, Gift) else 1,
            list_unit_price=zero,
            unit_price=zero,
            line_subtotal=zero,
            discount=zero,
            tax=zero,
            price_source="gift",
            category_id=stock.category_id,
            seller_id=stock.seller_id,
            prices_include_tax=False if split else UNSET,
            net=zero if split else UNSET,
            gross=zero if split else UNSET,
            is_gift=True,
            promotion_id=promotion.id,
        )
        for promotion, stock in promoted.gifts
    ]
    return [*items, *gifts]


def _hints(
    inputs: QuoteInputs, lines: Sequence[Line], goods: Decimal, fee: Decimal, parcels: Shipments | None
) -> list[Hint]:
    """docs/promotions.md#hints: what the customer could add to get more, after every total, changing none."""
    region, defaults = inputs.region, inputs.defaults
    basket = HintBasket(
        lines,
        currency=region.currency,
        cent=region.cent,
        subtotal=inputs.subtotal,
        goods=goods,
        delivery_fee=fee,
        cap_percent=defaults.max_discount_percentage,
        parcels=parcels,
        gifts=inputs.gifts,
        free_rule=region.free_rule,
    )
    return next_steps(basket, inputs.snapshot.promotions, inputs.customer, inputs.request.channel, inputs.now)
