"""Steps 7-8 of a quote (docs/pricing.md): delivery fee and small-basket fee.

Delivery, built up as a running amount and rounded once at the end:

    standard  DELIVERY_FEE: the first distance band with km <= max_km, else base_fee + per_km x km;
              capped at max_fee. No rule: DEFAULT_DELIVERY_FEE.
    express   EXPRESS_FEE: (base_fee or the standard fee) x multiplier + distance_factor x km, capped
              at max_fee. No rule: standard x multiplier. The `express_delivery_multiplier` flag,
              when on, replaces the multiplier; else the rule's; else the default (2.0).
    regional  + REGIONAL_FEE amount.
    free      0 under a FREE_DELIVERY rule when the goods after discounts reach `min_subtotal`.

Without both pickup and delivery coordinates the distance is unknown: distance terms are 0 and
the bands give way to base_fee. Fees have a currency (docs/markets.md#default-fees-have-a-currency):
a quote reads only the fee rules priced in its currency (a rule without `currency` is priced in
DEFAULT_CURRENCY, as the default fees are), and the defaults only in DEFAULT_CURRENCY; a quote in
another currency with no such rule pays no delivery or small-basket fee, and its step says why.
Each part of the fee is reported with the money it moved: the difference it made to the rounded
running fee, so the amounts add up to the fee. When a rule took part, the defaults it built on are
listed too (`rule_id` None: the default delivery fee, the default or flag's express multiplier),
so a FREE_DELIVERY rule's -fee cancels entries that add up to the fee; a fee of defaults alone
lists nothing.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from math import asin, cos, radians, sin, sqrt
from typing import Any

from quote_service.pricing.money import ZERO
from quote_service.pricing.plan import RegionPlan
from quote_service.pricing.quote import Address, AppliedRule
from quote_service.pricing.rules import (
    DeliveryFeeConfig,
    ExpressFeeConfig,
    FreeDeliveryConfig,
    PricingRule,
    RegionalFeeConfig,
    SmallBasketConfig,
)

EARTH_RADIUS_KM = 6371.0088
"""The mean Earth radius (IUGG), as docs/pricing.md says."""


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    phi1, phi2 = radians(lat1), radians(lat2)
    half_dphi, half_dlambda = (phi2 - phi1) / 2, radians(lon2 - lon1) / 2
    a = sin(half_dphi) ** 2 + cos(phi1) * cos(phi2) * sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))


def coordinates(pickup: Address | None, delivery: Address) -> tuple[float, float, float, float] | None:
    """(pickup latitude, longitude, delivery latitude, longitude); None unless both addresses have them."""
    if pickup is None or pickup.latitude is None or pickup.longitude is None:
        return None
    if delivery.latitude is None or delivery.longitude is None:
        return None
    return (pickup.latitude, pickup.longitude, delivery.latitude, delivery.longitude)


def flag_number(value: Any, *, low: Decimal, high: Decimal, low_inclusive: bool) -> Decimal | None:
    """A NUMBER flag's value as a Decimal within the bounds, else None (the flag is then ignored)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        return None
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return None
    if not number.is_finite() or number > high or number < low or (number == low and not low_inclusive):
        return None
    return number


class Fee:
    """A priced fee: the rounded amount, the rules that made it, and a line for the breakdown.

    Immutable by convention: a plan hands the same `Fee` to every quote that has its inputs.
    """

    __slots__ = ("amount", "description", "parts", "rules")

    def __init__(
        self, amount: Decimal, rules: tuple[AppliedRule, ...], description: str, parts: tuple[AppliedRule, ...] = ()
    ) -> None:
        self.amount = amount
        self.rules = rules
        """What `applied_rules` lists of this fee (nothing when no rule made it)."""
        self.description = description
        self.parts = parts
        """Every part of the fee, defaults included: they add up to `amount`."""


Step = tuple[PricingRule | None, str, str, Decimal]
"""A step of the running fee: (its rule or None, the type and name of a default's entry, the fee after it)."""


def _applied(rule: PricingRule, amount: Decimal) -> AppliedRule:
    return AppliedRule(rule_id=rule.id, name=rule.name, type=rule.type, version=rule.version, amount=amount)


def _part(step: Step, amount: Decimal) -> AppliedRule:
    rule, kind, name, _ = step
    if rule is not None:
        return _applied(rule, amount)
    return AppliedRule(rule_id=None, name=name, type=kind, version=None, amount=amount)


def _standard(config: DeliveryFeeConfig, km: Decimal | None) -> Decimal:
    if km is None:
        fee = config.base_fee
    else:
        band = next((band for band in config.distance_bands or () if km <= band.max_km), None)
        fee = band.fee if band is not None else config.base_fee + (config.per_km or ZERO) * km
    return fee if config.max_fee is None else min(fee, config.max_fee)


