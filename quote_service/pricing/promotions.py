"""Automatic promotions as the quote engine reads them (docs/promotions.md), and which ones a quote meets.

A promotion has no code: it applies to every quote whose basket meets its `conditions`, while it
is active and inside `[starts_at, ends_at)`. What it gives depends on its kind (`config`):

    PERCENT_OFF     percent (0, 100] of its eligible lines, at most max_discount
    AMOUNT_OFF      amount (in its currency) off its eligible lines
    BUY_X_GET_Y     percent_off of the CHEAPEST (or `selection: most_expensive`) `get` units,
                    once per complete `buy` group
    FREE_DELIVERY   the delivery fee waived, or percent / amount of it (at most max), per shipment
    FIXED_PRICE_BUNDLE  every complete group of `quantity` qualifying units (most expensive
                    first) costs `price` together
    SPEND_TIERS     the highest tier reached: its amount or percent off its lines
    GIFT            a gift line at 0.00 (docs/promotions.md#gifts)

Every kind spreads its amount over its lines in proportion to what is left of each, or (`distribution:
even`) in equal parts. A `group` of promotions applies only its best; a `budget` caps the money
orders take from a promotion (budget_remaining, kept in the snapshot).

How promotions combine with each other and with coupons is `promotion_deals`. The snapshot
compiles them into a `PromotionBook`, in stacking order (priority descending, then id), so the
order they were loaded in never matters.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from uuid import UUID

import msgspec

from quote_service.pricing.coupons import FundedBy, OnReducedLines
from quote_service.pricing.money import ZERO

PromotionKind = Literal[
    "PERCENT_OFF", "AMOUNT_OFF", "BUY_X_GET_Y", "FREE_DELIVERY", "FIXED_PRICE_BUNDLE", "SPEND_TIERS", "GIFT"
]
KINDS: tuple[PromotionKind, ...] = (
    "PERCENT_OFF",
    "AMOUNT_OFF",
    "BUY_X_GET_Y",
    "FREE_DELIVERY",
    "FIXED_PRICE_BUNDLE",
    "SPEND_TIERS",
    "GIFT",
)
PromotionRejection = Literal[
    "BETTER_DEAL", "USAGE_LIMIT", "NOTHING_LEFT", "BEST_IN_GROUP", "BUDGET_EXHAUSTED", "GIFT_UNAVAILABLE"
]
"""Why an eligible promotion was not applied: with another deal the customer pays less in the end,
it was used up (counted at orders), the promotions before it (with the cap and min_price floors)
left it nothing, another of its group is better for the customer, its budget cannot cover it, or
its gift is out of stock or inactive."""
Distribution = Literal["proportional", "even"]
Selection = Literal["cheapest", "most_expensive"]


class Conditions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a quote must meet; an empty set or None is no condition. Sets of ids match any one."""

    min_subtotal: Decimal | None = None
    """Goods before discounts (all lines), in `currency`."""
    currency: str | None = None
    category_ids: frozenset[str] = frozenset()
    """With `product_ids`: the eligible lines are those of these categories or products (some must be in the basket)."""
    product_ids: frozenset[str] = frozenset()
    customer_groups: frozenset[str] = frozenset()
    customer_segments: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()


class PercentOff(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="PERCENT_OFF"):
    percent: Decimal
    distribution: Distribution = "proportional"
    max_discount: Decimal | None = None
    """In the conditions' currency (required with it)."""


class AmountOff(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="AMOUNT_OFF"):
    amount: Decimal
    currency: str
    """The promotion applies only to quotes in this currency."""
    distribution: Distribution = "proportional"


