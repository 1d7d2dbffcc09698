"""The quote engine's last step: what the steps answered, added up into the response (`Quote`). Pure.

The total is the exact sum of the rounded parts it names (an exempt tax-inclusive line's subtotal leaves out
the tax its price held, docs/taxes.md#exemptions: the quote's subtotal too, so total = subtotal - discount +
tax + fees still holds); the calculation steps are built in the order they apply, each with the running total
after it; every sum stays below the ceiling of every amount (docs/quotes-and-orders.md#the-money-ceiling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from msgspec import UNSET
from msgspec.structs import replace

from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing.commission_charges import Charges
from quote_service.pricing.coupons import Coupon
from quote_service.pricing.discounts import CouponResult
from quote_service.pricing.external import Answered
from quote_service.pricing.hints import HintBasket, next_steps
from quote_service.pricing.installments import Paying, with_installments
from quote_service.pricing.lines import HeldPrice, Line
from quote_service.pricing.money import MAX_AMOUNT
from quote_service.pricing.offers import Choice, with_offers
from quote_service.pricing.once_fees import EditFees
from quote_service.pricing.once_fees import edit_fees as edit_fees_kept
from quote_service.pricing.prior_lines import PriorTable, prior_lines
from quote_service.pricing.promotion_deals import Outcome
from quote_service.pricing.promotions import Gift
from quote_service.pricing.quote import (
    AppliedCoupon,
    AppliedPromotion,
    Calculation,
    CatalogProduct,
    CommissionBreakdown,
    Hint,
    PricingBreakdown,
    QuantityLimit,
    Quote,
    QuoteLine,
    QuoteRequest,
    RejectedCoupon,
)
from quote_service.pricing.quote_steps import Fees, QuoteInputs, Taxed
from quote_service.pricing.seller_totals import seller_totals
from quote_service.pricing.settle import Settled
from quote_service.pricing.shipments import Shipments
from quote_service.pricing.taxed import TaxTerms


def refuse_beyond_ceiling(inputs: QuoteInputs, total: Decimal, earned: Decimal) -> ValidationFailed:
    """The refusal of a basket a sum of which reaches the ceiling of every amount, naming the first that does
    (asked only then: each line passed the ceiling in `price_lines` and the parts are never negative, so these
    sums bound every other amount)."""
    subtotal, item_total = inputs.subtotal, inputs.item_total
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
    quote_id: UUID,
    feature_flags: dict[str, Any],
    experiments: dict[str, str],
    forced: list[str],
    promoted: Outcome | None,
    promotion_discount: Decimal,
    discount: Decimal,
    coupons: Sequence[CouponResult],
    taxed: Taxed,
    parcels: Shipments | None,
    charged: Fees,
    commission: tuple[CommissionBreakdown, Charges | None],
    held: Sequence[HeldPrice] | None,
    offers: Sequence[Choice | None] | None,
    quantity_limits: Sequence[QuantityLimit] | None,
    products: Mapping[str, CatalogProduct],
    priors: PriorTable | None,
    installments: Paying | None,
    edit_fees: EditFees | None,
    answered: Answered | None,
) -> Quote:
    """The response: the totals, the calculation steps, the lines (and gifts), the coupons and promotions shown,
    the shipments and each seller's totals, the hints; then the steps that read the total: installments (a
    seller-funded option adds commission) and an order edit's fees. The arguments: the steps' answers and the
    engine's inputs (engine.py), as they came (no struct a step: docs/hot-path.md#the-cost-budget)."""
    region, request, now = inputs.region, inputs.request, inputs.now
    settled, terms, exempted = taxed
    delivery, fee, small, applied_promotions, rejected_promotions, _ = charged
    breakdown, charges = commission
    tax_amount = settled.tax
    subtotal = inputs.subtotal
    shown_subtotal = subtotal - exempted if exempted else subtotal
    total = shown_subtotal - discount + tax_amount + fee + small.amount
    earned = breakdown.total_commission
    if inputs.item_total >= MAX_AMOUNT or subtotal >= MAX_AMOUNT or total >= MAX_AMOUNT or earned >= MAX_AMOUNT:
        raise refuse_beyond_ceiling(inputs, total, earned)
    applied_coupons: list[AppliedCoupon] = []
    rejected_coupons: list[RejectedCoupon] = []
    for result in coupons:  # as the response shows them: applied (with their amount), rejected (with the reason)
        if result.reason is not None:
            rejected_coupons.append(RejectedCoupon(code=result.code, reason=result.reason))
        elif result.coupon is not None and result.amount is not None:
            applied_coupons.append(_applied_coupon(result.code, result.coupon, result.amount))
    shows = promoted is not None and bool(applied_promotions or rejected_promotions)
    calculations = _calculations(
        inputs, settled, exempted, charged, applied_coupons, promotion_discount, discount, shows, region.zero
    )
    items = settled.items
    if held is not None or offers is not None or (promoted is not None and promoted.gifts):
        items = lines_shown(items, request, (held, offers), promoted, region.zero)
    # docs/markets.md#prior-price-for-announced-reductions: without a catalog product or a promotion applied no line
    # is reduced (a flash sale's and a campaign's are a product's): a quote of ad-hoc lines pays no call.
    if priors is not None and (products or applied_promotions):
        snapshot = inputs.snapshot
        items = prior_lines(
            items, applied_promotions, products, snapshot.flash_sales, snapshot.promotions.reductions,
            region.currency, priors,
        )  # fmt: skip
    quote = Quote(
        quote_id=quote_id,
        customer_id=inputs.customer.customer_id,
        subtotal=shown_subtotal,
        discount_amount=discount,
        tax_amount=tax_amount,
        delivery_fee=fee,
        small_basket_fee=small.amount,
        total_amount=total,
        currency=region.currency,
        items=items,
        commission_breakdown=breakdown,
        pricing_breakdown=PricingBreakdown(
            item_total=inputs.item_total,
            subtotal=shown_subtotal,
            tax_amount=tax_amount,
            delivery_fee=fee,
            small_basket_fee=small.amount,
            total_amount=total,
            currency=region.currency,
            calculations=calculations,
        ),
        applied_rules=[*settled.price_rules, *settled.tax_rules, *delivery.rules, *small.rules],
        applied_coupons=applied_coupons,
        rejected_coupons=rejected_coupons,
        feature_flags=feature_flags,
        experiments=experiments,
        created_at=now,
        valid_until=now + region.validity,
        fx=UNSET if inputs.fx is None or (locked := inputs.fx.locked(now + region.validity)) is None else locked,
        config_version=inputs.snapshot.version,
        forced_experiments=forced,
        applied_promotions=applied_promotions,
        rejected_promotions=rejected_promotions,
        tax_included=settled.tax_included if inputs.inclusive else UNSET,
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
        hints=UNSET if not request.hints else _hints(inputs, lines, subtotal - discount, fee, parcels),
        quantity_limits=list(quantity_limits) if quantity_limits else UNSET,
        channel=UNSET if inputs.customer.agent is None else "agent",
        agent=inputs.customer.agent or UNSET,
        tax_source=UNSET if answered is None else answered.tax_source,
        warnings=UNSET if answered is None else answered.warnings,
    )
    if terms is not None:
        quote = _with_tax_terms(quote, terms, request, exempted if inputs.inclusive else None)
    if installments is not None:  # docs/taxes.md#installments
        quote = with_installments(quote, installments)
    if edit_fees is not None:  # docs/orders-and-refunds.md#edits-and-exchanges
        quote = edit_fees_kept(quote, edit_fees, inputs.defaults.commission_tax_rate)
    return quote


