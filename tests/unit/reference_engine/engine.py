"""FROZEN COPY of the quote engine before the per-snapshot pricing plan, for the differential test only.

Do not edit: `test_engine_differential` prices random baskets with this and with
`quote_service.pricing.engine` and demands identical JSON. Only the imports and the memo (a
`Resolver` per snapshot kept here, since snapshots no longer carry this one) differ from the
original.

The quote engine (API.md §5): one pure function from a request and its inputs to a `Quote`.

Steps, in order: list price, flash-sale split, price rules and line subtotals (`lines`),
coupons (`discounts`), tax per line, delivery and small-basket fees (`delivery`), the total,
and commission (`commission_breakdown`). Money is Decimal throughout and rounded half up to
the currency's minor units once per line and once per fee; every total is the exact sum of
the rounded parts it names. No I/O, no clock: `now` and `quote_id` are arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from quote_service.errors import invalid
from quote_service.pricing.flags import EvaluationContext, FlagSet, evaluate
from quote_service.pricing.money import ZERO, is_currency, quantum
from quote_service.pricing.quote import (
    AppliedCoupon,
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
)
from quote_service.pricing.rules import PricingRule
from quote_service.pricing.snapshot import ConfigSnapshot
from tests.unit.reference_engine.commission_breakdown import commission_breakdown
from tests.unit.reference_engine.delivery import Fee, delivery_fee, distance_km, flag_number, small_basket_fee
from tests.unit.reference_engine.discounts import CouponResult, apply_coupons
from tests.unit.reference_engine.lines import Line, price_lines
from tests.unit.reference_engine.resolution import Resolution, Resolver

DYNAMIC_PRICING = "dynamic_pricing"
EXPRESS_MULTIPLIER = "express_delivery_multiplier"
SMALL_BASKET_THRESHOLD = "small_basket_threshold"
_MAX_MULTIPLIER = Decimal(100)
_MAX_AMOUNT = Decimal("1e12")
_RESOLVERS: dict[int, tuple[ConfigSnapshot, Resolver]] = {}


def _resolver(snapshot: ConfigSnapshot) -> Resolver:
    """This copy's own memo per snapshot (the snapshot is kept with it, so its id is never reused)."""
    found = _RESOLVERS.get(id(snapshot))
    if found is None:
        if len(_RESOLVERS) > 64:
            _RESOLVERS.clear()
        found = _RESOLVERS[id(snapshot)] = (snapshot, Resolver(snapshot.rules, snapshot.commissions))
    return found[1]


