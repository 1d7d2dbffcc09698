"""Pricing rules as docs/pricing.md ("Pricing rules", "Quote engine: choices") states them.

A rule is a name with versions; the version of a name in force at `now` is its highest version
that is active, not retired and whose window `[effective_from, effective_to)` holds `now`.
Fee rules: one per type, by region match (city > country > none), priority, version, latest
`effective_from`, then name. TAX_RATE: a category's rule before a generic one, then the same.
Price rules: every one in force for the line, by descending priority then name, each percent
compounding on the running unit price; an exclusive rule that applied ends the chain; the
`min_price` floor once at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from quote_service.pricing.rules import (
    PricingRule,
    QuantityTierConfig,
    TaxRateConfig,
    TimeWindowConfig,
    UserTierConfig,
)
from tests.unit.reference_engine.places import region_match

PRICE_TYPES = ("TIME_WINDOW", "QUANTITY_TIER", "USER_TIER")


def in_force(rules: Iterable[PricingRule], now: datetime) -> list[PricingRule]:
    """The version of each name in force at `now`."""
    chosen: dict[str, PricingRule] = {}
    for rule in rules:
        if not rule.is_active or rule.retired_at is not None:
            continue
        if now < rule.effective_from or (rule.effective_to is not None and now >= rule.effective_to):
            continue
        held = chosen.get(rule.name)
        if held is None or rule.version > held.version:
            chosen[rule.name] = rule
    return list(chosen.values())


def _first(candidates: list[tuple[tuple[object, ...], PricingRule]]) -> PricingRule | None:
    """The best candidate: the greatest key, ties to the name first in the alphabet."""
    if not candidates:
        return None
    best_key = max(key for key, _ in candidates)
    return min((rule for key, rule in candidates if key == best_key), key=lambda rule: rule.name)


def fee_rule(
    rules: Iterable[PricingRule],
    rule_type: str,
    *,
    city: str,
    country: str,
    now: datetime,
    currency: str,
    default_currency: str,
) -> PricingRule | None:
    """The one rule of a fee type for this delivery address, among those priced in `currency`
    (docs/markets.md: a fee rule without a currency is priced in DEFAULT_CURRENCY)."""
    candidates: list[tuple[tuple[object, ...], PricingRule]] = []
    for rule in in_force(rules, now):
        match = region_match(rule.region, city=city, country=country)
        stated = getattr(rule.configuration, "currency", None)
        if (stated or default_currency).upper() != currency:
            continue
        if rule.type == rule_type and rule.product_id is None and rule.category_id is None and match is not None:
            candidates.append(((match, rule.priority, rule.version, rule.effective_from), rule))
    return _first(candidates)


def tax_rate(
    rules: Iterable[PricingRule], *, category_id: str | None, city: str, country: str, now: datetime
) -> PricingRule | None:
    """The TAX_RATE rule of a line of this category, or None (the default rate applies)."""
    candidates: list[tuple[tuple[object, ...], PricingRule]] = []
    for rule in in_force(rules, now):
        match = region_match(rule.region, city=city, country=country)
        if rule.type != "TAX_RATE" or rule.product_id is not None or match is None:
            continue
        if rule.category_id is None or rule.category_id == category_id:
            specific = rule.category_id is not None
            candidates.append(((specific, match, rule.priority, rule.version, rule.effective_from), rule))
    return _first(candidates)


def tax_percent(rule: PricingRule) -> Decimal:
    assert isinstance(rule.configuration, TaxRateConfig)
    return rule.configuration.rate


def price_rules(
    rules: Iterable[PricingRule],
    *,
    product_id: UUID | None,
    category_id: str | None,
    city: str,
    country: str,
    now: datetime,
) -> list[PricingRule]:
    """The price rules in force for a line, in the order they apply."""
    found = [
        rule
        for rule in in_force(rules, now)
        if rule.type in PRICE_TYPES
        and rule.product_id in (None, product_id)
        and rule.category_id in (None, category_id)
        and region_match(rule.region, city=city, country=country) is not None
    ]
    return sorted(found, key=lambda rule: (-rule.priority, rule.name))


def _in_window(config: TimeWindowConfig, now: datetime) -> bool:
    """Whether `now` (UTC) is in the window; the part after midnight belongs to the day it started."""
    utc = now.astimezone(UTC)
    clock = utc.hour * 60 + utc.minute
    start = int(config.start_time[:2]) * 60 + int(config.start_time[3:])
    end = int(config.end_time[:2]) * 60 + int(config.end_time[3:])
    length = (end - start) % (24 * 60) or 24 * 60  # start == end: the whole day
    since_start = (clock - start) % (24 * 60)
    if since_start >= length:
        return False
    started = utc - timedelta(minutes=since_start)
    return config.days_of_week is None or started.isoweekday() in config.days_of_week


def adjustment(rule: PricingRule, *, quantity: int, user_tier: str | None, now: datetime) -> Decimal | None:
    """The percent by which a price rule moves the unit price, or None when it does not apply."""
    config = rule.configuration
    if isinstance(config, TimeWindowConfig):
        return config.adjust_percent if _in_window(config, now) else None
    if isinstance(config, QuantityTierConfig):
        reached = [tier for tier in config.tiers if quantity >= tier.min_quantity]
        return reached[-1].adjust_percent if reached else None  # tiers ascend by min_quantity
    if isinstance(config, UserTierConfig) and user_tier is not None:
        by_name = {name.strip().casefold(): percent for name, percent in config.tiers.items()}
        return by_name.get(user_tier.strip().casefold())
    return None


def unit_after_rules(
    rules: Sequence[PricingRule],
    *,
    unit_price: Decimal,
    quantity: int,
    user_tier: str | None,
    min_price: Decimal,
    now: datetime,
) -> tuple[Decimal, list[tuple[PricingRule, Decimal]]]:
    """The unit price after the rules that apply (unrounded, floored), and each applied rule's percent."""
    price = unit_price
    applied: list[tuple[PricingRule, Decimal]] = []
    for rule in rules:
        moved = adjustment(rule, quantity=quantity, user_tier=user_tier, now=now)
        if moved is None:
            continue
        price = price * (100 + moved) / 100
        applied.append((rule, moved))
        if rule.exclusive:
            break
    return max(price, min_price), applied
