"""The quote engine's steps (`engine.price_quote` runs them in order), each a function of what the steps before
it answered, so each can be run and tested alone. Pure: no I/O, no clock (`now` is an input).

    quote_lines            1-4  list price, offers chosen, flash-sale split, price rules, line subtotals; answered
                                as what steps 5-10 read (`QuoteInputs`: the lines, their sums, the flags' knobs)
    automatic_promotions   5a   the promotions this basket meets, combined (`promotion_deals`)
    coupon_codes           5    the request's coupons, within what promotions left of the cap
    line_taxes             6    tax per line (`settle`, `taxed`; an extension's amounts as they are)
    shipments              7    a shipment per seller where shipping profiles apply
    fees                   7-8  the delivery fee (waived by a promotion or coupon), the small-basket fee
    quote_commission       10   commission on each line, shipment and order (`commission_breakdown`)

`quote_answer` then adds it all up into the response (totals, calculations, per-seller totals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from msgspec import Struct

from quote_service.pricing.commission_breakdown import commission_breakdown
from quote_service.pricing.commission_charges import Charges, charge_commission
from quote_service.pricing.coupons import CouponSet
from quote_service.pricing.delivery import Fee, delivery_fee, flag_number, small_basket_fee
from quote_service.pricing.discounts import CouponResult, apply_coupons, discount_cap
from quote_service.pricing.external import ExternalPricing, apply_taxes
from quote_service.pricing.fx_convert import NO_RATES, Converter
from quote_service.pricing.lines import HeldPrice, Line, held_lines, price_lines
from quote_service.pricing.money import MAX_AMOUNT, ZERO
from quote_service.pricing.offers import Choice
from quote_service.pricing.plan import RegionPlan
from quote_service.pricing.price_lists import PriceBook, PriceList, label
from quote_service.pricing.promotion_deals import Outcome, apply_promotions
from quote_service.pricing.promotions import FreeDelivery, GiftStock, PromotionBook, waived_fee
from quote_service.pricing.quote import (
    AppliedPromotion,
    CatalogProduct,
    CommissionBreakdown,
    CustomerContext,
    EngineDefaults,
    FlashOffer,
    QuoteRequest,
    RejectedPromotion,
)
from quote_service.pricing.reduced_lines import mark_own_prices
from quote_service.pricing.settle import Settled, line_tax, settle
from quote_service.pricing.shipments import Shipments, refuse_choices, split_shipments
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.pricing.taxed import TaxTerms, settle_taxed
from quote_service.pricing.taxes import DEFAULT_ROUNDING, Rounding

DYNAMIC_PRICING: Final = "dynamic_pricing"
EXPRESS_MULTIPLIER: Final = "express_delivery_multiplier"
SMALL_BASKET_THRESHOLD: Final = "small_basket_threshold"
_MAX_MULTIPLIER: Final = Decimal(100)
_NO_EXEMPTION: Final = (None, "none")


def quote_lines(
    request: QuoteRequest,
    snapshot: ConfigSnapshot,
    region: RegionPlan,
    customer: CustomerContext,
    defaults: EngineDefaults,
    feature_flags: Mapping[str, Any],
    now: datetime,
    gifts: Mapping[str, GiftStock] | None,
    products: Mapping[str, CatalogProduct],
    flash: Mapping[str, FlashOffer],
    book: PriceBook | None,
    held: Sequence[HeldPrice] | None,
    offers: Sequence[Choice | None] | None,
) -> QuoteInputs:
    """Steps 1-4: each item's line, priced (`lines.price_lines`: offers, price lists in `book`, flash sales, price
    rules) or held at the prices an order edit decided (`held`); marked with their own prices where a promotion
    or coupon reduces only those (docs/promotions.md#reduced-lines). Answered as what steps 5-10 read
    (`QuoteInputs`): the lines, their sums in one pass over them, and the flags' knobs."""
    fx = None  # docs/currencies.md: a line priced in another currency converts (FX_CONVERSION)
    if defaults.fx_conversion:
        fx = Converter(snapshot.fx or NO_RATES, region.currency, now, defaults.fx_endings)
        for conversion in region.fx_locks:  # its fees converted at these rates: the quote locks them too
            fx.lock(conversion)
    if held is None:
        # price rules apply unless the dynamic_pricing flag exists and serves a falsy value (written out: no call)
        if DYNAMIC_PRICING in feature_flags:
            dynamic = bool(feature_flags[DYNAMIC_PRICING])
        else:
            flag = snapshot.flags.get(DYNAMIC_PRICING)
            dynamic = flag is None or bool(flag.default_value)
        lines = price_lines(
            request,
            region=region,
            products=products,
            flash=flash,
            dynamic=dynamic,
            user_tier=customer.tier,
            now=now,
            price_lists=book,
            customer_group=None if book is None else label(customer.customer_group),
            channel=None if book is None else label(request.channel),
            offers=offers,
            fx=fx,
        )
    else:
        lines = held_lines(request, region=region, held=held)
    if fx is not None:  # a commission rate priced in another currency converted: the quote locks its rate
        for line in lines:
            for conversion in line.priced.plan.fx_used:
                fx.lock(conversion)
    if snapshot.promotions.reducing or (request.coupon_codes and snapshot.coupons.reducing):
        mark_own_prices(lines, products, region.currency, region.cent, snapshot.offers)
    subtotal = item_total = flash_total = flash_list_total = region.zero
    has_flash = inclusive = compound = False
    for line in lines:
        priced = line.priced
        if priced.inclusive:
            inclusive = True
        if priced.plan.tax_components is not None:
            compound = True
        subtotal += priced.subtotal
        item_total += priced.list_subtotal
        if priced.flash_sale_id is not None:
            has_flash = True
            flash_total += priced.subtotal
            flash_list_total += priced.list_subtotal
    # `in` and a subscript, not `get`: no call for a flag that is not served (docs/hot-path.md#the-cost-budget)
    multiplier = feature_flags[EXPRESS_MULTIPLIER] if EXPRESS_MULTIPLIER in feature_flags else None  # noqa: SIM401
    if multiplier is not None:
        multiplier = flag_number(multiplier, low=ZERO, high=_MAX_MULTIPLIER, low_inclusive=False)
    threshold = feature_flags[SMALL_BASKET_THRESHOLD] if SMALL_BASKET_THRESHOLD in feature_flags else None  # noqa: SIM401
    if threshold is not None:
        threshold = flag_number(threshold, low=ZERO, high=MAX_AMOUNT, low_inclusive=True)
    return QuoteInputs(
        request, snapshot, region, customer, defaults, now, gifts, lines, subtotal, item_total, flash_total,
        flash_list_total, has_flash, inclusive, compound, multiplier, threshold, fx,
    )  # fmt: skip


class QuoteInputs(Struct, gc=False):
    """What steps 5-10 read (`quote_lines` builds it, once a quote): the request and its context, the lines and
    their sums before any discount (what the totals and the calculation steps add up), the flags' knobs; and what the
    customer pays in the end for a deal of promotions (`pays`: steps 5-9 as sums, on copies of the lines;
    `promotion_deals` asks it only when a promotion that does not combine competes, docs/promotions.md#combination).
    A struct, not a class with an `__init__`: built in C (docs/hot-path.md#the-cost-budget)."""

    request: QuoteRequest
    snapshot: ConfigSnapshot
    region: RegionPlan
    customer: CustomerContext
    defaults: EngineDefaults
    now: datetime
    gifts: Mapping[str, GiftStock] | None
    """The GIFT promotions' products (docs/promotions.md#gifts); None: the book gives none."""
    lines: list[Line]
    """Steps 1-4's lines (promotions and coupons add to their discounts)."""
    subtotal: Decimal
    """The lines' subtotals (after price rules)."""
    item_total: Decimal
    """The lines' list prices."""
    flash_total: Decimal
    """The flash-sale lines' subtotals."""
    flash_list_total: Decimal
    """The flash-sale lines' list prices."""
    has_flash: bool
    inclusive: bool
    """Some line is tax-inclusive (docs/markets.md)."""
    compound: bool
    """Some line's tax has components (docs/taxes.md)."""
    multiplier: Decimal | None
    """The express delivery fee's multiplier a flag serves (None: the region's)."""
    threshold: Decimal | None
    """The small-basket threshold a flag serves (None: the region's)."""
    fx: Converter | None = None
    """The quote's conversions (FX_CONVERSION on; docs/currencies.md): the rates it used, which it locks."""
    promotions: PromotionBook | None = None
    """The promotions with those priced in another currency converted (FX_CONVERSION; None: the snapshot's)."""

    def delivery(self, goods: Decimal) -> Fee:
        """Step 7's delivery charge for goods worth `goods` after discounts (no shipping profile)."""
        request = self.request
        return delivery_fee(
            self.region,
            express=request.is_express_delivery,
            pickup=request.pickup_address,
            delivery=request.delivery_address,
            goods=goods,
            flag_multiplier=self.multiplier,
        )

    @property
    def summable(self) -> bool:
        """A deal's price needs only its lines' sums (`pays`'s `summed`): no coupon codes, which go line by line."""
        return not self.request.coupon_codes

    def pays(
        self,
        lines: Sequence[Line],
        *,
        blocks_coupons: bool,
        free_delivery: FreeDelivery | None,
        summed: tuple[Decimal, Decimal] | None = None,
    ) -> tuple[Decimal, bool]:
        """`total_amount` with these lines' promotion discounts, and whether the coupons saved something.
        `summed`: the lines' discount and the tax they add, already added up (a big basket's deal, in minor
        units: `promotion_deals.DealMinor.sums`; only where `summable`), so `lines` are not read."""
        region = self.region
        zero, cent = region.zero, region.cent
        taken = discount = tax = zero
        coupons: list[CouponResult] = []
        copies = lines
        codes = self.request.coupon_codes
        if summed is not None:
            discount, tax = summed
        else:
            if codes:  # they add to the lines' discounts: on copies
                for line in lines:
                    taken += line.discount
                copies = [Line(line.priced, line.discount, line.funded, line.own) for line in lines]
                coupons = coupon_codes(self, copies, taken, blocks_coupons)[0]
            # The tax each line adds, inline: every line of each deal compared (docs/hot-path.md#where-a-line-goes).
            for line in copies:
                priced, off = line.priced, line.discount
                discount += off
                if not priced.inclusive:  # a tax-inclusive line adds none
                    tax += line_tax(priced, off, cent) if off else priced.tax
        if not codes:  # the lines themselves: nothing but the promotions took
            taken = discount
        goods = self.subtotal - discount
        if free_delivery is None:
            charged = self.delivery(goods).amount
        elif free_delivery.percent is None and free_delivery.amount is None and free_delivery.max is None:
            charged = zero
        else:  # docs/promotions.md#partial-free-delivery
            charged = self.delivery(goods).amount
            charged -= waived_fee(free_delivery, charged, region.cent)
        fee = free_delivery_coupon(coupons, charged, zero) if coupons else charged
        small = small_basket_fee(region, goods=goods, flag_threshold=self.threshold).amount
        return goods + tax + fee + small, discount > taken or fee != charged


def automatic_promotions(inputs: QuoteInputs, lines: list[Line]) -> Outcome | None:
    """Step 5a: the promotions this basket meets, combined (`promotion_deals`), discounts on the lines; None when
    it meets none (the quote then reads as if none were configured). Asked only where the book has promotions in
    the quote's currency (or in every currency)."""
    region = inputs.region
    book = inputs.snapshot.promotions if inputs.promotions is None else inputs.promotions
    request, customer, subtotal = inputs.request, inputs.customer, inputs.subtotal
    meeting = book.meeting_for(
        currency=region.currency,
        subtotal=subtotal,
        category_ids=[line.priced.category_id for line in lines],
        product_ids=[line.priced.product_id for line in lines],
        customer_group=customer.customer_group,
        customer_segment=customer.segment,
        channel=request.channel,
        now=inputs.now,
    )
    if not meeting:
        return None
    return apply_promotions(
        book,
        lines,
        meeting=meeting,
        cap=discount_cap(subtotal, inputs.defaults.max_discount_percentage, region.cent),
        cent=region.cent,
        delivery_value=lambda: inputs.delivery(subtotal).amount,
        deal_price=inputs,
        subtotal=subtotal,
        gifts=inputs.gifts,
        customer_uses=customer.promotion_uses,
    )


def coupon_codes(
    inputs: QuoteInputs, lines: Sequence[Line], taken: Decimal, blocked: bool
) -> tuple[list[CouponResult], Decimal]:
    """Step 5: the request's coupons on `lines` (their discounts grow), after promotions that took `taken` of the
    cap (`blocked`: a promotion applied refuses coupons), and the quote's discount (promotions and coupons).
    Asked only when the request names a coupon code."""
    coupons = inputs.snapshot.coupons
    customer = inputs.customer
    if customer.generated_coupons:  # codes of a batch: looked up for this quote (docs/promotions.md#code-batches)
        coupons = CouponSet({**coupons.by_code, **customer.generated_coupons}, coupons.reducing)
    region = inputs.region
    results = apply_coupons(
        inputs.request.coupon_codes,
        lines,
        coupons,
        subtotal=inputs.subtotal,
        currency=region.currency,
        cent=region.cent,
        customer_uses=customer.coupon_uses,
        max_discount_percentage=inputs.defaults.max_discount_percentage,
        now=inputs.now,
        taken=taken,
        blocked=blocked,
        fx=inputs.fx,
    )
    discount = region.zero
    for line in lines:
        discount += line.discount
    return results, discount


Taxed = tuple[Settled, "TaxTerms | None", Decimal]
"""Step 6's answer: the lines settled (tax, commission details, response lines), the terms their taxes followed
(None: the default rounding, no components, no exemption) and the tax an exemption took out."""


def line_taxes(
    inputs: QuoteInputs, lines: Sequence[Line], book: PriceBook | None, external: ExternalPricing | None
) -> Taxed:
    """Step 6: tax per line, after discounts: added to a net line, contained in a tax-inclusive one
    (docs/markets.md); component by component where docs/taxes.md's terms ask; an extension's amounts as they are
    (docs/extensions.md)."""
    region, request = inputs.region, inputs.request
    rounding = inputs.defaults.rounding
    if book is not None and book.roundings:  # a price list that rounds taxes its own way (docs/taxes.md)
        rounding = _list_rounding(lines, book.roundings, rounding)
    terms = None  # docs/taxes.md: compound taxes, an exemption or a rounding of its own (written out: no call)
    if inputs.compound or rounding != DEFAULT_ROUNDING or request.tax_exemption not in _NO_EXEMPTION:
        terms = TaxTerms(rounding, request.tax_exemption)
    exempted = region.zero
    if terms is None:
        settled = settle(lines, region, inputs.inclusive)
    else:
        settled, exempted = settle_taxed(lines, region, terms, inputs.inclusive)
    if external is not None and external.taxes:
        apply_taxes(settled, lines, external.taxes, region.zero)
    return settled, terms, exempted


def shipments(
    inputs: QuoteInputs,
    lines: Sequence[Line],
    products: Mapping[str, CatalogProduct],
    external: ExternalPricing | None,
    offers: Sequence[Choice | None] | None,
) -> Shipments | None:
    """Step 7's shipments: one per seller where shipping profiles (or a shipping extension) apply; None where
    none could serve the basket (the quote then charges one delivery fee, `QuoteInputs.delivery`). Asked only where
    a profile could serve a shipment of the basket, an extension ships it or the request chooses (`price_quote`)."""
    request, snapshot, region = inputs.request, inputs.snapshot, inputs.region
    outside = None if external is None or not external.shipping else external.shipping
    if snapshot.shipping is None and outside is None:
        if request.shipping:
            refuse_choices(request.shipping, {})
        return None
    return split_shipments(
        request, lines, region=region, book=snapshot.shipping, products=products, multiplier=inputs.multiplier,
        outside=outside, offers=offers,
    )  # fmt: skip


Fees = tuple[Fee, Decimal, Fee, list[AppliedPromotion], list[RejectedPromotion], str]
"""Steps 7-8's answer: the delivery charge, the fee left after a free-delivery promotion or coupon, the
small-basket fee, the promotions as the response shows them (applied, rejected), and what waived the fee
("promotion" or "coupon")."""


def fees(
    inputs: QuoteInputs,
    goods: Decimal,
    parcels: Shipments | None,
    promoted: Outcome | None,
    coupons: Sequence[CouponResult],
) -> Fees:
    """Steps 7-8: the delivery fee for goods worth `goods` after discounts (the shipments' when there are some),
    waived by a FREE_DELIVERY promotion, then coupon; the small-basket fee."""
    region = inputs.region
    zero = region.zero
    delivery = inputs.delivery(goods) if parcels is None else parcels.charge
    fee = delivery.amount
    applied: list[AppliedPromotion] = []
    rejected: list[RejectedPromotion] = []
    waived_by = "coupon"
    if promoted is not None:
        fee = _promotions_shown(promoted, fee, zero, applied, rejected, parcels)
        if fee != delivery.amount:
            waived_by = "promotion"
    if coupons:
        left = fee
        fee = free_delivery_coupon(coupons, left, zero)
        if parcels is not None and fee != left:
            parcels.waive_all()
    small = small_basket_fee(region, goods=goods, flag_threshold=inputs.threshold)
    return delivery, fee, small, applied, rejected, waived_by


def quote_commission(
    inputs: QuoteInputs, lines: Sequence[Line], settled: Settled, parcels: Shipments | None, fee: Decimal
) -> tuple[CommissionBreakdown, Charges | None]:
    """Step 10: commission as marketplaces charge it (docs/commission.md): each line's (other bases, FLAT per line,
    shipment or order and named fees in `commission_charges`, only where a line's rates ask), the shipments'
    logistics commission on their fees; the charges where some line's rates ask for them."""
    request, region = inputs.request, inputs.region
    charges = None
    if inputs.snapshot.commissions.extended:  # written out, no call, for a quote whose lines do not ask
        for line in lines:
            if line.priced.plan.extended:
                charges = charge_commission(lines, settled, region, parcels=parcels, delivery_fee=fee)
                charges.settle_into(settled)
                break
    commission = commission_breakdown(
        lines,
        settled,
        region,
        quote_seller_id=request.seller_id,
        logistics_provider=request.logistics_provider if parcels is None else None,
        delivery_fee=fee,
        fx=inputs.fx,
    )
    if parcels is not None:  # logistics commission per shipment, on its fee
        commission = parcels.with_logistics(commission, region, request.logistics_provider, inputs.fx)
    if charges is not None:
        commission = charges.with_fees(commission)
    return commission, charges


def free_delivery_coupon(coupons: Sequence[CouponResult], fee: Decimal, zero: Decimal) -> Decimal:
    """The first valid FREE_DELIVERY coupon waives a fee that is still due; any other is NOT_APPLICABLE."""
    for result in coupons:
        if result.reason is None and result.amount is None:
            if fee > 0:
                result.amount, fee = fee, zero
            else:
                result.reason = "NOT_APPLICABLE"
    return fee


def _promotions_shown(
    promoted: Outcome,
    fee: Decimal,
    zero: Decimal,
    applied: list[AppliedPromotion],
    rejected: list[RejectedPromotion],
    parcels: Shipments | None = None,
) -> Decimal:
    """Fill in the response's promotions (a FREE_DELIVERY one waives `fee`, or the fees of the shipments
    it applies to: its amount); the fee left."""
    for promotion, amount in promoted.applied:
        if promotion is promoted.free_delivery:
            terms = promoted.delivery_terms
            assert terms is not None
            if parcels is not None:
                amount, fee = parcels.waive(promotion, terms)
            elif terms.percent is None and terms.amount is None and terms.max is None:
                amount, fee = fee, zero
            else:  # docs/promotions.md#partial-free-delivery: the quote's one shipment
                amount = waived_fee(terms, fee, zero)
                fee -= amount
        if promotion.funded_by == "platform":  # `funded_by` absent for the seller's: such quotes read as before
            shown = AppliedPromotion(
                promotion_id=promotion.id, name=promotion.name, kind=promotion.kind, amount=amount, funded_by="platform"
            )
        else:
            shown = AppliedPromotion(promotion_id=promotion.id, name=promotion.name, kind=promotion.kind, amount=amount)
        applied.append(shown)
    rejected.extend(
        RejectedPromotion(promotion_id=p.id, reason=reason, name=p.name, detail=detail)
        for p, reason, detail in promoted.rejected
    )
    return fee


def _list_rounding(lines: Sequence[Line], roundings: Mapping[int, PriceList], rounding: Rounding) -> Rounding:
    """The rounding of the first line priced from a price list that sets one (what it leaves unset: `rounding`'s)."""
    for line in lines:
        list_id = line.priced.price_list_id
        found = None if list_id is None else roundings.get(list_id.int)
        if found is not None:
            return Rounding(
                mode=found.rounding_mode or rounding.mode,  # type: ignore[arg-type]
                tax_calculation=found.tax_calculation or rounding.tax_calculation,  # type: ignore[arg-type]
            )
    return rounding
