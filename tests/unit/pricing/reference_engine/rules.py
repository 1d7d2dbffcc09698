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
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from quote_service.pricing.rules import (
    PricingRule,
    QuantityTierConfig,
    TaxRateConfig,
    TimeWindowConfig,
    UserTierConfig,
)
from tests.unit.pricing.reference_engine.places import region_match

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
    """A rule's rate; a compound rule's, the percent its components make together (docs/taxes.md)."""
    assert isinstance(rule.configuration, TaxRateConfig)
    if rule.configuration.rate is None:
        from tests.unit.pricing.reference_engine.taxes import parts_of, percent_of_all

        return percent_of_all(parts_of(rule, Decimal(0)))
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


def _clock_reaches(zone: ZoneInfo, local: datetime) -> datetime:
    """The first instant (UTC) at which the local clock shows `local` (naive) or a later time.

    A reading that exists: its earlier instant (fold 0). A reading the clock skips: the change
    itself, found by walking minute by minute from an instant before it (changes fall on whole
    minutes in the years tested).
    """
    first = local.replace(tzinfo=zone).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return first
    moment = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while moment.astimezone(zone).replace(tzinfo=None) < local:
        moment += timedelta(minutes=1)
    return moment


def _in_window(config: TimeWindowConfig, now: datetime, zone_name: str) -> bool:
    """Whether `now` is in one of the window's local runs (docs/time-zones.md): the run of local day d
    opens the first time the clock reaches d + start_time and closes the first time it reaches
    end_time (the next day's when end <= start: the part after midnight belongs to day d); an end
    of 24:00 is the next day's 00:00."""
    zone = ZoneInfo(config.timezone or zone_name)
    start = time.fromisoformat(config.start_time)
    end = time(0) if config.end_time == "24:00" else time.fromisoformat(config.end_time)
    today = now.astimezone(zone).date()
    for back in (2, 1, 0):
        day = today - timedelta(days=back)
        if config.days_of_week is not None and day.isoweekday() not in config.days_of_week:
            continue
        end_day = day + timedelta(days=1) if end <= start else day
        opens = _clock_reaches(zone, datetime.combine(day, start))
        closes = _clock_reaches(zone, datetime.combine(end_day, end))
        if opens <= now < closes:
            return True
    return False


def adjustment(
    rule: PricingRule, *, quantity: int, user_tier: str | None, now: datetime, zone: str = "UTC"
) -> Decimal | None:
    """The percent by which a price rule moves the unit price, or None when it does not apply
    (`zone`: the business time zone, for a TIME_WINDOW without its own)."""
    config = rule.configuration
    if isinstance(config, TimeWindowConfig):
        return config.adjust_percent if _in_window(config, now, zone) else None
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
    zone: str = "UTC",
) -> tuple[Decimal, list[tuple[PricingRule, Decimal]]]:
    """The unit price after the rules that apply (unrounded, floored), and each applied rule's percent."""
    price = unit_price
    applied: list[tuple[PricingRule, Decimal]] = []
    for rule in rules:
        moved = adjustment(rule, quantity=quantity, user_tier=user_tier, now=now, zone=zone)
        if moved is None:
            continue
        price = price * (100 + moved) / 100
        applied.append((rule, moved))
        if rule.exclusive:
            break
    return max(price, min_price), applied