def _with_tax_terms(quote: Quote, terms: TaxTerms, request: QuoteRequest, exempted: Decimal | None) -> Quote:
    """`quote` with the tax terms its lines followed (docs/taxes.md): the rounding, the exemption and the customer's
    tax id it was granted on, and (`exempted`: a tax-inclusive quote's) the tax the exemption took out."""
    exemption = terms.exemption
    return replace(
        quote,
        rounding=terms.rounding,
        tax_exemption=UNSET if exemption is None else exemption,
        customer_tax_id=UNSET if exemption is None or request.customer_tax_id is None else request.customer_tax_id,
        tax_exempted=exempted if exempted is not None and exemption is not None else UNSET,
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
    inputs: QuoteInputs,
    settled: Settled,
    exempted: Decimal,
    charged: Fees,
    applied_coupons: list[AppliedCoupon],
    promotion_discount: Decimal,
    discount: Decimal,
    shows_promotions: bool,
    zero: Decimal,
) -> list[Calculation]:
    """The steps of the total in the order they apply, each with the running total after it (the last equals
    total_amount); the flash sale's, the promotions' and the exemption's only where the quote has them.
    `charged`: step 7-8's answer (`fees`); `promotion_discount`: the promotions' discount, `discount` the quote's
    (promotions and coupons). Built in order, written out (no call a step)."""
    delivery, fee, small, applied_promotions, _, waived_by = charged
    running = item_total = inputs.item_total
    shown = [Calculation(step="items", description="list prices", amount=item_total, running_total=item_total)]
    if inputs.has_flash:
        amount = inputs.flash_total - inputs.flash_list_total
        running += amount
        described = "flash-sale prices"
        shown += (Calculation(step="flash_sale", description=described, amount=amount, running_total=running),)
    amount = inputs.subtotal - item_total - inputs.flash_total + inputs.flash_list_total
    running += amount
    described = f"{len(settled.price_rules)} price rules"
    shown += (Calculation(step="price_rules", description=described, amount=amount, running_total=running),)
    if shows_promotions:
        amount = zero - promotion_discount
        running += amount
        described = _promotions_described(applied_promotions)
        shown += (Calculation(step="promotions", description=described, amount=amount, running_total=running),)
    amount = promotion_discount - discount
    described = ", ".join(c.code for c in applied_coupons if c.type != "FREE_DELIVERY") if applied_coupons else ""
    tax = settled.tax
    taxes = _tax_described(settled.tax_included) if inputs.inclusive else "per line, after discounts"
    shown += (
        Calculation(step="discount", description=described or "none", amount=amount,
                    running_total=(running := running + amount)),
        Calculation(step="tax", description=taxes, amount=tax, running_total=(running := running + tax)),
    )  # fmt: skip
    if exempted:
        amount = zero - exempted
        running += amount
        described = "tax held in tax-inclusive prices, not charged (exempt)"
        shown += (Calculation(step="tax_exempted", description=described, amount=amount, running_total=running),)
    running += fee
    described = delivery.description if fee == delivery.amount else f"waived by {waived_by}"
    shown += (
        Calculation(step="delivery", description=described, amount=fee, running_total=running),
        Calculation(step="small_basket", description=small.description, amount=small.amount,
                    running_total=running + small.amount),
    )  # fmt: skip
    return shown


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
