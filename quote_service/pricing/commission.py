"""Commission rates: the model, an index built once per snapshot, resolution and amounts.

Matching (docs/pricing.md): a rate matches when every dimension it sets equals the item's
(`category_id`, `seller_id`, `region` = delivery city or country, case-insensitive), it is
active, effective now (half-open `[effective_from, effective_to)`) and in the quote currency, or
a PERCENTAGE rate without a currency, which applies in every currency (docs/markets.md: amounts
need a currency, a percentage does not).

Each rate feeds one component, and the components ADD UP (`component_of`): the three below, and any
named one (`payment_fee`, `platform_fee`: a fee with a winner of its own per item, docs/commission.md).
A rate's `base` (net, gross, gross with delivery) and FLAT `per` (unit, line, shipment, order) are
charged by `commission_charges`; a rate that uses neither charges here as it always did.

- `category`, per item: one winner among the category rates; none → the default rate
  (DEFAULT_COMMISSION_RATE). A seller's negotiated category rate (seller + category, or
  `component: category` with a seller) is an override here: it wins by specificity.
- `seller`, per item: one winner among the seller rates; none → no seller commission.
- `logistics`, per quote: rates whose `logistics_provider` equals the quote's
  (case-insensitive); their seller is compared with the quote-level seller and their category
  matches when ANY line of the quote has it.

Winner among matches, highest first: `priority`; specificity score (seller 4 + category 2); the
region (a city match over a country match over a rate without a region); a rate in the quote's
currency over one without a currency; `effective_from`; `created_at`; and finally the id, so the
choice never depends on load order. This is the order of
docs/pricing.md (score seller 4 + category 2 + region 1, then city over country; see `_precedence`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

import msgspec

from quote_service.pricing.money import ZERO, percent_of, round_money
from quote_service.pricing.regions import RegionMatch, match_region

CommissionType = Literal["PERCENTAGE", "FLAT", "TIERED"]
Component = Literal["category", "seller", "logistics"]
ItemComponent = Literal["category", "seller"]
"""The components charged per item (logistics is charged per quote)."""
Base = Literal["net", "gross", "gross_with_delivery"]
"""What a PERCENTAGE or TIERED rate is a share of (docs/commission.md#bases)."""
Per = Literal["unit", "line", "shipment", "order"]
"""What a FLAT rate charges its amount for (docs/commission.md#flat-fees-per-unit-line-shipment-or-order)."""
PARTS: tuple[str, ...] = ("category", "seller", "logistics")
"""The three parts of every commission; any other component is a named fee (`is_fee`)."""
FEE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""A named component: `payment_fee`, `platform_fee`, ..."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Tier(msgspec.Struct, frozen=True, kw_only=True):
    """One marginal bracket: `rate` percent of the part of the base up to `up_to` (None = no limit)."""

    up_to: Decimal | None
    rate: Decimal


class CommissionRate(msgspec.Struct, frozen=True, kw_only=True):
    """A commission rate as the quote engine reads it."""

    id: UUID | None
    """None only for the built-in default rate (`default_rate`), shown as `rate_id: null`."""
    category_id: str | None = None
    seller_id: str | None = None
    logistics_provider: str | None = None
    region: str | None = None
    commission_type: CommissionType
    rate: Decimal | None
    """Percent for PERCENTAGE, an amount per unit (or per order) for FLAT, None for TIERED."""
    tiers: tuple[Tier, ...] = ()
    """TIERED only: ascending `up_to`, the last one open-ended."""
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    currency: str | None
    """None only on a PERCENTAGE rate without bounds: it applies in every currency."""
    effective_from: datetime
    effective_to: datetime | None = None
    is_active: bool = True
    priority: int = 0
    created_at: datetime
    component: str | None = None
    """Which part of the commission the rate feeds (`category`, `seller`, `logistics`, or a named fee such as
    `payment_fee`); None: derived from its dimensions (`component_of`)."""
    base: Base = "net"
    """PERCENTAGE and TIERED: the line's net, its gross (net + tax), or its gross and its share of its
    shipment's delivery fee."""
    per: Per = "unit"
    """FLAT: the amount per unit, per line, once per shipment or once per order."""


def default_rate(percent: Decimal, currency: str) -> CommissionRate:
    """The fallback when no rate matches an item: `percent` % (DEFAULT_COMMISSION_RATE), no id."""
    return CommissionRate(
        id=None,
        commission_type="PERCENTAGE",
        rate=percent,
        currency=currency,
        effective_from=_EPOCH,
        created_at=_EPOCH,
    )


def is_fee(component: str) -> bool:
    """A named component (a fee such as `payment_fee`), not one of the three parts."""
    return component not in PARTS


def charged_as_before(rate: CommissionRate) -> bool:
    """The rate charges as every rate did before bases and `per` (on the net; FLAT per unit)."""
    return rate.base == "net" and rate.per == "unit"


def derived_component(*, logistics_provider: str | None, seller_id: str | None, category_id: str | None) -> Component:
    """The component of a rate that does not set one: `logistics` when it names a logistics
    provider, else `seller` when it names a seller and no category, else `category`."""
    if logistics_provider is not None:
        return "logistics"
    return "seller" if seller_id is not None and category_id is None else "category"


def component_of(rate: CommissionRate) -> str:
    """The rate's component: as set, else derived from its dimensions."""
    if rate.component is not None:
        return rate.component
    return derived_component(
        logistics_provider=rate.logistics_provider, seller_id=rate.seller_id, category_id=rate.category_id
    )


def _region_key(region: str | None) -> str | None:
    if region is None or not region.strip():
        return None
    return region.strip().casefold()


_ItemKey = tuple[str, str | None, str | None, str | None, str | None]  # component, currency, seller, category, region


class CommissionIndex:
    """Rates indexed once so that resolving an item is a handful of dict lookups.

    Category and seller rates are keyed by (component, currency, seller, category, region); an
    item looks up its seller-or-none x category-or-none x city/country/none keys. Logistics
    rates are keyed by (provider, currency) and filtered on their few remaining dimensions.
    Rates that can never match are left out: inactive ones, a logistics rate without a
    provider, a category, seller or named rate naming a provider (the API refuses both shapes).
    `fee_names` are the named components of its per-item rates, sorted; `extended` says whether any
    per-item rate uses docs/commission.md (a named component, a base other than net, FLAT per other than
    unit): when not, a quote prices its commission as it always did and pays nothing for the feature.
    """

    __slots__ = ("_items", "_logistics", "extended", "fee_names", "item_currencies", "logistics_currencies")

    def __init__(self, rates: Iterable[CommissionRate]) -> None:
        items: defaultdict[_ItemKey, list[CommissionRate]] = defaultdict(list)
        logistics: defaultdict[tuple[str, str | None], list[CommissionRate]] = defaultdict(list)
        names: set[str] = set()
        extended = False
        for rate in rates:
            if not rate.is_active:
                continue
            component = component_of(rate)
            if component == "logistics":
                if rate.logistics_provider is not None:
                    logistics[(rate.logistics_provider.casefold(), rate.currency)].append(rate)
            elif rate.logistics_provider is None:
                key = (component, rate.currency, rate.seller_id, rate.category_id, _region_key(rate.region))
                items[key].append(rate)
                if is_fee(component):
                    names.add(component)
                extended = extended or not charged_as_before(rate)
        self._items = {key: tuple(found) for key, found in items.items()}
        self.item_currencies = tuple(sorted({key[1] for key in items if key[1] is not None}))
        """The currencies per-item rates are priced in: with FX_CONVERSION a line that no rate in its quote's
        currency wins takes one in another, converted (docs/currencies.md)."""
        self.fee_names = tuple(sorted(names))
        self.extended = extended or bool(names)
        self._logistics = {key: tuple(found) for key, found in logistics.items()}
        self.logistics_currencies = tuple(sorted({key[1] for key in logistics if key[1] is not None}))
        """The currencies logistics rates are priced in (docs/currencies.md)."""

    def __len__(self) -> int:
        return sum(map(len, self._items.values())) + sum(map(len, self._logistics.values()))

    def rates(self) -> Iterator[CommissionRate]:
        """Every indexed rate, per item and logistics (inactive rates are never indexed)."""
        for found in self._items.values():
            yield from found
        for found in self._logistics.values():
            yield from found

    def item_candidates(
        self,
        component: str,
        *,
        category_id: str | None,
        seller_id: str | None,
        city: str | None,
        country: str | None,
        currency: str,
    ) -> list[CommissionRate]:
        """Rates of `component` that can match these dimensions (dates not yet checked)."""
        sellers = (None,) if seller_id is None else (seller_id, None)
        categories = (None,) if category_id is None else (category_id, None)
        regions = dict.fromkeys((_region_key(city), _region_key(country), None))
        found: list[CommissionRate] = []
        items = self._items
        for in_currency in (currency, None):  # rates in the quote's currency, then those in every currency
            for seller in sellers:
                for category in categories:
                    for region in regions:
                        found.extend(items.get((component, in_currency, seller, category, region), ()))
        return found

    def logistics_candidates(self, *, provider: str, currency: str) -> tuple[CommissionRate, ...]:
        """Logistics rates of this provider in this currency or in every currency (other dimensions
        not yet checked)."""
        folded = provider.casefold()
        return self._logistics.get((folded, currency), ()) + self._logistics.get((folded, None), ())


def is_effective(rate: CommissionRate, now: datetime) -> bool:
    """Active and `now` inside the half-open window `[effective_from, effective_to)`."""
    if not rate.is_active or now < rate.effective_from:
        return False
    return rate.effective_to is None or now < rate.effective_to


def _precedence(rate: CommissionRate, region_match: RegionMatch) -> tuple[int, int, int, bool, datetime, datetime, str]:
    # docs/pricing.md's score adds region 1 to seller 4 + category 2. A 1 never outweighs a 2 or a 4,
    # so it only separates rates whose seller and category scores are equal, and `region_match`,
    # next in the key, orders those the same way (a city, then a country, then no region): the
    # point could never change a winner, and the match alone carries it.
    score = (4 if rate.seller_id is not None else 0) + (2 if rate.category_id is not None else 0)
    in_currency = rate.currency is not None  # a rate in the quote's currency over one in every currency
    return (rate.priority, score, region_match, in_currency, rate.effective_from, rate.created_at, str(rate.id))


def precedence(rate: CommissionRate, city: str | None, country: str | None) -> tuple[object, ...] | None:
    """The order a rate wins in (higher first) at this address; None when its region does not match it."""
    region_match = match_region(rate.region, city=city, country=country)
    return None if region_match is None else _precedence(rate, region_match)


def _best(matches: Iterable[tuple[CommissionRate, RegionMatch]]) -> CommissionRate | None:
    best: CommissionRate | None = None
    best_key: tuple[int, int, int, bool, datetime, datetime, str] | None = None
    for rate, region_match in matches:
        key = _precedence(rate, region_match)
        if best_key is None or key > best_key:
            best, best_key = rate, key
    return best


def resolve_item_rate(
    index: CommissionIndex,
    component: str,
    *,
    category_id: str | None,
    seller_id: str | None,
    city: str | None,
    country: str | None,
    currency: str,
    now: datetime,
) -> CommissionRate | None:
    """The winning rate of `component` for one item (`seller_id`: the item's, else the quote's).

    None: no rate of the component matches (the category component then takes the default rate,
    the seller component and a named one charge nothing).
    """

    def matches() -> Iterable[tuple[CommissionRate, RegionMatch]]:
        for rate in index.item_candidates(
            component, category_id=category_id, seller_id=seller_id, city=city, country=country, currency=currency
        ):
            if rate.category_id not in (None, category_id) or rate.seller_id not in (None, seller_id):
                continue
            region_match = match_region(rate.region, city=city, country=country)
            if region_match is not None and rate.currency in (currency, None) and is_effective(rate, now):
                yield rate, region_match

    return _best(matches())


def resolve_logistics_rate(
    index: CommissionIndex,
    *,
    provider: str | None,
    seller_id: str | None,
    category_ids: Collection[str],
    city: str | None,
    country: str | None,
    currency: str,
    now: datetime,
) -> CommissionRate | None:
    """The logistics rate for a quote with this provider; None when there is no provider or no match.

    `seller_id` is the quote-level seller; a rate's category matches when any line has it.
    """
    if provider is None:
        return None

    def matches() -> Iterable[tuple[CommissionRate, RegionMatch]]:
        for rate in index.logistics_candidates(provider=provider, currency=currency):
            if rate.seller_id is not None and rate.seller_id != seller_id:
                continue
            if rate.category_id is not None and rate.category_id not in category_ids:
                continue
            region_match = match_region(rate.region, city=city, country=country)
            if region_match is not None and is_effective(rate, now):
                yield rate, region_match

    return _best(matches())


def tiered_amount(tiers: Iterable[Tier], base: Decimal) -> Decimal:
    """Marginal brackets like income tax: each tier's rate on the part of `base` inside it."""
    total = ZERO
    lower = ZERO
    for tier in tiers:
        if base <= lower:
            break
        upper = base if tier.up_to is None else min(base, tier.up_to)
        if upper > lower:
            total += percent_of(upper - lower, tier.rate)
        if tier.up_to is None:
            break
        lower = max(lower, tier.up_to)
    return total


def commission_amount(
    rate: CommissionRate, *, base: Decimal, quantity: int, currency: str, per_order: bool = False
) -> Decimal:
    """What `rate` charges on `base` (a line net, or a delivery fee), clamped, rounded half up.

    PERCENTAGE: base * rate / 100. FLAT: rate * quantity (once when `per_order`). TIERED:
    marginal brackets over base. Then clamp to [min_amount, max_amount], then round to
    `currency`'s minor units. A negative base counts as zero.
    """
    base = max(base, ZERO)
    if rate.commission_type == "TIERED":
        amount = tiered_amount(rate.tiers, base)
    elif rate.commission_type == "FLAT":
        amount = (rate.rate or ZERO) * (1 if per_order else max(quantity, 0))
    else:
        amount = percent_of(base, rate.rate or ZERO)
    if rate.min_amount is not None:
        amount = max(amount, rate.min_amount)
    if rate.max_amount is not None:
        amount = min(amount, rate.max_amount)
    return round_money(amount, currency)
