"""Steps 7-8 of a quote, the delivery and small-basket fees, written from docs/pricing.md (the rule
table, "Quote engine: choices in detail") and docs/markets.md ("Default fees have a currency"), not
from the production module.

From the pages: the standard fee is the DELIVERY_FEE rule's (the first distance band the distance
reaches, else `base_fee + per_km x km`, capped at `max_fee`; without a distance, `base_fee`) or
DEFAULT_DELIVERY_FEE; express is `(base_fee or the standard fee) x multiplier + distance_factor x km`
capped at `max_fee` under an EXPRESS_FEE rule, else the standard fee times the default multiplier;
the `express_delivery_multiplier` flag replaces either multiplier; REGIONAL_FEE adds its amount; the
fee is rounded once. The defaults are in DEFAULT_CURRENCY only: a quote in another currency without
a rule of its own pays none. `applied_rules` lists a fee's parts, each the money it moved on the
rounded running fee, only when a rule took part, the defaults it built on included; a FREE_DELIVERY
rule reached by the goods after discounts waives the whole fee (its entry is minus the fee).
SMALL_BASKET (or the defaults, or the flag's threshold) charges its fee below the threshold.
Distances: haversine on a sphere of 6371.0088 km, to the metre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
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
from tests.unit.pricing.reference_engine.money import ZERO, rounded
from tests.unit.pricing.reference_engine.rules import fee_rule

EARTH_RADIUS_KM = 6371.0088


@dataclass
class Fee:
    """A fee as the quote shows it: the amount, its `applied_rules` entries and its breakdown text."""

    amount: Decimal
    rules: list[AppliedRule]
    description: str


def _point(address: Address | None) -> tuple[float, float] | None:
    if address is None or address.latitude is None or address.longitude is None:
        return None
    return math.radians(address.latitude), math.radians(address.longitude)


def distance_km(pickup: Address | None, delivery: Address) -> Decimal | None:
    """The great-circle distance to the metre; None without coordinates at both ends."""
    start, end = _point(pickup), _point(delivery)
    if start is None or end is None:
        return None
    (lat1, lon1), (lat2, lon2) = start, end
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    central = 2 * math.atan2(math.sqrt(h), math.sqrt(max(0.0, 1 - h)))
    return Decimal(f"{EARTH_RADIUS_KM * central:.3f}")


def flag_number(value: Any, *, low: Decimal, high: Decimal, low_inclusive: bool) -> Decimal | None:
    """A NUMBER flag's value when it is a finite number in range (above `low`, or at it when
    `low_inclusive`; at most `high`); None otherwise, and the flag is ignored."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float | str):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
    else:
        return None
    if not number.is_finite() or number > high:
        return None
    return number if number > low or (low_inclusive and number == low) else None


@dataclass
class _Build:
    """The fee as it is built: each part (its rule, or a default's type and name) with the fee after it."""

    parts: list[tuple[PricingRule | None, str, str, Decimal]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)

    def add(self, rule: PricingRule | None, kind: str, default_name: str, fee_after: Decimal) -> None:
        self.parts.append((rule, kind, default_name, fee_after))

    def entries(self, cent: Decimal) -> tuple[Decimal, list[AppliedRule]]:
        """The fee rounded once, and each part as the money it moved on the rounded running fee."""
        shown: list[AppliedRule] = []
        previous = rounded(ZERO, cent)
        for rule, kind, default_name, fee_after in self.parts:
            now_at = rounded(fee_after, cent)
            moved = now_at - previous
            shown.append(
                AppliedRule(rule_id=rule.id, name=rule.name, type=rule.type, version=rule.version, amount=moved)
                if rule is not None
                else AppliedRule(rule_id=None, name=default_name, type=kind, version=None, amount=moved)
            )
            previous = now_at
        return previous, shown

    @property
    def ruled(self) -> bool:
        return any(rule is not None for rule, _, _, _ in self.parts)


def _band_fee(config: DeliveryFeeConfig, km: Decimal | None) -> Decimal:
    if km is None:
        fee = config.base_fee
    else:
        reached = [band.fee for band in config.distance_bands or () if km <= band.max_km]
        fee = reached[0] if reached else config.base_fee + (config.per_km or ZERO) * km
    return min(fee, config.max_fee) if config.max_fee is not None else fee


