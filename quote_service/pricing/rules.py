"""Versioned pricing rules: configurations, the model, a rule book indexed once, evaluation.

A rule is a NAME with immutable versions. The effective version of a name at `now` is the
highest `version` that is active, not retired and whose half-open window
`[effective_from, effective_to)` contains `now` (docs/pricing.md).

Selection among names, highest first:
- fee rules (one per type per quote): region match (city > country > none), `priority`,
  `version`, latest `effective_from`, then name (alphabetical) so the choice never depends on
  load order;
- TAX_RATE: category-specific over generic, then the fee-rule order above;
- price rules (TIME_WINDOW, QUANTITY_TIER, USER_TIER): every matching one applies, in
  descending `priority`, ties by name (alphabetical); see `price_rule_order`.

TIME_WINDOW times are local "HH:MM" in the rule's `timezone` (default: the engine defaults'
`timezone`, BUSINESS_TIMEZONE); `days_of_week` are ISO (1 = Monday ... 7 = Sunday) and name the
local day a window STARTS, so the after-midnight part of a 22:00-02:00 window belongs to the day
before; `end_time` 24:00 is the day's end (`00:00`-`24:00`: the whole day). A window whose times are
equal is refused on write (empty); one stored before that applies for a whole day from its start
(`in_time_window`'s midnight branch). Across a daylight-saving
change a window opens the first time the local clock reaches its start and closes the first
time it reaches its end (`local_time.wall_clock`; docs/time-zones.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from quote_service.pricing.local_time import wall_clock, zone
from quote_service.pricing.money import MAX_AMOUNT
from quote_service.pricing.regions import RegionMatch, match_region

RuleType = Literal[
    "DELIVERY_FEE",
    "EXPRESS_FEE",
    "SMALL_BASKET",
    "FREE_DELIVERY",
    "REGIONAL_FEE",
    "TAX_RATE",
    "TIME_WINDOW",
    "QUANTITY_TIER",
    "USER_TIER",
    "INVENTORY_LEVEL",
]
FEE_TYPES: frozenset[RuleType] = frozenset(
    {"DELIVERY_FEE", "EXPRESS_FEE", "SMALL_BASKET", "FREE_DELIVERY", "REGIONAL_FEE"}
)
PRICE_TYPES: tuple[RuleType, ...] = ("TIME_WINDOW", "QUANTITY_TIER", "USER_TIER")

HUNDRED = Decimal(100)


class DecimalRange(msgspec.Struct, frozen=True, kw_only=True):
    """Bounds of a Decimal field (msgspec's own constraints are for int and float only).

    Carried in `Annotated[Decimal, DecimalRange(...)]`: msgspec ignores it; the admin edge checks it.
    """

    ge: Decimal | None = None
    gt: Decimal | None = None
    le: Decimal | None = None
    lt: Decimal | None = None

    def problem(self, value: Decimal) -> str | None:
        """Why `value` is out of range (NaN and infinities always are), or None."""
        inside = value.is_finite() and not (
            (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.le is not None and value > self.le)
            or (self.lt is not None and value >= self.lt)
        )
        if inside:
            return None
        bounds = [
            f"{op} {bound:f}"
            for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
            if bound is not None
        ]
        return "must be a finite number " + " and ".join(bounds)


Amount = Annotated[Decimal, DecimalRange(ge=Decimal(0), lt=MAX_AMOUNT)]
Distance = Annotated[Decimal, DecimalRange(gt=Decimal(0), lt=Decimal("1e6"))]
Percent = Annotated[Decimal, DecimalRange(gt=Decimal(-100), le=Decimal(1000))]
TaxPercent = Annotated[Decimal, DecimalRange(ge=Decimal(0), le=Decimal(100))]
Multiplier = Annotated[Decimal, DecimalRange(gt=Decimal(0), le=Decimal(100))]
ClockTime = Annotated[
    str, msgspec.Meta(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d\Z", description="local HH:MM (the rule's timezone)")
]
EndClockTime = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)\Z",
        description="local HH:MM (the rule's timezone), or 24:00: the end of the day",
    ),
]
ZoneName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, description="IANA time zone name, e.g. Europe/Istanbul")
]
IsoWeekday = Annotated[int, msgspec.Meta(ge=1, le=7, description="ISO day: 1 = Monday ... 7 = Sunday")]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]
StockLevel = Annotated[int, msgspec.Meta(ge=0, le=2_000_000_000)]
TierName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


# --- configurations: one frozen Struct per type, a tagged union on "type" ----------------------


class _Config(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True, tag_field="type"
):
    """Base of the per-type configurations (the tag is the rule type)."""


class DistanceBand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`fee` for a distance up to and including `max_km`."""

    max_km: Distance
    fee: Amount


FeeCurrency = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z]{3}\Z",
        description="ISO 4217: the currency of the rule's amounts; it applies only to quotes in it "
        "(absent: DEFAULT_CURRENCY).",
    ),
]


