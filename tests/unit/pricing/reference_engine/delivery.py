"""Steps 7-8 of a quote (docs/pricing.md, the rule table and "Delivery"): delivery and small-basket fees.

Delivery, built up as a running amount and rounded once at the end:

    standard  DELIVERY_FEE: the first distance band with km <= max_km, else base_fee + per_km x km;
              capped at max_fee. No rule: DEFAULT_DELIVERY_FEE.
    express   EXPRESS_FEE: (base_fee or the standard fee) x multiplier + distance_factor x km, capped
              at max_fee. No rule: standard x multiplier. The `express_delivery_multiplier` flag,
              when on, replaces the multiplier; else the rule's; else the default (2.0).
    regional  + REGIONAL_FEE amount.
    free      0 under a FREE_DELIVERY rule when the goods after discounts reach `min_subtotal`.

Without both pickup and delivery coordinates the distance is unknown: distance terms are 0 and
the bands give way to base_fee. Configured amounts are read in the quote's currency.
Each part of the fee is reported with the money it moved: the difference it made to the rounded
running fee. When no rule took part nothing is listed; when one did, every part is, the defaults
as entries without a rule id ("default delivery fee"; the express multiplier's part as
"default express multiplier" or "express_delivery_multiplier flag"), so the entries add up to the
fee, and a FREE_DELIVERY rule's entry (minus the fee) brings them to 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from math import asin, cos, radians, sin, sqrt
from typing import Any

from quote_service.pricing.quote import Address, AppliedRule, EngineDefaults
from quote_service.pricing.rules import (
    DeliveryFeeConfig,
    ExpressFeeConfig,
    FreeDeliveryConfig,
    PricingRule,
    RegionalFeeConfig,
    SmallBasketConfig,
)
from tests.unit.pricing.reference_engine.money import ZERO
from tests.unit.pricing.reference_engine.rules import fee_rule

EARTH_RADIUS_KM = 6371.0088
"""The mean Earth radius (IUGG), as docs/pricing.md prescribes."""


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    phi1, phi2 = radians(lat1), radians(lat2)
    half_dphi, half_dlambda = (phi2 - phi1) / 2, radians(lon2 - lon1) / 2
    a = sin(half_dphi) ** 2 + cos(phi1) * cos(phi2) * sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))


def distance_km(pickup: Address | None, delivery: Address) -> Decimal | None:
    """Pickup-to-delivery distance to the metre; None unless both addresses have coordinates."""
    if pickup is None or pickup.latitude is None or pickup.longitude is None:
        return None
    if delivery.latitude is None or delivery.longitude is None:
        return None
    km = haversine_km(pickup.latitude, pickup.longitude, delivery.latitude, delivery.longitude)
    return Decimal(f"{km:.3f}")


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
    """A priced fee: the rounded amount, the rules that made it, and a line for the breakdown."""

    __slots__ = ("amount", "description", "rules")

    def __init__(self, amount: Decimal, rules: list[AppliedRule], description: str) -> None:
        self.amount = amount
        self.rules = rules
        self.description = description


def _applied(rule: PricingRule, amount: Decimal) -> AppliedRule:
    return AppliedRule(rule_id=rule.id, name=rule.name, type=rule.type, version=rule.version, amount=amount)


def _standard(config: DeliveryFeeConfig, km: Decimal | None) -> Decimal:
    if km is None:
        fee = config.base_fee
    else:
        band = next((band for band in config.distance_bands or () if km <= band.max_km), None)
        fee = band.fee if band is not None else config.base_fee + (config.per_km or ZERO) * km
    return fee if config.max_fee is None else min(fee, config.max_fee)


def _entry(rule: PricingRule | None, kind: str, default_name: str, amount: Decimal) -> AppliedRule:
    if rule is None:
        return AppliedRule(rule_id=None, name=default_name, type=kind, version=None, amount=amount)
    return _applied(rule, amount)


def _charge(
    rules: Sequence[PricingRule],
    *,
    express: bool,
    km: Decimal | None,
    flag_multiplier: Decimal | None,
    defaults: EngineDefaults,
    city: str,
    country: str,
    now: datetime,
    cent: Decimal,
    currency: str,
) -> tuple[Decimal, list[AppliedRule], str, bool]:
    """The fee before any waiver (rounded once), every part of it as an entry, its description, and
    whether a rule took part."""
    # (rule or None, type, name when a default, running fee after it)
    steps: list[tuple[PricingRule | None, str, str, Decimal]] = []
    words: list[str] = []
    priced_in = {"currency": currency, "default_currency": defaults.currency.upper()}
    standard_rule = fee_rule(rules, "DELIVERY_FEE", city=city, country=country, now=now, **priced_in)
    standard = defaults.delivery_fee
    named_default = "default delivery fee"
    if standard_rule is not None:
        assert isinstance(standard_rule.configuration, DeliveryFeeConfig)
        standard = _standard(standard_rule.configuration, km)
    elif defaults.currency.upper() != currency:  # docs/markets.md: the default is in DEFAULT_CURRENCY only
        standard = ZERO
        named_default = f"no delivery fee in {currency} (the default is in {defaults.currency})"
    running = standard
    if not express:
        steps.append((standard_rule, "DELIVERY_FEE", named_default, running))
        words.append("standard delivery" if standard_rule else named_default)
    else:
        express_rule = fee_rule(rules, "EXPRESS_FEE", city=city, country=country, now=now, **priced_in)
        no_base = express_rule is None or getattr(express_rule.configuration, "base_fee", None) is None
        if standard_rule is None and defaults.currency.upper() != currency and no_base:
            words.append(named_default)
        if express_rule is None:
            multiplier = flag_multiplier or defaults.express_multiplier
            steps.append((standard_rule, "DELIVERY_FEE", named_default, standard))
            running = standard * multiplier
        else:
            config = express_rule.configuration
            assert isinstance(config, ExpressFeeConfig)
            multiplier = flag_multiplier or config.multiplier
            if config.base_fee is None:
                steps.append((standard_rule, "DELIVERY_FEE", named_default, standard))
            running = (standard if config.base_fee is None else config.base_fee) * multiplier
            running += (config.distance_factor or ZERO) * (km or ZERO)
            if config.max_fee is not None:
                running = min(running, config.max_fee)
        named = "default express multiplier" if flag_multiplier is None else "express_delivery_multiplier flag"
        steps.append((express_rule, "EXPRESS_FEE", named, running))
        words.append(f"express delivery x{multiplier:f}")
    if km is not None:
        words.append(f"{km:f} km")
    regional_rule = fee_rule(rules, "REGIONAL_FEE", city=city, country=country, now=now, **priced_in)
    if regional_rule is not None:
        assert isinstance(regional_rule.configuration, RegionalFeeConfig)
        running += regional_rule.configuration.amount
        steps.append((regional_rule, "REGIONAL_FEE", "", running))
        words.append("regional surcharge")
    entries: list[AppliedRule] = []
    before = ZERO.quantize(cent)
    for rule, kind, default_name, after_exact in steps:
        after = after_exact.quantize(cent, ROUND_HALF_UP)
        entries.append(_entry(rule, kind, default_name, after - before))
        before = after
    return before, entries, ", ".join(words), any(rule is not None for rule, _, _, _ in steps)


def delivery_fee(
    rules: Sequence[PricingRule],
    *,
    express: bool,
    km: Decimal | None,
    goods: Decimal,
    flag_multiplier: Decimal | None,
    defaults: EngineDefaults,
    city: str,
    country: str,
    now: datetime,
    cent: Decimal,
    currency: str,
) -> Fee:
    """Step 7 without coupons: the delivery fee for `goods` (after discounts), rounded once."""
    priced_in = {"currency": currency, "default_currency": defaults.currency.upper()}
    charged = _charge(
        rules,
        express=express,
        km=km,
        flag_multiplier=flag_multiplier,
        defaults=defaults,
        city=city,
        country=country,
        now=now,
        cent=cent,
        currency=currency,
    )
    fee, entries, description, ruled = charged
    free_rule = fee_rule(rules, "FREE_DELIVERY", city=city, country=country, now=now, **priced_in)
    if free_rule is not None and fee > 0:
        assert isinstance(free_rule.configuration, FreeDeliveryConfig)
        if goods >= free_rule.configuration.min_subtotal:
            waived = _applied(free_rule, ZERO.quantize(cent) - fee)
            return Fee(
                ZERO.quantize(cent),
                [*entries, waived],
                f"{description}, free from {free_rule.configuration.min_subtotal:f}",
            )
    return Fee(fee, entries if ruled else [], description)


def small_basket_fee(
    rules: Sequence[PricingRule],
    *,
    goods: Decimal,
    flag_threshold: Decimal | None,
    defaults: EngineDefaults,
    city: str,
    country: str,
    now: datetime,
    cent: Decimal,
    currency: str,
) -> Fee:
    """Step 8: the fee when `goods` (after discounts) is below the threshold; equal pays nothing."""
    priced_in = {"currency": currency, "default_currency": defaults.currency.upper()}
    rule = fee_rule(rules, "SMALL_BASKET", city=city, country=country, now=now, **priced_in)
    threshold, fee = defaults.small_basket_threshold, defaults.small_basket_fee
    if rule is None and defaults.currency.upper() != currency:
        return Fee(
            ZERO.quantize(cent), [], f"none: no small-basket fee in {currency} (the default is in {defaults.currency})"
        )
    if rule is not None:
        assert isinstance(rule.configuration, SmallBasketConfig)
        threshold, fee = rule.configuration.threshold, rule.configuration.fee
    if flag_threshold is not None:
        threshold = flag_threshold
    if goods >= threshold:
        return Fee(ZERO.quantize(cent), [], f"none from {threshold:f}")
    amount = fee.quantize(cent, ROUND_HALF_UP)
    return Fee(amount, [_applied(rule, amount)] if rule is not None and amount > 0 else [], f"below {threshold:f}")