def _built(
    rules: Sequence[PricingRule],
    *,
    express: bool,
    km: Decimal | None,
    flag_multiplier: Decimal | None,
    defaults: EngineDefaults,
    where: dict[str, Any],
) -> _Build:
    build = _Build()
    home = defaults.currency.upper() == where["currency"]
    standard_rule = fee_rule(rules, "DELIVERY_FEE", **where)
    if standard_rule is not None:
        assert isinstance(standard_rule.configuration, DeliveryFeeConfig)
        standard, standard_name = _band_fee(standard_rule.configuration, km), "default delivery fee"
    elif home:
        standard, standard_name = defaults.delivery_fee, "default delivery fee"
    else:
        standard = ZERO
        standard_name = f"no delivery fee in {where['currency']} (the default is in {defaults.currency})"
    if not express:
        build.add(standard_rule, "DELIVERY_FEE", standard_name, standard)
        build.words.append("standard delivery" if standard_rule is not None else standard_name)
        fee = standard
    else:
        express_rule = fee_rule(rules, "EXPRESS_FEE", **where)
        config = None if express_rule is None else express_rule.configuration
        assert config is None or isinstance(config, ExpressFeeConfig)
        own_base = None if config is None else config.base_fee
        if standard_rule is None and not home and own_base is None:
            build.words.append(standard_name)  # express multiplies a standard fee there is none of
        if own_base is None:
            build.add(standard_rule, "DELIVERY_FEE", standard_name, standard)
        multiplier = flag_multiplier or (defaults.express_multiplier if config is None else config.multiplier)
        fee = (standard if own_base is None else own_base) * multiplier
        if config is not None:
            fee += (config.distance_factor or ZERO) * (km or ZERO)
            if config.max_fee is not None:
                fee = min(fee, config.max_fee)
        named = "default express multiplier" if flag_multiplier is None else "express_delivery_multiplier flag"
        build.add(express_rule, "EXPRESS_FEE", named, fee)
        build.words.append(f"express delivery x{multiplier:f}")
    if km is not None:
        build.words.append(f"{km:f} km")
    regional = fee_rule(rules, "REGIONAL_FEE", **where)
    if regional is not None:
        assert isinstance(regional.configuration, RegionalFeeConfig)
        build.add(regional, "REGIONAL_FEE", "", fee + regional.configuration.amount)
        build.words.append("regional surcharge")
    return build


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
    """Step 7 before any coupon or promotion: the delivery fee for `goods` (after discounts)."""
    where: dict[str, Any] = {"city": city, "country": country, "now": now, "currency": currency,
             "default_currency": defaults.currency.upper()}  # fmt: skip
    build = _built(rules, express=express, km=km, flag_multiplier=flag_multiplier, defaults=defaults, where=where)
    fee, entries = build.entries(cent)
    description = ", ".join(build.words)
    free = fee_rule(rules, "FREE_DELIVERY", **where)
    if free is not None and fee > 0:
        assert isinstance(free.configuration, FreeDeliveryConfig)
        threshold = free.configuration.min_subtotal
        if goods >= threshold:
            waiver = AppliedRule(
                rule_id=free.id, name=free.name, type=free.type, version=free.version, amount=rounded(-fee, cent)
            )
            return Fee(rounded(ZERO, cent), [*entries, waiver], f"{description}, free from {threshold:f}")
    return Fee(fee, entries if build.ruled else [], description)


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
    """Step 8: the fee when `goods` (after discounts) is below the threshold (at it pays nothing)."""
    rule = fee_rule(rules, "SMALL_BASKET", city=city, country=country, now=now, currency=currency,
                    default_currency=defaults.currency.upper())  # fmt: skip
    nothing = rounded(ZERO, cent)
    if rule is None:
        if defaults.currency.upper() != currency:
            text = f"none: no small-basket fee in {currency} (the default is in {defaults.currency})"
            return Fee(nothing, [], text)
        threshold, charge = defaults.small_basket_threshold, defaults.small_basket_fee
    else:
        assert isinstance(rule.configuration, SmallBasketConfig)
        threshold, charge = rule.configuration.threshold, rule.configuration.fee
    threshold = threshold if flag_threshold is None else flag_threshold
    if not goods < threshold:
        return Fee(nothing, [], f"none from {threshold:f}")
    amount = rounded(charge, cent)
    listed = (
        [AppliedRule(rule_id=rule.id, name=rule.name, type=rule.type, version=rule.version, amount=amount)]
        if rule is not None and amount > 0
        else []
    )
    return Fee(amount, listed, f"below {threshold:f}")