class DeliveryFeeConfig(_Config, frozen=True, tag="DELIVERY_FEE"):
    base_fee: Amount
    per_km: Amount | None = None
    max_fee: Amount | None = None
    distance_bands: Annotated[tuple[DistanceBand, ...], msgspec.Meta(min_length=1, max_length=100)] | None = None
    """Strictly ascending `max_km`."""
    currency: FeeCurrency | None = None


class ExpressFeeConfig(_Config, frozen=True, tag="EXPRESS_FEE"):
    multiplier: Multiplier
    base_fee: Amount | None = None
    """None: the multiplier applies to the standard delivery fee."""
    distance_factor: Amount | None = None
    max_fee: Amount | None = None
    currency: FeeCurrency | None = None


class SmallBasketConfig(_Config, frozen=True, tag="SMALL_BASKET"):
    threshold: Amount
    fee: Amount
    currency: FeeCurrency | None = None


class FreeDeliveryConfig(_Config, frozen=True, tag="FREE_DELIVERY"):
    min_subtotal: Amount
    currency: FeeCurrency | None = None


class RegionalFeeConfig(_Config, frozen=True, tag="REGIONAL_FEE"):
    amount: Amount
    currency: FeeCurrency | None = None


def fee_currency(rule: PricingRule, default_currency: str) -> str:
    """The currency of a fee rule's amounts: its `currency`, else DEFAULT_CURRENCY (docs/markets.md)."""
    config = rule.configuration
    stated = getattr(config, "currency", None)
    return (stated if isinstance(stated, str) else default_currency).upper()


TaxCode = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9_]{0,15}\Z", description="e.g. KDV, OTV, VAT: A-Z, 0-9, _ (1-16)")
]


class TaxComponentConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """One tax of a compound TAX_RATE (docs/taxes.md#compound-taxes)."""

    code: TaxCode
    rate: TaxPercent
    compound: bool = False
    """On the net plus the components before it (KDV on a price holding ÖTV); else on the net."""


class TaxRateConfig(_Config, frozen=True, tag="TAX_RATE"):
    rate: TaxPercent | None = None
    """Percent, 0 to 100; exactly one of `rate` and `components`."""
    components: Annotated[tuple[TaxComponentConfig, ...], msgspec.Meta(min_length=1, max_length=8)] | None = None
    """Taxes in the order they apply (docs/taxes.md#compound-taxes); codes distinct."""


class TimeWindowConfig(_Config, frozen=True, tag="TIME_WINDOW"):
    adjust_percent: Percent
    start_time: ClockTime
    end_time: EndClockTime
    """Not `start_time` (an empty window: refused on write); `24:00` ends the window at midnight, so
    `00:00`-`24:00` is the whole day."""
    days_of_week: Annotated[tuple[IsoWeekday, ...], msgspec.Meta(min_length=1, max_length=7)] | None = None
    """None: every day."""
    timezone: ZoneName | None = None
    """The IANA zone whose wall clock the times and days are read in; None: the engine defaults' zone
    (BUSINESS_TIMEZONE), so the rule follows that setting."""


