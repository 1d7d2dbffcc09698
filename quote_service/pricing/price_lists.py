"""Price lists (docs/price-lists.md): which list prices a line, compiled into the snapshot like rules.

A `PriceBook` indexes every price by (currency, product): selecting the price of one line is a
dictionary look-up and a walk over the few lists that price that product in that currency,
already in precedence order (highest `priority`, then the most specific: customer groups and
channels both set > one set > none, then the newest), never a scan of every price. Within the
first list that is in effect, open to the customer's group and the request's channel, and
prices the product at this quantity, the price with the highest `min_quantity` <= quantity wins.

An entry may name one offer of its product (`ListPrice.offer_id`, docs/offers.md): it prices only the
lines sold from that offer, and is indexed apart, by (currency, offer), so the product's own (default)
offer is selected exactly as before (`select`) and an offer's line asks `select_offer`.

Customer groups and channels compare case-insensitively (as tiers and segments do). Pure: `now`
is an argument.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from quote_service.pricing.quantity_rules import QuantityRules

OPEN_LISTS_MEMO = 65_536
"""At most this many (currency, product, group, channel, interval) entries in a book's memo of
open lists (about 10 MB); a full memo is emptied and refills from the quotes that follow."""


def label(value: str | None) -> str | None:
    """A customer group or channel as lists compare it (None: none stated)."""
    if value is None:
        return None
    folded = value.strip().casefold()
    return folded or None


@dataclass(frozen=True, slots=True)
class ListPrice:
    """One price of a list: `amount` (in the list's currency) from `min_quantity` units on."""

    product_id: UUID
    amount: Decimal
    min_quantity: int = 1
    quantity_rules: QuantityRules | None = None
    """The rules of the items it prices, in place of the product's (docs/pricing.md#quantity-rules)."""
    offer_id: UUID | None = None
    """The offer of the product whose lines it prices (None: the product's own, default offer)."""


@dataclass(frozen=True, slots=True)
class PriceList:
    """A price list as the engine reads it."""

    id: UUID
    name: str
    currency: str
    priority: int
    created_at: datetime
    customer_groups: frozenset[str] = frozenset()
    """Folded labels (see `label`); empty: every customer, with or without a group."""
    channels: frozenset[str] = frozenset()
    """Folded labels; empty: every channel, and requests that name none."""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    prices: tuple[ListPrice, ...] = ()
    prices_include_tax: bool = False
    """Its amounts are gross, tax included (docs/markets.md)."""
    rounding_mode: str | None = None
    """Its ROUNDING_MODE for the taxes of a quote priced from it (docs/taxes.md); None: the settings'."""
    tax_calculation: str | None = None
    """Its TAX_CALCULATION (LINE, UNIT or INVOICE); None: the settings'."""

    @property
    def specificity(self) -> int:
        """2: groups and channels set; 1: one of them; 0: neither."""
        return (1 if self.customer_groups else 0) + (1 if self.channels else 0)

    def open_to(self, group: str | None, channel: str | None, now: datetime) -> bool:
        """Whether the list is in effect at `now` for this (folded) group and channel."""
        if self.starts_at is not None and now < self.starts_at:
            return False
        if self.ends_at is not None and now >= self.ends_at:
            return False
        if self.customer_groups and group not in self.customer_groups:
            return False
        return not self.channels or channel in self.channels


class Tiers:
    """One list's prices of one product, by ascending min_quantity."""

    __slots__ = ("amounts", "price_list", "quantities")

    def __init__(self, price_list: PriceList, prices: list[ListPrice]) -> None:
        prices.sort(key=lambda price: price.min_quantity)
        self.price_list = price_list
        self.quantities = tuple(price.min_quantity for price in prices)
        self.amounts = tuple(price.amount for price in prices)

    def at(self, quantity: int) -> Decimal | None:
        """The amount at the highest min_quantity <= quantity; None below the lowest."""
        position = bisect_right(self.quantities, quantity)
        return self.amounts[position - 1] if position else None


@dataclass(frozen=True, slots=True)
class Selected:
    """The list that prices a line, and its unit amount there."""

    price_list: PriceList
    amount: Decimal


def precedence(price_list: PriceList) -> tuple[int, int, datetime, int]:
    """Sort key, descending: priority, specificity, newest (then the id, so ties are stable)."""
    return (price_list.priority, price_list.specificity, price_list.created_at, price_list.id.int)


@dataclass(frozen=True, slots=True)
class PriceBook:
    """Every price list in force or still to come, indexed by (currency, product id as int)."""

    lists: tuple[PriceList, ...] = ()
    index: dict[tuple[str, int], tuple[Tiers, ...]] = field(init=False, repr=False, compare=False)
    edges: tuple[datetime, ...] = field(init=False, repr=False, compare=False)
    """Every starts_at and ends_at, ascending: between two of them no list enters or leaves effect."""
    currencies: frozenset[str] = field(init=False, repr=False, compare=False)
    """The lists' currencies: a quote in another one never asks the book (docs/hot-path.md#the-cost-budget)."""
    open_lists: dict[tuple[str, int, str | None, str | None, int], tuple[Tiers, ...]] = field(
        init=False, repr=False, compare=False
    )
    """Memo: of a (currency, product)'s lists, those open to a (group, channel) in one interval of
    `edges`, so a line walks only lists that could price it (lists for groups or channels the
    customer is not in cost a quote nothing after the first). Bounded by `OPEN_LISTS_MEMO`."""
    roundings: dict[int, PriceList] = field(init=False, repr=False, compare=False)
    """The lists that round taxes their own way, by id (as int): empty, a quote does not look."""
    ruled: tuple[tuple[int, int, int, QuantityRules | None], ...] = field(init=False, repr=False, compare=False)
    """(list id, product id as ints, min_quantity, rules) of every entry of a (list, product) some entry of
    which has quantity rules (docs/pricing.md#quantity-rules): what the snapshot's `QuantityBook` reads.
    Default-offer entries only: an offer's entry has none (its offer's own rules apply)."""
    offer_index: dict[tuple[str, int], tuple[Tiers, ...]] = field(init=False, repr=False, compare=False)
    """The entries that name an offer, by (currency, offer id as int), in precedence order (empty: a
    line sold from an offer asks nothing)."""
    open_offer_lists: dict[tuple[str, int, str | None, str | None, int], tuple[Tiers, ...]] = field(
        init=False, repr=False, compare=False
    )
    """Memo of `offer_index`'s open lists, as `open_lists` is of `index`'s."""

    def __post_init__(self) -> None:
        grouped: dict[tuple[str, int], list[Tiers]] = {}
        by_offer: dict[tuple[str, int], list[Tiers]] = {}
        ruled: list[tuple[int, int, int, QuantityRules | None]] = []
        for price_list in sorted(self.lists, key=precedence, reverse=True):
            by_product: dict[int, list[ListPrice]] = {}
            offered: dict[int, list[ListPrice]] = {}
            for price in price_list.prices:
                if price.offer_id is None:
                    by_product.setdefault(price.product_id.int, []).append(price)
                else:
                    offered.setdefault(price.offer_id.int, []).append(price)
            for product, prices in by_product.items():
                grouped.setdefault((price_list.currency, product), []).append(Tiers(price_list, prices))
                if any(price.quantity_rules is not None for price in prices):
                    ruled += [(price_list.id.int, product, p.min_quantity, p.quantity_rules) for p in prices]
            for offer, prices in offered.items():
                by_offer.setdefault((price_list.currency, offer), []).append(Tiers(price_list, prices))
        object.__setattr__(self, "index", {key: tuple(found) for key, found in grouped.items()})
        object.__setattr__(self, "offer_index", {key: tuple(found) for key, found in by_offer.items()})
        object.__setattr__(self, "open_offer_lists", {})
        object.__setattr__(self, "ruled", tuple(ruled))
        edges = {edge for pl in self.lists for edge in (pl.starts_at, pl.ends_at) if edge is not None}
        object.__setattr__(self, "edges", tuple(sorted(edges)))
        object.__setattr__(self, "open_lists", {})
        rounds = {pl.id.int: pl for pl in self.lists if pl.rounding_mode or pl.tax_calculation}
        object.__setattr__(self, "roundings", rounds)
        object.__setattr__(self, "currencies", frozenset(pl.currency for pl in self.lists))

    @classmethod
    def of(cls, lists: Iterable[PriceList]) -> PriceBook:
        return cls(tuple(lists))

    def __len__(self) -> int:
        return len(self.lists)

    def prices(self) -> int:
        """How many prices the lists hold."""
        return sum(len(pl.prices) for pl in self.lists)

    def select(
        self, currency: str, product: int, quantity: int, group: str | None, channel: str | None, now: datetime
    ) -> Selected | None:
        """The price of `quantity` units of `product` (its UUID's int) in `currency` for this folded
        group and channel at `now`; None when no list prices it."""
        candidates = self.index.get((currency, product))
        if candidates is None:
            return None
        # Within one interval of `edges` no list enters or leaves effect, so which of them are
        # open to this group and channel is the same for every quote of that interval.
        key = (currency, product, group, channel, self.interval(now))
        memo = self.open_lists
        open_here = memo.get(key)
        if open_here is None:
            open_here = tuple(tiers for tiers in candidates if tiers.price_list.open_to(group, channel, now))
            if len(memo) >= OPEN_LISTS_MEMO:
                memo.clear()
            memo[key] = open_here
        for tiers in open_here:
            amount = tiers.at(quantity)
            if amount is not None:
                return Selected(tiers.price_list, amount)
        return None

    def select_offer(
        self, currency: str, offer: int, quantity: int, group: str | None, channel: str | None, now: datetime
    ) -> Selected | None:
        """The price of `quantity` units sold from `offer` (its UUID's int), as `select` prices a product's
        own offer from the entries that name no offer; None when no list prices that offer. (Written out as
        `select` is, rather than sharing a helper with it: that one runs for every list-priced line.)"""
        candidates = self.offer_index.get((currency, offer))
        if candidates is None:
            return None
        key = (currency, offer, group, channel, self.interval(now))
        memo = self.open_offer_lists
        open_here = memo.get(key)
        if open_here is None:
            open_here = tuple(tiers for tiers in candidates if tiers.price_list.open_to(group, channel, now))
            if len(memo) >= OPEN_LISTS_MEMO:
                memo.clear()
            memo[key] = open_here
        for tiers in open_here:
            amount = tiers.at(quantity)
            if amount is not None:
                return Selected(tiers.price_list, amount)
        return None

    def interval(self, now: datetime) -> int:
        """Which interval between `edges` `now` falls in (equal: the same lists are in effect)."""
        return bisect_right(self.edges, now) if self.edges else 0