def _charge(plan: RegionPlan, *, express: bool, km: Decimal | None, flag_multiplier: Decimal | None) -> Fee:
    """The fee before any waiver (rounded once), the rules that made it, and its description."""
    defaults = plan.defaults
    steps: list[Step] = []
    words: list[str] = []
    standard_rule = plan.delivery_rule
    standard = plan.default_delivery_fee
    default_name = "default delivery fee"
    unpriced = standard_rule is None and not plan.default_fees
    if standard_rule is not None:
        assert isinstance(standard_rule.configuration, DeliveryFeeConfig)
        standard = _standard(standard_rule.configuration, km)
    elif unpriced:  # the default is in another currency: no standard fee here
        standard = plan.zero
        default_name = f"no delivery fee in {plan.currency} (the default is in {defaults.currency})"
    standard_step: Step = (standard_rule, "DELIVERY_FEE", default_name, standard)
    running = standard
    if not express:
        steps.append(standard_step)
        words.append("standard delivery" if standard_rule else default_name)
    else:
        express_rule = plan.express_rule
        if unpriced and (express_rule is None or getattr(express_rule.configuration, "base_fee", None) is None):
            words.append(default_name)  # express multiplies a standard fee there is none of
        if express_rule is None:
            multiplier = flag_multiplier or defaults.express_multiplier
            steps.append(standard_step)
            running = standard * multiplier
        else:
            config = express_rule.configuration
            assert isinstance(config, ExpressFeeConfig)
            multiplier = flag_multiplier or config.multiplier
            if config.base_fee is None:
                steps.append(standard_step)
            running = (standard if config.base_fee is None else config.base_fee) * multiplier
            running += (config.distance_factor or ZERO) * (km or ZERO)
            if config.max_fee is not None:
                running = min(running, config.max_fee)
        source = "express_delivery_multiplier flag" if flag_multiplier else "default express multiplier"
        steps.append((express_rule, "EXPRESS_FEE", source, running))
        words.append(f"express delivery x{multiplier:f}")
    if km is not None:
        words.append(f"{km:f} km")
    regional_rule = plan.regional_rule
    if regional_rule is not None:
        assert isinstance(regional_rule.configuration, RegionalFeeConfig)
        running += regional_rule.configuration.amount
        steps.append((regional_rule, "REGIONAL_FEE", "", running))
        words.append("regional surcharge")
    parts: list[AppliedRule] = []
    before = plan.zero
    for step in steps:
        after = step[3].quantize(plan.cent, ROUND_HALF_UP)
        parts.append(_part(step, after - before))
        before = after
    listed = tuple(parts) if any(step[0] is not None for step in steps) else ()
    return Fee(before, listed, ", ".join(words), tuple(parts))


def _waived(plan: RegionPlan, charged: Fee) -> tuple[Fee, Decimal] | None:
    """The same delivery under the FREE_DELIVERY rule and the goods it takes; None when nothing is waived."""
    free_rule = plan.free_rule
    if free_rule is None or charged.amount <= 0:
        return None
    config = free_rule.configuration
    assert isinstance(config, FreeDeliveryConfig)
    waived = _applied(free_rule, plan.zero - charged.amount)
    # Every part of the charge, defaults included, beside the waiver: the entries add up to 0.
    free = Fee(plan.zero, (*charged.parts, waived), f"{charged.description}, free from {config.min_subtotal:f}")
    return free, config.min_subtotal


def delivery_fee(
    plan: RegionPlan,
    *,
    express: bool,
    pickup: Address | None,
    delivery: Address,
    goods: Decimal,
    flag_multiplier: Decimal | None,
) -> Fee:
    """Step 7 without coupons: the delivery fee for `goods` (after discounts), rounded once.

    Kept per plan by the coordinates themselves, so a repeated address costs no distance either.
    """
    points = coordinates(pickup, delivery)
    key = (express, flag_multiplier, points)
    fees: tuple[Fee, tuple[Fee, Decimal] | None] | None = plan.charges.get(key)
    if fees is None:
        km = None if points is None else Decimal(f"{haversine_km(*points):.3f}")
        charged = _charge(plan, express=express, km=km, flag_multiplier=flag_multiplier)
        fees = plan.remember(plan.charges, key, (charged, _waived(plan, charged)))
    charged, free = fees
    if free is not None and goods >= free[1]:
        return free[0]
    return charged


def small_basket_fee(plan: RegionPlan, *, goods: Decimal, flag_threshold: Decimal | None) -> Fee:
    """Step 8: the fee when `goods` (after discounts) is below the threshold; equal pays nothing."""
    fees: tuple[Decimal, Fee, Fee] | None = plan.small_basket.get(flag_threshold)
    if fees is None:
        fees = plan.remember(plan.small_basket, flag_threshold, _small_basket_fees(plan, flag_threshold))
    threshold, none, below = fees
    return none if goods >= threshold else below


def _small_basket_fees(plan: RegionPlan, flag_threshold: Decimal | None) -> tuple[Decimal, Fee, Fee]:
    """The threshold, the fee at or above it and the fee below it."""
    rule = plan.small_rule
    threshold, fee = plan.small_basket_defaults
    if rule is None and not plan.default_fees:  # the defaults are in another currency: no fee here
        none = Fee(plan.zero, (), f"none: no small-basket fee in {plan.currency} (the default is in "
                   f"{plan.defaults.currency})")  # fmt: skip
        return ZERO, none, none
    if rule is not None:
        assert isinstance(rule.configuration, SmallBasketConfig)
        threshold, fee = rule.configuration.threshold, rule.configuration.fee
    if flag_threshold is not None:
        threshold = flag_threshold
    amount = fee.quantize(plan.cent, ROUND_HALF_UP)
    below = Fee(amount, (_applied(rule, amount),) if rule is not None and amount > 0 else (), f"below {threshold:f}")
    return threshold, Fee(plan.zero, (), f"none from {threshold:f}"), below