class BuyTarget(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A unit counts towards the target when its product or its category is named
    (`promotion_deals._takes`)."""

    quantity: int
    product_ids: frozenset[str] = frozenset()
    category_ids: frozenset[str] = frozenset()


class GetTarget(BuyTarget, frozen=True, kw_only=True, forbid_unknown_fields=True):
    percent_off: Decimal = Decimal(100)
    """100: the `get` units are free."""


class BuyXGetY(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="BUY_X_GET_Y"):
    buy: BuyTarget
    get: GetTarget
    max_applications: int | None = None
    selection: Selection = "cheapest"
    """Which `get` units a group discounts: the cheapest, or the most expensive."""
    distribution: Distribution = "proportional"


class FreeDelivery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="FREE_DELIVERY"):
    """The delivery fee of each shipment it covers waived: whole, or `percent` of it or `amount` off it,
    at most `max` (docs/promotions.md#partial-free-delivery)."""

    percent: Decimal | None = None
    amount: Decimal | None = None
    max: Decimal | None = None
    """At most this much off each shipment's fee."""
    currency: str | None = None
    """The currency of `amount` and `max` (else the conditions'): the promotion applies only in it."""
    distribution: Distribution = "proportional"
    """Taken for every kind; a waived fee has no lines to spread over."""


def waived_fee(config: FreeDelivery, fee: Decimal, cent: Decimal) -> Decimal:
    """What a partial FREE_DELIVERY takes off one shipment's `fee`: `percent` of it (rounded half up
    once) or `amount`, at most `max`, never more than the fee. Callers test for a whole waiver
    (percent, amount and max all None: the fee itself) without a call."""
    if config.percent is not None:
        part = (fee * config.percent / 100).quantize(cent, ROUND_HALF_UP)
    elif config.amount is not None:
        part = config.amount
    else:
        part = fee
    if config.max is not None:
        part = min(part, config.max)
    return min(part, fee)


class FixedPriceBundle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="FIXED_PRICE_BUNDLE"):
    """Every complete group of `quantity` qualifying units (the most expensive first) costs `price`."""

    quantity: int
    price: Decimal
    currency: str
    """The promotion applies only to quotes in this currency."""
    product_ids: frozenset[str] = frozenset()
    category_ids: frozenset[str] = frozenset()
    distribution: Distribution = "proportional"


class Tier(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    min_subtotal: Decimal
    amount: Decimal | None = None
    percent: Decimal | None = None


class SpendTiers(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="SPEND_TIERS"):
    """The highest tier whose min_subtotal the goods of its lines (before discounts) reach applies."""

    tiers: tuple[Tier, ...]
    """Ascending min_subtotal (the service sorts them)."""
    currency: str
    distribution: Distribution = "proportional"


class Gift(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="GIFT"):
    """A gift line of `quantity` units of `product_id` at 0.00 when the goods reach `min_subtotal`."""

    product_id: str
    quantity: int = 1
    min_subtotal: Decimal | None = None
    currency: str | None = None
    distribution: Distribution = "proportional"


PromotionConfig = PercentOff | AmountOff | BuyXGetY | FreeDelivery | FixedPriceBundle | SpendTiers | Gift
CONFIG_TYPES: dict[str, type[msgspec.Struct]] = {
    "PERCENT_OFF": PercentOff,
    "AMOUNT_OFF": AmountOff,
    "BUY_X_GET_Y": BuyXGetY,
    "FREE_DELIVERY": FreeDelivery,
    "FIXED_PRICE_BUNDLE": FixedPriceBundle,
    "SPEND_TIERS": SpendTiers,
    "GIFT": Gift,
}


class Promotion(msgspec.Struct, frozen=True, kw_only=True):
    """One promotion as the engine reads it (`config` is the kind's)."""

    id: UUID
    name: str
    conditions: Conditions = Conditions()
    config: PromotionConfig
    priority: int = 0
    combinable: bool = True
    combines_with_coupons: bool = True
    starts_at: datetime
    ends_at: datetime | None = None
    usage_limit: int | None = None
    times_used: int = 0
    is_active: bool = True
    funded_by: FundedBy = "seller"
    """Who pays the discount (docs/orders-and-refunds.md#who-funds-a-discount)."""
    group: str | None = None
    """Of the eligible promotions of one group only the best for the customer applies."""
    budget_remaining: Decimal | None = None
    """What is left of its money budget (None: no budget); quotes apply it only in `budget_currency`."""
    budget_currency: str | None = None
    per_customer_limit: int | None = None
    on_reduced_lines: OnReducedLines = "stack"
    seller_id: str | None = None
    """The seller whose own promotion it is (docs/sellers.md; None: the platform's): it discounts only that
    seller's lines, so another seller's offer of the same product (docs/offers.md) is not discounted."""
    """How it treats lines already reduced below their own price (docs/promotions.md#reduced-lines)."""

    @property
    def kind(self) -> PromotionKind:
        tag: PromotionKind = type(self.config).__struct_config__.tag  # type: ignore[assignment]
        return tag

    @property
    def used_up(self) -> bool:
        return self.usage_limit is not None and self.times_used >= self.usage_limit


class GiftStock(msgspec.Struct, frozen=True, kw_only=True):
    """A GIFT promotion's product as a quote reads it: whether it can be given (docs/promotions.md#gifts)."""

    id: str
    category_id: str | None
    seller_id: str | None
    is_active: bool
    stock: int
    """Units in stock less those held for other quotes' reservations."""
    unit_price: Decimal | None = None
    """Its current price, in `currency`: what a hint says the gift is worth (docs/promotions.md#hints)."""
    currency: str | None = None


class Basket(msgspec.Struct, frozen=True, kw_only=True):
    """What conditions read of a quote."""

    currency: str
    subtotal: Decimal
    """Goods before discounts."""
    product_ids: frozenset[str]
    category_ids: frozenset[str]
    customer_group: str | None = None
    """The customer's group (an account's or a service key's); None: a promotion naming groups never applies."""
    customer_segment: str | None = None
    channel: str | None = None
    """The quote's sales channel; None: a promotion naming channels never applies."""


def money_currency(promotion: Promotion) -> str | None:
    """The one currency a promotion's money is in (its conditions', else its kind's); None when it names none,
    or two (it applies nowhere then), or has a budget (spent in `budget_currency` only): nothing to convert
    (docs/currencies.md)."""
    named = {promotion.conditions.currency, getattr(promotion.config, "currency", None)} - {None}
    if len(named) != 1 or promotion.budget_currency is not None:
        return None
    return named.pop()


def _folded(value: str | None) -> str | None:
    return None if value is None else value.strip().casefold()


def _folded_set(values: frozenset[str]) -> frozenset[str | None]:
    return frozenset(_folded(value) for value in values)


def could_meet(
    promotion: Promotion,
    basket: Basket,
    now: datetime,
    *,
    groups: frozenset[str | None] | None = None,
    segments: frozenset[str | None] | None = None,
) -> bool:
    """Whether `promotion` is in force at `now` and a quote of `basket`'s currency, customer group,
    segment and channel could meet its conditions (usage aside).

    The rest of the conditions, the minimum subtotal and the categories and products, differ from
    basket to basket: `PromotionBook.meeting_for` checks them with its index, so this function, asked
    once per kind of quote, never reads them. `groups` and `segments` are the conditions' names
    folded (the book prepares them once)."""
    if not promotion.is_active or now < promotion.starts_at:
        return False
    if promotion.ends_at is not None and now >= promotion.ends_at:
        return False
    c = promotion.conditions
    if c.currency is not None and c.currency != basket.currency:
        return False
    config = promotion.config
    if isinstance(config, AmountOff | FixedPriceBundle | SpendTiers) and config.currency != basket.currency:
        return False
    if isinstance(config, Gift | FreeDelivery) and config.currency is not None and config.currency != basket.currency:
        return False
    if promotion.budget_currency is not None and promotion.budget_currency != basket.currency:
        return False
    if c.customer_groups and _folded(basket.customer_group) not in (groups or _folded_set(c.customer_groups)):
        return False
    segment = _folded(basket.customer_segment)
    if c.customer_segments and segment not in (segments or _folded_set(c.customer_segments)):
        return False
    return not (c.channels and _folded(basket.channel) not in _folded_set(c.channels))


def _stacking_key(promotion: Promotion) -> tuple[int, str]:
    return (-promotion.priority, str(promotion.id))


VIEWS_MEMO = 4_096
"""At most this many (currency, group, segment, channel, interval) views kept by a book; a full
memo is emptied and refills from the quotes that follow."""


class _Entry:
    """Promotions found under one name (or none): those without a minimum subtotal, and those with
    one by ascending minimum, so a basket takes the ones its subtotal reaches with one bisection."""

    __slots__ = ("always", "gated", "minimums")

    def __init__(self, positions: list[int], minimums: list[Decimal | None]) -> None:
        self.always = [position for position in positions if minimums[position] is None]
        gated = sorted((least, position) for position in positions if (least := minimums[position]) is not None)
        self.minimums = [least for least, _ in gated]
        self.gated = [position for _, position in gated]

    def reached(self, subtotal: Decimal) -> list[int]:
        """Positions whose minimum subtotal (if any) `subtotal` reaches, unordered."""
        if not self.gated:
            return self.always
        return self.always + self.gated[: bisect_right(self.minimums, subtotal)]


class _View:
    """The promotions in force in one interval of a book's edges that a quote in one currency,
    customer group, segment and channel could meet, indexed as the book is: what is left to look
    up for a basket is its categories and products (the index) and its subtotal (`_Entry`)."""

    __slots__ = ("admitted", "by_category", "by_product", "empty", "general")

    def __init__(self, book: PromotionBook, positions: list[int]) -> None:
        admitted = set(positions)
        self.admitted = admitted
        minimums = book.minimums
        self.general = _Entry([position for position in book.general if position in admitted], minimums)
        self.by_category = _kept(book.by_category, admitted, minimums)
        self.by_product = _kept(book.by_product, admitted, minimums)
        self.empty = not admitted
        """No promotion could apply to this kind of quote: the quote skips promotions altogether."""


def _kept(index: dict[str, list[int]], admitted: set[int], minimums: list[Decimal | None]) -> dict[str, _Entry]:
    kept: dict[str, _Entry] = {}
    for name, positions in index.items():
        found = [position for position in positions if position in admitted]
        if found:
            kept[name] = _Entry(found, minimums)
    return kept


Reducer = tuple[int, datetime, frozenset[str], frozenset[str], bool]
"""A promotion as a reduction: (its position in the book, starts_at, the products and the categories its
conditions name, whether it names neither)."""


class Reductions:
    """A promotion book's promotions as reductions (pricing/prior_lines.py), indexed once per snapshot: by id (the
    step) and the starts that could reduce a product, by product, by category and for every product (the loader)."""

    __slots__ = ("by_category", "by_id", "by_product", "general")

    def __init__(self, ordered: Sequence[Promotion]) -> None:
        self.by_id: dict[UUID, Reducer] = {}
        general: set[datetime] = set()
        by_product: dict[str, set[datetime]] = {}
        by_category: dict[str, set[datetime]] = {}
        for position, promotion in enumerate(ordered):
            c = promotion.conditions
            names_none = not c.category_ids and not c.product_ids
            reducer = (position, promotion.starts_at, frozenset(c.product_ids), frozenset(c.category_ids), names_none)
            self.by_id.setdefault(promotion.id, reducer)
            if names_none:
                general.add(promotion.starts_at)
            for product in c.product_ids:
                by_product.setdefault(product, set()).add(promotion.starts_at)
            for category in c.category_ids:
                by_category.setdefault(category, set()).add(promotion.starts_at)
        self.general = frozenset(general)
        self.by_product = {key: frozenset(starts) for key, starts in by_product.items()}
        self.by_category = {key: frozenset(starts) for key, starts in by_category.items()}

    def applied(self, promotion_ids: Iterable[UUID]) -> list[Reducer]:
        """The promotions of `promotion_ids` in the book's order (one look-up each, once a quote)."""
        found = [self.by_id[i] for i in set(promotion_ids) if i in self.by_id]
        found.sort()  # by position: positions differ, so nothing past them is compared
        return found


class PromotionBook:
    """A snapshot's promotions in stacking order: priority descending, then id (never load order),
    indexed by the categories and products their conditions name, so a quote checks only the
    promotions its basket could meet.

    What a quote's currency, customer group, segment and channel and the time decide is decided
    once per combination and interval (`_View`, kept in a bounded memo): promotions for another
    currency, group, segment or channel, or out of their dates, cost a quote nothing after the
    first of its kind."""

    __slots__ = (
        "by_category", "by_product", "converted", "currencies", "edges", "general", "gift_currencies",
        "gift_positions", "gift_products", "groups", "limited", "limited_any_channel", "minimums", "ordered",
        "priced_in", "reducing", "reductions", "segments", "views",
    )  # fmt: skip

    def __init__(self, promotions: Iterable[Promotion] = ()) -> None:
        self.ordered: tuple[Promotion, ...] = tuple(sorted(promotions, key=_stacking_key))
        self.general: list[int] = []
        """Positions of promotions that name no category or product."""
        self.by_category: dict[str, list[int]] = {}
        self.by_product: dict[str, list[int]] = {}
        self.groups = [_folded_set(p.conditions.customer_groups) for p in self.ordered]
        self.segments = [_folded_set(p.conditions.customer_segments) for p in self.ordered]
        self.minimums: list[Decimal | None] = [p.conditions.min_subtotal for p in self.ordered]
        self.currencies: frozenset[str | None] = frozenset(p.conditions.currency for p in self.ordered)
        """The currencies the promotions name (None: one names none, so any currency): the engine asks
        nothing more of a book none of whose promotions a quote's currency could meet (docs/hot-path.md)."""
        self.priced_in: frozenset[str] = frozenset(
            found for p in self.ordered if (found := money_currency(p)) is not None
        )
        """The currencies promotions' amounts are in: with FX_CONVERSION a quote in another converts them
        (docs/currencies.md)."""
        self.converted: dict[tuple[Any, ...], Any] = {}
        """Memo: this book with its promotions' amounts converted, per (quote currency, rates); see
        `fx_convert.converted_promotions`."""
        self.gift_products: tuple[str, ...] = tuple(
            sorted({p.config.product_id for p in self.ordered if isinstance(p.config, Gift) and p.is_active})
        )
        """The products GIFT promotions give: a quote reads their stock only when there are some."""
        self.gift_positions: list[tuple[int, str]] = []
        """(position, gift product) of each active GIFT promotion (`gifts_for`)."""
        gift_currencies: set[str | None] = set()
        for position, p in enumerate(self.ordered):
            if isinstance(p.config, Gift) and p.is_active:
                self.gift_positions.append((position, p.config.product_id))
                gift_currencies.add(p.conditions.currency or p.config.currency)
        self.gift_currencies = frozenset(gift_currencies)
        """The currencies those name (None: one names none): a quote in another asks nothing of them."""
        self.limited = [position for position, p in enumerate(self.ordered) if p.per_customer_limit is not None]
        """Positions of promotions with a per_customer_limit (a quote that could meet one reads its uses)."""
        self.limited_any_channel = any(not self.ordered[position].conditions.channels for position in self.limited)
        self.reducing = any(p.on_reduced_lines != "stack" for p in self.ordered)
        """Some promotion treats reduced lines other than by stacking: a quote then works out each line's
        own price (docs/promotions.md#reduced-lines); otherwise it pays nothing for that."""
        """Whether one of them names no channel: when none does, a quote without a channel could meet none and
        asks nothing of them (no call: the cost budget, docs/hot-path.md)."""
        for position, promotion in enumerate(self.ordered):
            c = promotion.conditions
            if not c.category_ids and not c.product_ids:
                self.general.append(position)
            for category in c.category_ids:
                self.by_category.setdefault(category, []).append(position)
            for product in c.product_ids:
                self.by_product.setdefault(product, []).append(position)
        self.reductions = Reductions(self.ordered)
        """The promotions as reductions, for lines' prior prices (pricing/prior_lines.py)."""
        edges = {edge for p in self.ordered for edge in (p.starts_at, p.ends_at) if edge is not None}
        self.edges: tuple[datetime, ...] = tuple(sorted(edges))
        """Every starts_at and ends_at, ascending: between two of them no promotion starts or ends."""
        self.views: dict[tuple[str, str | None, str | None, str | None, int], _View] = {}
        """Memo: a `_View` per (currency, folded group, segment, channel, interval of `edges`)."""

    def _view(self, currency: str, group: str | None, segment: str | None, channel: str | None, now: datetime) -> _View:
        key = (currency, _folded(group), _folded(segment), _folded(channel), bisect_right(self.edges, now))
        view = self.views.get(key)
        if view is None:
            # Everything `could_meet` reads of a basket: the same for every basket of this key at
            # any `now` of this interval.
            probe = Basket(
                currency=currency,
                subtotal=ZERO,
                product_ids=frozenset(),
                category_ids=frozenset(),
                customer_group=group,
                customer_segment=segment,
                channel=channel,
            )
            admitted = [
                position
                for position, promotion in enumerate(self.ordered)
                if could_meet(promotion, probe, now, groups=self.groups[position], segments=self.segments[position])
            ]
            view = _View(self, admitted)
            if len(self.views) >= VIEWS_MEMO:
                self.views.clear()
            self.views[key] = view
        return view

    def meeting_for(
        self,
        *,
        currency: str,
        subtotal: Decimal,
        category_ids: Iterable[str | None],
        product_ids: Iterable[str],
        customer_group: str | None,
        customer_segment: str | None,
        channel: str | None,
        now: datetime,
    ) -> list[int]:
        """Positions (ascending) of the promotions in force whose conditions a basket meets: its
        currency, subtotal (goods before discounts), the categories (None: none) and products of
        its lines, the customer's group and segment and the quote's channel (as `Basket`)."""
        view = self._view(currency, customer_group, customer_segment, channel, now)
        if view.empty:
            return []
        found = set(view.general.reached(subtotal))
        by_category, by_product = view.by_category, view.by_product
        if by_category:
            for category in category_ids:
                entry = by_category.get(category) if category is not None else None
                if entry is not None:
                    found.update(entry.reached(subtotal))
        if by_product:
            for product in product_ids:
                entry = by_product.get(product)
                if entry is not None:
                    found.update(entry.reached(subtotal))
        return sorted(found)

    def limited_for(
        self,
        *,
        currency: str,
        customer_group: str | None,
        customer_segment: str | None,
        channel: str | None,
        now: datetime,
    ) -> list[UUID]:
        """Ids of the promotions with a per_customer_limit that a quote of this kind could meet."""
        if not self.limited:
            return []
        admitted = self._view(currency, customer_group, customer_segment, channel, now).admitted
        return [self.ordered[position].id for position in self.limited if position in admitted]

    def in_force_for(
        self, currency: str, group: str | None, segment: str | None, channel: str | None, now: datetime
    ) -> list[Promotion]:
        """The promotions in force that a quote of this currency, customer group, segment and channel
        could meet at `now`, in stacking order (whatever its basket: the hints look further than it)."""
        admitted = self._view(currency, group, segment, channel, now).admitted
        return [promotion for position, promotion in enumerate(self.ordered) if position in admitted]

    def gifts_for(
        self, currency: str, group: str | None, segment: str | None, channel: str | None, now: datetime
    ) -> list[str]:
        """The products of the GIFT promotions a quote of this currency, customer group, segment and
        channel could meet at `now`: their stock is read only for those (a gift in another currency or
        for another channel costs a quote no read)."""
        if not self.gift_positions:
            return []
        admitted = self._view(currency, group, segment, channel, now).admitted
        return sorted({product for position, product in self.gift_positions if position in admitted})

    def __len__(self) -> int:
        return len(self.ordered)

    def __bool__(self) -> bool:
        return bool(self.ordered)
