"""An independent reference quote engine, written from docs/pricing.md, for the differential test.

`test_engine_differential` prices thousands of random baskets with this and with
`quote_service.pricing.engine` and demands identical JSON. This package shares the production
code's types (request, response and configuration Structs) and errors, never a function that
computes: money, rule selection and evaluation, coupon checks, flag evaluation and commission
are all written here again from the documentation, so a bug in one of them shows as a
difference (tests/unit/pricing/test_engine_mutations.py proves that for a mutation of each). It reads
the configuration as the plain lists a snapshot is built from, never the snapshot's indexes.
Where the two disagree, the docs decide which one is wrong.

Steps, in order: list price, flash-sale split, price rules and line subtotals (`lines`),
automatic promotions (`promotions`, from docs/promotions.md), coupons (`discounts`), tax per
line, delivery and small-basket fees (`delivery`), the total,
and commission (`commission`, the one module to change when commission semantics change).
Money is Decimal throughout and rounded half up to the currency's minor units once per line
and once per fee; every total is the exact sum of the rounded parts it names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from msgspec import UNSET
from msgspec.structs import replace

from quote_service.errors import invalid
from quote_service.pricing.commission import CommissionRate
from quote_service.pricing.coupons import Coupon
from quote_service.pricing.flags import FeatureFlag
from quote_service.pricing.price_lists import PriceList
from quote_service.pricing.promotions import FreeDelivery, Promotion
from quote_service.pricing.quote import (
    AppliedCoupon,
    AppliedPromotion,
    AppliedRule,
    Calculation,
    CatalogProduct,
    CustomerContext,
    EngineDefaults,
    FlashOffer,
    PricingBreakdown,
    Quote,
    QuoteLine,
    QuoteRequest,
    RejectedCoupon,
    RejectedPromotion,
)
from quote_service.pricing.rules import PricingRule, TaxRateConfig
from quote_service.pricing.shipping import ShippingProfile
from quote_service.pricing.taxes import Rounding
from tests.unit.pricing.reference_engine import shipments, taxes
from tests.unit.pricing.reference_engine.commission import Place, commission_breakdown
from tests.unit.pricing.reference_engine.delivery import Fee, delivery_fee, distance_km, flag_number, small_basket_fee
from tests.unit.pricing.reference_engine.discounts import CouponResult, apply_coupons
from tests.unit.pricing.reference_engine.flags import flags_served
from tests.unit.pricing.reference_engine.lines import Line, price_lines
from tests.unit.pricing.reference_engine.money import MINOR_UNITS, ZERO, cent_of
from tests.unit.pricing.reference_engine.promotions import apply_promotions
from tests.unit.pricing.reference_engine.reduced import delivery_part, set_own_prices
from tests.unit.pricing.reference_engine.rules import tax_percent, tax_rate
from tests.unit.pricing.reference_engine.targeting import quote_attributes


@dataclass(frozen=True)
class Config:
    """The configuration a reference quote reads: the plain lists a snapshot is built from."""

    version: int
    rates: Sequence[CommissionRate]
    rules: Sequence[PricingRule]
    flags: Sequence[FeatureFlag]
    coupons: Sequence[Coupon]
    price_lists: Sequence[PriceList] = ()
    promotions: Sequence[Promotion] = ()
    shipping_profiles: Sequence[ShippingProfile] = ()


DYNAMIC_PRICING = "dynamic_pricing"
EXPRESS_MULTIPLIER = "express_delivery_multiplier"
SMALL_BASKET_THRESHOLD = "small_basket_threshold"
_MAX_MULTIPLIER = Decimal(100)
_MAX_AMOUNT = Decimal("1e12")


def price_quote(
    request: QuoteRequest,
    *,
    config: Config,
    products: Mapping[str, CatalogProduct],
    flash: Mapping[str, FlashOffer],
    customer: CustomerContext,
    defaults: EngineDefaults,
    now: datetime,
    quote_id: UUID,
) -> Quote:
    """Price `request` under `config` at `now` (docs/pricing.md, steps 1-10).

    `products` and `flash` are keyed by the request's product_id. Raises ValidationFailed
    (or CurrencyNotPriced) with field paths for input the schema cannot refuse.
    """
    currency = request.currency.upper()
    if currency not in MINOR_UNITS:
        raise invalid("currency", "not an ISO 4217 currency code")
    cent = cent_of(currency)
    zero = ZERO.quantize(cent)
    address = request.delivery_address
    city, country = address.city, address.country
    feature_flags, experiments = flags_served(
        config.flags,
        user_id=customer.customer_id,
        segment=customer.segment,
        city=city,
        country=country,
        now=now,
        attributes=quote_attributes(request, customer, products, currency=currency),
    )

    # 1-4: lines, each with its own price (docs/promotions.md: what a reduced line is below)
    lines = price_lines(
        request,
        currency=currency,
        cent=cent,
        products=products,
        flash=flash,
        rules=config.rules if _dynamic_pricing(config.flags, feature_flags) else None,
        user_tier=customer.tier,
        city=city,
        country=country,
        now=now,
        zone=defaults.timezone,
        price_lists=config.price_lists,
        customer_group=customer.customer_group,
        channel=request.channel,
    )
    set_own_prices(lines, products, currency, cent)
    subtotal = item_total = flash_total = flash_list_total = zero
    has_flash = False
    for line in lines:
        subtotal += line.subtotal
        item_total += line.list_subtotal
        if line.flash_sale_id is not None:
            has_flash = True
            flash_total += line.subtotal
            flash_list_total += line.list_subtotal

    multiplier = flag_number(feature_flags.get(EXPRESS_MULTIPLIER), low=ZERO, high=_MAX_MULTIPLIER, low_inclusive=False)

    def delivery_for(goods: Decimal) -> Fee:
        return delivery_fee(
            config.rules,
            express=request.is_express_delivery,
            km=distance_km(request.pickup_address, address),
            goods=goods,
            flag_multiplier=multiplier,
            defaults=defaults,
            city=city,
            country=country,
            now=now,
            cent=cent,
            currency=currency,
        )

    small_threshold = flag_number(
        feature_flags.get(SMALL_BASKET_THRESHOLD), low=ZERO, high=_MAX_AMOUNT, low_inclusive=True
    )

    def small_for(goods: Decimal) -> Fee:
        return small_basket_fee(
            config.rules,
            goods=goods,
            flag_threshold=small_threshold,
            defaults=defaults,
            city=city,
            country=country,
            now=now,
            cent=cent,
            currency=currency,
        )

    def coupons_on(deal_lines: list[Line], took: Decimal, refused: bool) -> list[CouponResult]:
        return apply_coupons(
            request.coupon_codes,
            deal_lines,
            config.coupons,
            subtotal=subtotal,
            currency=currency,
            cent=cent,
            customer_uses=customer.coupon_uses,
            max_discount_percentage=defaults.max_discount_percentage,
            now=now,
            promotions_took=took,
            no_coupons=refused,
        )

    def pays(deal_lines: list[Line], refused: bool, waived: FreeDelivery | None) -> tuple[Decimal, bool]:
        """docs/promotions.md: what the customer pays in the end with a deal: steps 5-9 on its lines."""
        took = sum((line.discount for line in deal_lines), zero)
        results = coupons_on(deal_lines, took, refused)
        discount = sum((line.discount for line in deal_lines), zero)
        tax, _, _ = _tax(
            deal_lines, config.rules, default_rate=defaults.tax_rate, city=city, country=country, now=now, cent=cent
        )
        charged = delivery_for(subtotal - discount).amount
        if waived is not None:  # docs/promotions.md: the whole fee, or the part the terms say
            charged -= delivery_part(waived, charged, cent)
        fee = _free_delivery_coupon(results, charged, zero)
        total = subtotal - discount + tax + fee + small_for(subtotal - discount).amount
        return total, discount > took or fee < charged

    # 5a: promotions (docs/promotions.md)
    promoted = apply_promotions(
        config.promotions,
        lines,
        currency=currency,
        segment=customer.segment,
        group=customer.customer_group,
        channel=request.channel,
        subtotal=subtotal,
        cap_percent=defaults.max_discount_percentage,
        cent=cent,
        fee=lambda: delivery_for(subtotal).amount,
        pays=pays,
        now=now,
        uses=customer.promotion_uses,
    )

    # 5: coupons
    coupons = coupons_on(lines, promoted.discount, promoted.blocks_coupons)
    discount = zero
    for line in lines:
        discount += line.discount
    goods = subtotal - discount

    # 6: tax (docs/taxes.md: a compound rule, an exemption or a rounding of its own: every line component by component)
    exemption = None if request.tax_exemption in (None, "none") else request.tax_exemption
    rounding = defaults.rounding
    compound = any(
        (rule := tax_rate(config.rules, category_id=line.category_id, city=city, country=country, now=now)) is not None
        and isinstance(rule.configuration, TaxRateConfig)
        and rule.configuration.components is not None
        for line in lines
    )
    taxed = compound or exemption is not None or rounding != Rounding()
    if taxed:
        tax_amount, tax_included, tax_rules, exempted = _tax_by_components(
            lines, config.rules, default_rate=defaults.tax_rate, city=city, country=country, now=now, cent=cent,
            mode=rounding.mode, unit_level=rounding.tax_calculation == "UNIT", exemption=exemption,
        )  # fmt: skip
    else:
        tax_amount, tax_included, tax_rules = _tax(
            lines, config.rules, default_rate=defaults.tax_rate, city=city, country=country, now=now, cent=cent
        )
        exempted = zero

    # 7: delivery (docs/shipping.md: a shipment per seller where a profile applies), then a free-delivery waiver
    shipped = None
    if any(p.is_active for p in config.shipping_profiles):
        shipped = shipments.ship(
            request, lines, config.shipping_profiles, products=products,
            km=distance_km(request.pickup_address, address), currency=currency, cent=cent, rules_fee=delivery_for,
        )  # fmt: skip
    else:
        shipments.refuse(request.shipping or {}, {})
    delivery = delivery_for(goods) if shipped is None else shipped.charge
    fee = delivery.amount
    applied_promotions = []
    for promotion, amount in promoted.applied:
        if promotion is promoted.free_delivery:
            assert isinstance(promotion.config, FreeDelivery)
            if shipped is None:
                amount = delivery_part(promotion.config, fee, cent)
                fee -= amount
            else:
                amount, fee = shipped.waive(promotion)
        kind = type(promotion.config).__struct_config__.tag
        funder = {"funded_by": "platform"} if promotion.funded_by == "platform" else {}
        applied_promotions.append(
            AppliedPromotion(promotion_id=promotion.id, name=promotion.name, kind=str(kind), amount=amount, **funder)
        )
    waived_by = "promotion" if fee != delivery.amount else "coupon"
    left = fee
    fee = _free_delivery_coupon(coupons, fee, zero)
    if shipped is not None and fee != left:
        shipped.waive_all()

    # 8: small basket
    small = small_for(goods)

    # 9: total (docs/taxes.md: an exempt gross line charges its net: its subtotal, and the quote's, leave out the
    # tax its price held, so total = subtotal - discount + tax + fees as §5 says)
    shown_subtotal = subtotal - exempted
    total = shown_subtotal - discount + tax_amount + fee + small.amount

    # docs/markets.md: a quote with a tax-inclusive line shows every line's tax split
    split = any(line.inclusive for line in lines)

    # 10: commission
    commission = commission_breakdown(
        lines,
        config.rates,
        default_percent=defaults.commission_rate,
        quote_seller_id=request.seller_id,
        logistics_provider=request.logistics_provider if shipped is None else None,
        delivery_fee=fee,
        city=city,
        country=country,
        currency=currency,
        cent=cent,
        now=now,
        deliveries=None
        if shipped is None
        else [([next(i for i, x in enumerate(lines) if x is y) for y in g.lines], g.fee) for g in shipped.groups],
    )
    if shipped is not None:
        place = Place(city, country, currency, now)
        commission = shipments.with_logistics(
            shipped, commission, config.rates, place, request.logistics_provider, cent
        )

    price_rules = _price_rules_total(lines)
    items = [_quote_line(line, cent, split) for line in lines]
    if taxed:
        items = [_taxed_line(item, line, exemption) for item, line in zip(items, lines, strict=True)]
    applied_coupons = []
    rejected_coupons = []
    for result in coupons:
        if result.reason is not None:
            rejected_coupons.append(RejectedCoupon(code=result.code, reason=result.reason))
        elif result.coupon is not None and result.amount is not None:
            funder = {"funded_by": "platform"} if result.coupon.funded_by == "platform" else {}
            applied_coupons.append(
                AppliedCoupon(code=result.code, type=result.coupon.type, amount=result.amount, **funder)
            )
    steps = [
        ("items", "list prices", item_total),
        ("flash_sale", "flash-sale prices", flash_total - flash_list_total),
        ("price_rules", f"{len(price_rules)} price rules", subtotal - item_total - flash_total + flash_list_total),
        (
            "discount",
            ", ".join(c.code for c in applied_coupons if c.type != "FREE_DELIVERY") or "none",
            promoted.discount - discount,
        ),
        (
            "tax",
            f"per line, after discounts; {tax_included} included in tax-inclusive prices"
            if split
            else "per line, after discounts",
            tax_amount,
        ),
        ("delivery", delivery.description if fee == delivery.amount else f"waived by {waived_by}", fee),
        ("small_basket", small.description, small.amount),
    ]
    if exempted:
        steps.insert(5, ("tax_exempted", "tax held in tax-inclusive prices, not charged (exempt)", zero - exempted))
    if promoted.applied or promoted.rejected:
        names = ", ".join(p.name for p, _ in promoted.applied if not isinstance(p.config, FreeDelivery))
        steps.insert(3, ("promotions", names or "none", zero - promoted.discount))
    if not has_flash:
        del steps[1]
    made = Quote(
        quote_id=quote_id,
        customer_id=customer.customer_id,
        subtotal=shown_subtotal,
        discount_amount=discount,
        tax_amount=tax_amount,
        delivery_fee=fee,
        small_basket_fee=small.amount,
        total_amount=total,
        currency=currency,
        items=items,
        commission_breakdown=commission,
        pricing_breakdown=PricingBreakdown(
            item_total=item_total,
            subtotal=shown_subtotal,
            tax_amount=tax_amount,
            delivery_fee=fee,
            small_basket_fee=small.amount,
            total_amount=total,
            currency=currency,
            calculations=_calculations(steps, zero),
        ),
        applied_rules=[*price_rules, *tax_rules, *delivery.rules, *small.rules],
        applied_coupons=applied_coupons,
        rejected_coupons=rejected_coupons,
        feature_flags=feature_flags,
        experiments=experiments,
        created_at=now,
        valid_until=now + timedelta(minutes=defaults.validity_minutes),
        config_version=config.version,
        applied_promotions=applied_promotions,
        rejected_promotions=[
            RejectedPromotion(promotion_id=p.id, reason=r, name=p.name, detail=why) for p, r, why in promoted.rejected
        ],
        tax_included=tax_included if split else UNSET,
        shipments=UNSET if shipped is None else shipments.shipments_shown(shipped),
        sellers=UNSET
        if shipped is None
        else shipments.sellers_shown(shipped, items, commission, defaults.commission_tax_rate, cent),
    )
    if not taxed:
        return made
    return replace(
        made,
        rounding=rounding,
        tax_exemption=UNSET if exemption is None else exemption,
        customer_tax_id=UNSET if exemption is None or request.customer_tax_id is None else request.customer_tax_id,
        tax_exempted=exempted if split and exemption is not None else UNSET,
    )


def _tax_by_components(
    lines: list[Line],
    rules: Sequence[PricingRule],
    *,
    default_rate: Decimal,
    city: str,
    country: str,
    now: datetime,
    cent: Decimal,
    mode: str,
    unit_level: bool,
    exemption: str | None,
) -> tuple[Decimal, Decimal, list[AppliedRule], Decimal]:
    """docs/taxes.md: each line's components on what is left of it (a gross line inverted exactly), or none
    when exempt (a gross exempt line charging its net); the tax added, the tax held, the rules with the tax
    each added (none when exempt), and the tax exempt gross lines held."""
    total = included = exempted = ZERO.quantize(cent)
    used: dict[int, list[Any]] = {}
    for line in lines:
        rule = tax_rate(rules, category_id=line.category_id, city=city, country=country, now=now)
        parts = taxes.parts_of(rule, default_rate)
        units = line.quantity if unit_level else 1
        line.tax_rate = default_rate if rule is None else tax_percent(rule)
        line.holds = lambda gross, parts=parts, units=units: taxes.held(gross, parts, units, mode, cent)
        left = line.subtotal - line.discount
        if exemption is not None:
            line.tax, line.taxes = ZERO.quantize(cent), []
            if line.inclusive:
                line.exempted = taxes.held(left, parts, units, mode, cent)
                exempted += line.exempted
            continue
        if line.inclusive:
            _, line.taxes = taxes.inverted(left, parts, units, mode, cent)
        else:
            line.taxes = taxes.on_net(left, parts, units, mode, cent)
        line.tax = sum((t.amount for t in line.taxes), ZERO.quantize(cent))
        added = ZERO.quantize(cent) if line.inclusive else line.tax
        if line.inclusive:
            included += line.tax
        total += added
        if rule is not None:
            entry = used.get(id(rule))
            if entry is None:
                used[id(rule)] = [rule, added]
            else:
                entry[1] += added
    return total, included, [_applied(rule, amount) for rule, amount in used.values()], exempted


def _taxed_line(shown: QuoteLine, line: Line, exemption: str | None) -> QuoteLine:
    """A line of a quote that uses docs/taxes.md: its components, and why an exempt one carries none."""
    shown = replace(shown, taxes=line.taxes or [])
    if exemption is None:
        return shown
    shown = replace(shown, tax_exemption=exemption, tax_rate=ZERO)
    if line.inclusive:
        net = line.subtotal - line.discount - line.exempted
        shown = replace(
            shown, line_subtotal=line.subtotal - line.exempted, net=net, gross=net, tax_exempted=line.exempted
        )
    return shown


def _dynamic_pricing(flags: Sequence[FeatureFlag], on: Mapping[str, Any]) -> bool:
    """Price rules apply unless the `dynamic_pricing` flag exists and its evaluated value is falsy."""
    if DYNAMIC_PRICING in on:
        return bool(on[DYNAMIC_PRICING])
    flag = next((flag for flag in flags if flag.key == DYNAMIC_PRICING), None)
    return flag is None or bool(flag.default_value)


def _applied(rule: PricingRule, amount: Decimal) -> AppliedRule:
    return AppliedRule(rule_id=rule.id, name=rule.name, type=rule.type, version=rule.version, amount=amount)


def _tax(
    lines: list[Line],
    rules: Sequence[PricingRule],
    *,
    default_rate: Decimal,
    city: str,
    country: str,
    now: datetime,
    cent: Decimal,
) -> tuple[Decimal, Decimal, list[AppliedRule]]:
    """Step 6: each line's tax at its category's TAX_RATE on what is left of it after its discount: added
    to a net line, contained in a tax-inclusive one (docs/markets.md); the tax added, the tax contained,
    and the rules used with the tax each added."""
    total = included = ZERO.quantize(cent)
    used: dict[int, list[Any]] = {}  # id(rule) -> [rule, tax]: UUIDs hash slowly
    for line in lines:
        rule = tax_rate(rules, category_id=line.category_id, city=city, country=country, now=now)
        rate = default_rate if rule is None else tax_percent(rule)
        line.tax_rate = rate
        left = line.subtotal - line.discount
        if line.inclusive:  # round(gross x rate / (100 + rate))
            line.tax = (left * rate / (100 + rate)).quantize(cent, ROUND_HALF_UP)
            included += line.tax
            tax = ZERO.quantize(cent)
        else:
            line.tax = tax = (left * rate).scaleb(-2).quantize(cent, ROUND_HALF_UP)  # rate %
        total += tax
        if rule is not None:
            entry = used.get(id(rule))
            if entry is None:
                used[id(rule)] = [rule, tax]
            else:
                entry[1] += tax
    return total, included, [_applied(rule, amount) for rule, amount in used.values()]


def _free_delivery_coupon(coupons: list[CouponResult], fee: Decimal, zero: Decimal) -> Decimal:
    """The first valid FREE_DELIVERY coupon waives a fee that is still due; any other is NOT_APPLICABLE."""
    for result in coupons:
        if result.reason is None and result.amount is None:
            if fee > 0:
                result.amount, fee = fee, zero
            else:
                result.reason = "NOT_APPLICABLE"
    return fee


def _price_rules_total(lines: list[Line]) -> list[AppliedRule]:
    """Each price rule once, with the money it moved summed over the lines."""
    used: dict[int, list[Any]] = {}  # id(rule) -> [rule, amount]
    for line in lines:
        for rule, amount in line.rules:
            entry = used.get(id(rule))
            if entry is None:
                used[id(rule)] = [rule, amount]
            else:
                entry[1] += amount
    return [_applied(rule, amount) for rule, amount in used.values()]


def _quote_line(line: Line, cent: Decimal, split: bool) -> QuoteLine:
    left = line.subtotal - line.discount
    shown = QuoteLine(
        product_id=line.product_id,
        quantity=line.quantity,
        list_unit_price=line.list_unit.quantize(cent, ROUND_HALF_UP),
        unit_price=line.unit.quantize(cent, ROUND_HALF_UP),
        line_subtotal=line.subtotal,
        discount=line.discount,
        tax=line.tax,
        price_source=line.source,
        applied_rules=list(line.applied),
        category_id=line.category_id,
        seller_id=line.seller_id,
        flash_sale_id=line.flash_sale_id,
        tax_rate=line.tax_rate,
        price_list_id=line.price_list_id,
        # docs/pricing.md: a line not flash-priced, with a min_price, whose net is at or below its floor
        at_min_price=line.flash_sale_id is None and line.floor > 0 and left <= line.floor,
    )
    if line.funded:  # docs/orders-and-refunds.md#who-funds-a-discount
        shown = replace(shown, platform_funded=line.funded)
    if not split:
        return shown
    if line.inclusive:
        return replace(shown, prices_include_tax=True, gross=left, net=left - line.tax)
    return replace(shown, prices_include_tax=False, net=left, gross=left + line.tax)


def _calculations(steps: list[tuple[str, str, Decimal]], zero: Decimal) -> list[Calculation]:
    """The steps of the total, each with the running total after it; the last equals total_amount."""
    calculations = []
    running = zero
    for step, description, amount in steps:
        running += amount
        calculations.append(Calculation(step=step, description=description, amount=amount, running_total=running))
    return calculations