class QuantityTier(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    min_quantity: Quantity
    adjust_percent: Percent


class QuantityTierConfig(_Config, frozen=True, tag="QUANTITY_TIER"):
    tiers: Annotated[tuple[QuantityTier, ...], msgspec.Meta(min_length=1, max_length=100)]
    """Strictly ascending `min_quantity`."""


class UserTierConfig(_Config, frozen=True, tag="USER_TIER"):
    tiers: Annotated[dict[TierName, Percent], msgspec.Meta(min_length=1, max_length=100)]
    """Tier name (matched case-insensitively) -> adjust percent."""


class InventoryLevelConfig(_Config, frozen=True, tag="INVENTORY_LEVEL"):
    low_threshold: StockLevel
    low_adjust_percent: Percent
    high_threshold: StockLevel
    high_adjust_percent: Percent
    cooldown_hours: Annotated[int, msgspec.Meta(ge=0, le=8760)]


RuleConfig = (
    DeliveryFeeConfig
    | ExpressFeeConfig
    | SmallBasketConfig
    | FreeDeliveryConfig
    | RegionalFeeConfig
    | TaxRateConfig
    | TimeWindowConfig
    | QuantityTierConfig
    | UserTierConfig
    | InventoryLevelConfig
)
CONFIG_TYPES: dict[RuleType, type[_Config]] = {
    "DELIVERY_FEE": DeliveryFeeConfig,
    "EXPRESS_FEE": ExpressFeeConfig,
    "SMALL_BASKET": SmallBasketConfig,
    "FREE_DELIVERY": FreeDeliveryConfig,
    "REGIONAL_FEE": RegionalFeeConfig,
    "TAX_RATE": TaxRateConfig,
    "TIME_WINDOW": TimeWindowConfig,
    "QUANTITY_TIER": QuantityTierConfig,
    "USER_TIER": UserTierConfig,
    "INVENTORY_LEVEL": InventoryLevelConfig,
}


# --- the model and the rule book --------------------------------------------------------------


class PricingRule(msgspec.Struct, frozen=True, kw_only=True):
    """One immutable version of a rule, as the quote engine reads it."""

    id: UUID
    name: str
    version: int
    type: RuleType
    configuration: RuleConfig
    region: str | None = None
    product_id: UUID | None = None
    category_id: str | None = None
    priority: int = 0
    exclusive: bool = False
    effective_from: datetime
    effective_to: datetime | None = None
    is_active: bool = True
    retired_at: datetime | None = None
    created_by: str = ""
    created_at: datetime | None = None


_Scope = tuple[str, UUID | None, str | None]  # rule type, product_id, category_id


class RuleBook:
    """Rule versions indexed once: name -> versions newest first; (type, product, category) -> names.

    A lookup reads at most four scope keys and then the few versions of each name found.
    """

    __slots__ = ("_names", "_versions")

    def __init__(self, rules: Iterable[PricingRule]) -> None:
        versions: defaultdict[str, list[PricingRule]] = defaultdict(list)
        names: defaultdict[_Scope, dict[str, None]] = defaultdict(dict)
        for rule in rules:
            versions[rule.name].append(rule)
            names[(rule.type, rule.product_id, rule.category_id)][rule.name] = None
        self._versions = {
            name: tuple(sorted(found, key=lambda r: r.version, reverse=True)) for name, found in versions.items()
        }
        self._names = {scope: tuple(found) for scope, found in names.items()}

    def __len__(self) -> int:
        return sum(map(len, self._versions.values()))

    def versions(self, name: str) -> tuple[PricingRule, ...]:
        """Every loaded version of `name`, newest first."""
        return self._versions.get(name, ())

    def all_versions(self) -> Iterator[PricingRule]:
        """Every loaded version of every name (in no particular order)."""
        for found in self._versions.values():
            yield from found

    def names(self, rule_type: RuleType, *, product_id: UUID | None, category_id: str | None) -> list[str]:
        """Names with a version of `rule_type` that is generic or scoped to this product/category."""
        found: dict[str, None] = {}
        for product in (None, product_id) if product_id is not None else (None,):
            for category in (None, category_id) if category_id is not None else (None,):
                found.update(dict.fromkeys(self._names.get((rule_type, product, category), ())))
        return list(found)


def _in_effect(rule: PricingRule, now: datetime) -> bool:
    if not rule.is_active or rule.retired_at is not None or now < rule.effective_from:
        return False
    return rule.effective_to is None or now < rule.effective_to


def effective_version(book: RuleBook, name: str, now: datetime) -> PricingRule | None:
    """The highest version of `name` that is active, not retired and in its window at `now`."""
    for rule in book.versions(name):
        if _in_effect(rule, now):
            return rule
    return None


def _effective(book: RuleBook, names: Iterable[str], rule_type: RuleType, now: datetime) -> list[PricingRule]:
    found = []
    for name in names:
        rule = effective_version(book, name, now)
        if rule is not None and rule.type == rule_type:
            found.append(rule)
    return found


def _precedence(rule: PricingRule, match: RegionMatch) -> tuple[int, int, int, float, str]:
    """Sort key, best first: region match, priority, version, latest start, name."""
    return (-match, -rule.priority, -rule.version, -rule.effective_from.timestamp(), rule.name)


def fee_rule(
    book: RuleBook,
    rule_type: RuleType,
    *,
    city: str | None,
    country: str | None,
    now: datetime,
    currency: str | None = None,
    default_currency: str = "TRY",
) -> PricingRule | None:
    """The one rule of a fee type for this delivery address: city > country > none, then priority, version.

    `currency`: only rules priced in it take part (a rule without one is priced in `default_currency`);
    None: every rule, whatever its currency."""
    best: tuple[tuple[int, int, int, float, str], PricingRule] | None = None
    for rule in _effective(book, book.names(rule_type, product_id=None, category_id=None), rule_type, now):
        if rule.product_id is not None or rule.category_id is not None:
            continue
        if currency is not None and fee_currency(rule, default_currency) != currency:
            continue
        match = match_region(rule.region, city=city, country=country)
        if match is None:
            continue
        key = _precedence(rule, match)
        if best is None or key < best[0]:
            best = (key, rule)
    return best[1] if best else None


def tax_rule(
    book: RuleBook, *, category_id: str | None, city: str | None, country: str | None, now: datetime
) -> PricingRule | None:
    """The TAX_RATE for a line: category-specific beats generic, then the fee-rule precedence."""
    best: tuple[tuple[bool, tuple[int, int, int, float, str]], PricingRule] | None = None
    names = book.names("TAX_RATE", product_id=None, category_id=category_id)
    for rule in _effective(book, names, "TAX_RATE", now):
        if rule.product_id is not None or rule.category_id not in (None, category_id):
            continue
        match = match_region(rule.region, city=city, country=country)
        if match is None:
            continue
        key = (rule.category_id is None, _precedence(rule, match))
        if best is None or key < best[0]:
            best = (key, rule)
    return best[1] if best else None


def price_rule_order(rule: PricingRule) -> tuple[int, str, int]:
    """The order price rules apply in: descending priority, then name, then newest version."""
    return (-rule.priority, rule.name, -rule.version)


def price_rules(
    book: RuleBook,
    *,
    product_id: UUID | None,
    category_id: str | None,
    city: str | None,
    country: str | None,
    now: datetime,
) -> list[PricingRule]:
    """Effective TIME_WINDOW / QUANTITY_TIER / USER_TIER rules for a product, in application order."""
    found = []
    for rule_type in PRICE_TYPES:
        names = book.names(rule_type, product_id=product_id, category_id=category_id)
        for rule in _effective(book, names, rule_type, now):
            if rule.product_id not in (None, product_id) or rule.category_id not in (None, category_id):
                continue
            if match_region(rule.region, city=city, country=country) is not None:
                found.append(rule)
    return sorted(found, key=price_rule_order)


# --- price adjustments --------------------------------------------------------------------------


def _minutes(clock: str) -> int:
    return int(clock[:2]) * 60 + int(clock[3:5])


def window_zone(config: TimeWindowConfig, default_zone: str) -> tzinfo | None:
    """The zone a window reads its clock in; None when its name is not in the time-zone database
    (it was when the rule was saved: a database update removed it), and the window never opens."""
    try:
        return zone(config.timezone or default_zone)
    except ValueError:
        return None


def in_time_window(config: TimeWindowConfig, now: datetime, default_zone: str = "UTC") -> bool:
    """True when the local wall clock at `now` (in the rule's zone, else `default_zone`) falls in the
    window on one of its days."""
    where = window_zone(config, default_zone)
    if where is None:
        return False
    local = wall_clock(now, where)
    minute = local.hour * 60 + local.minute
    start, end = _minutes(config.start_time), _minutes(config.end_time)
    day = local.isoweekday()
    if start < end:
        inside = start <= minute < end
    elif minute >= start:  # crosses midnight (or a whole day): the part after the start
        inside = True
    elif minute < end:  # ... the part after midnight belongs to the day the window started
        inside, day = True, (day - 2) % 7 + 1
    else:
        inside = False
    return inside and (config.days_of_week is None or day in config.days_of_week)


def adjustment_percent(
    rule: PricingRule, *, quantity: int, user_tier: str | None, now: datetime, default_zone: str = "UTC"
) -> Decimal | None:
    """The percent a price rule changes the unit price by, or None when it does not apply
    (`default_zone`: the zone of a TIME_WINDOW without its own)."""
    config = rule.configuration
    if isinstance(config, TimeWindowConfig):
        return config.adjust_percent if in_time_window(config, now, default_zone) else None
    if isinstance(config, QuantityTierConfig):
        reached = [tier for tier in config.tiers if tier.min_quantity <= quantity]
        return max(reached, key=lambda tier: tier.min_quantity).adjust_percent if reached else None
    if isinstance(config, UserTierConfig):
        if user_tier is None:
            return None
        wanted = user_tier.strip().casefold()
        for tier, percent in config.tiers.items():
            if tier.strip().casefold() == wanted:
                return percent
    return None


def apply_price_rules(
    rules: Sequence[PricingRule],
    *,
    unit_price: Decimal,
    quantity: int,
    user_tier: str | None,
    min_price: Decimal,
    now: datetime,
    default_zone: str = "UTC",
) -> tuple[Decimal, list[tuple[PricingRule, Decimal]]]:
    """Compound the rules that apply, in the order given; an applied `exclusive` rule ends the chain.

    The result is floored at `min_price` and left unrounded (the engine rounds per line).
    """
    price = unit_price
    applied: list[tuple[PricingRule, Decimal]] = []
    for rule in rules:
        percent = adjustment_percent(rule, quantity=quantity, user_tier=user_tier, now=now, default_zone=default_zone)
        if percent is None:
            continue
        price = price * (HUNDRED + percent) / HUNDRED
        applied.append((rule, percent))
        if rule.exclusive:
            break
    return max(price, min_price), applied