def price_quote(
    request: QuoteRequest,
    *,
    snapshot: ConfigSnapshot,
    products: Mapping[str, CatalogProduct],
    flash: Mapping[str, FlashOffer],
    customer: CustomerContext,
    defaults: EngineDefaults,
    now: datetime,
    quote_id: UUID,
) -> Quote:
    """Price `request` under `snapshot` at `now` (API.md §5 steps 1-10).

    `products` and `flash` are keyed by the request's product_id. Raises ValidationFailed
    (or CurrencyMismatch) with field paths for input the schema cannot refuse.
    """
    currency = request.currency.upper()
    if not is_currency(currency):
        raise invalid("currency", "not an ISO 4217 currency code")
    cent = quantum(currency)
    zero = ZERO.quantize(cent)
    address = request.delivery_address
    city, country = address.city, address.country
    resolved = _resolver(snapshot).at(now)
    context = EvaluationContext(user_id=customer.customer_id, user_segment=customer.segment, city=city, country=country)
    feature_flags, experiments = evaluate_all(snapshot.flags, context, now)

    # 1-4: lines
    lines = price_lines(
        request,
        currency=currency,
        cent=cent,
        products=products,
        flash=flash,
        rules=resolved if _dynamic_pricing(snapshot.flags, feature_flags) else None,
        user_tier=customer.tier,
        city=city,
        country=country,
        now=now,
    )
    subtotal = item_total = flash_total = flash_list_total = zero
    has_flash = False
    for line in lines:
        subtotal += line.subtotal
        item_total += line.list_subtotal
        if line.flash_sale_id is not None:
            has_flash = True
            flash_total += line.subtotal
            flash_list_total += line.list_subtotal

    # 5: coupons
    coupons = apply_coupons(
        request.coupon_codes,
        lines,
        snapshot.coupons,
        subtotal=subtotal,
        currency=currency,
        cent=cent,
        customer_uses=customer.coupon_uses,
        max_discount_percentage=defaults.max_discount_percentage,
        now=now,
    )
    discount = zero
    for line in lines:
        discount += line.discount
    goods = subtotal - discount

    # 6: tax
    tax_amount, tax_rules = _tax(
        lines, resolved, default_rate=defaults.tax_rate, city=city, country=country, now=now, cent=cent
    )

    # 7: delivery, then a free-delivery coupon
    delivery = delivery_fee(
        resolved,
        express=request.is_express_delivery,
        km=distance_km(request.pickup_address, address),
        goods=goods,
        flag_multiplier=flag_number(
            feature_flags.get(EXPRESS_MULTIPLIER), low=ZERO, high=_MAX_MULTIPLIER, low_inclusive=False
        ),
        defaults=defaults,
        city=city,
        country=country,
        now=now,
        cent=cent,
    )
    fee = _free_delivery_coupon(coupons, delivery, zero)

    # 8: small basket
    small = small_basket_fee(
        resolved,
        goods=goods,
        flag_threshold=flag_number(
            feature_flags.get(SMALL_BASKET_THRESHOLD), low=ZERO, high=_MAX_AMOUNT, low_inclusive=True
        ),
        defaults=defaults,
        city=city,
        country=country,
        now=now,
        cent=cent,
    )

    # 9: total
    total = goods + tax_amount + fee + small.amount

    # 10: commission
    commission = commission_breakdown(
        lines,
        resolved,
        default_percent=defaults.commission_rate,
        quote_seller_id=request.seller_id,
        logistics_provider=request.logistics_provider,
        delivery_fee=fee,
        city=city,
        country=country,
        currency=currency,
        zero=zero,
        now=now,
    )

    price_rules = _price_rules_total(lines)
    applied_coupons = []
    rejected_coupons = []
    for result in coupons:
        if result.reason is not None:
            rejected_coupons.append(RejectedCoupon(code=result.code, reason=result.reason))
        elif result.coupon is not None and result.amount is not None:
            applied_coupons.append(AppliedCoupon(code=result.code, type=result.coupon.type, amount=result.amount))
    steps = [
        ("items", "list prices", item_total),
        ("flash_sale", "flash-sale prices", flash_total - flash_list_total),
        ("price_rules", f"{len(price_rules)} price rules", subtotal - item_total - flash_total + flash_list_total),
        (
            "discount",
            ", ".join(c.code for c in applied_coupons if c.type != "FREE_DELIVERY") or "none",
            zero - discount,
        ),
        ("tax", "per line, after discounts", tax_amount),
        ("delivery", delivery.description if fee == delivery.amount else "waived by coupon", fee),
        ("small_basket", small.description, small.amount),
    ]
    if not has_flash:
        del steps[1]
    return Quote(
        quote_id=quote_id,
        customer_id=customer.customer_id,
        subtotal=subtotal,
        discount_amount=discount,
        tax_amount=tax_amount,
        delivery_fee=fee,
        small_basket_fee=small.amount,
        total_amount=total,
        currency=currency,
        items=[_quote_line(line, cent) for line in lines],
        commission_breakdown=commission,
        pricing_breakdown=PricingBreakdown(
            item_total=item_total,
            subtotal=subtotal,
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
        config_version=snapshot.version,
    )


def evaluate_all(flags: FlagSet, ctx: EvaluationContext, now: datetime) -> tuple[dict[str, Any], dict[str, str]]:
    """(feature_flags: key -> value of every flag that is on, experiments: key -> variant), by key.

    Copied from `quote_service.pricing.flags` as it was (the package's now takes a precompiled order).
    """
    feature_flags: dict[str, Any] = {}
    experiments: dict[str, str] = {}
    for key in sorted(flags.by_key):
        result = evaluate(flags.by_key[key], ctx, now)
        if result.enabled:
            feature_flags[key] = result.value
        if result.variant is not None:
            experiments[key] = result.variant
    return feature_flags, experiments


def _dynamic_pricing(flags: FlagSet, on: Mapping[str, Any]) -> bool:
    """Price rules apply unless the `dynamic_pricing` flag exists and serves a falsy value."""
    if DYNAMIC_PRICING in on:
        return bool(on[DYNAMIC_PRICING])
    flag = flags.get(DYNAMIC_PRICING)
    return flag is None or bool(flag.default_value)


def _applied(rule: PricingRule, amount: Decimal) -> AppliedRule:
    return AppliedRule(rule_id=rule.id, name=rule.name, type=rule.type, version=rule.version, amount=amount)


def _tax(
    lines: list[Line],
    rules: Resolution,
    *,
    default_rate: Decimal,
    city: str,
    country: str,
    now: datetime,
    cent: Decimal,
) -> tuple[Decimal, list[AppliedRule]]:
    """Step 6: each line's tax on its net at its category's TAX_RATE; the total and the rules used."""
    total = ZERO.quantize(cent)
    used: dict[int, list[Any]] = {}  # id(rule) -> [rule, tax]: UUIDs hash slowly
    for line in lines:
        rule, rate = rules.tax(category_id=line.category_id, city=city, country=country, now=now)
        if rate is None:
            rate = default_rate
        line.tax_rate = rate
        line.tax = tax = ((line.subtotal - line.discount) * rate).scaleb(-2).quantize(cent, ROUND_HALF_UP)  # rate %
        total += tax
        if rule is not None:
            entry = used.get(id(rule))
            if entry is None:
                used[id(rule)] = [rule, tax]
            else:
                entry[1] += tax
    return total, [_applied(rule, amount) for rule, amount in used.values()]


def _free_delivery_coupon(coupons: list[CouponResult], delivery: Fee, zero: Decimal) -> Decimal:
    """The first valid FREE_DELIVERY coupon waives a fee that is still due; any other is NOT_APPLICABLE."""
    fee = delivery.amount
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


def _quote_line(line: Line, cent: Decimal) -> QuoteLine:
    return QuoteLine(
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
    )


def _calculations(steps: list[tuple[str, str, Decimal]], zero: Decimal) -> list[Calculation]:
    """The steps of the total, each with the running total after it; the last equals total_amount."""
    calculations = []
    running = zero
    for step, description, amount in steps:
        running += amount
        calculations.append(Calculation(step=step, description=description, amount=amount, running_total=running))
    return calculations
