"""Memoized configuration lookups: which rules and rates apply, computed once per snapshot and window.

Which rule or rate applies to a (product, category, seller, region) depends on the snapshot and
on `now` only through the effective windows (`effective_from`, `effective_to`) of its rules and
rates. Between two consecutive window edges every answer is constant, so each snapshot's
`Resolver` keeps the answers per edge interval and a warm quote resolves its configuration with
dict lookups. The pricing plans (`plan.RegionPlan`, compiled from these answers) live here too,
in `plans`, so they share the interval, the bound and the lifetime of the answers they are made of.

The memo is an optimisation, never a source of truth: each answer is exactly what the pricing
functions return for that `now`. It belongs to its snapshot (`ConfigSnapshot.resolver`, built
with it), so a new configuration starts with an empty memo and an old one is freed with its
snapshot; there is no module-level state. It is bounded (`MAX_ENTRIES` per interval, two
intervals per snapshot) and forgets everything when full.

Concurrency: nothing here takes a lock. The service prices on the event loop's one thread and
`price_quote` is synchronous, so no two quotes interleave. Threads sharing a snapshot would still
get exact answers (an entry is only ever filled from a `now` inside its interval, and each dict
operation is atomic under the GIL), at worst doing some work twice and briefly passing the bound.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from uuid import UUID

from quote_service.pricing.commission import (
    CommissionIndex,
    CommissionRate,
    resolve_item_rate,
    resolve_logistics_rate,
)
from quote_service.pricing.rules import (
    PricingRule,
    RuleBook,
    RuleType,
    TaxRateConfig,
    TimeWindowConfig,
    fee_rule,
    in_time_window,
    price_rules,
    tax_rule,
    window_zone,
)
from quote_service.pricing.taxes import effective_rate, rule_components
from quote_service.validation import QUOTE_LINES_CEILING

MAX_ENTRIES = 8 * QUOTE_LINES_CEILING
"""Answers kept per snapshot interval before the memo starts over (bounds memory under many regions
and catalogs): 40,000, ~0.75-1.3 KB each (a 5,000-line marketplace quote kept 15,839 answers in
~12 MB, `tracemalloc`). A line of the biggest basket keeps ~3 (its plan, its product's price rules
and one `Priced` for each quantity it comes in), so two such quotes of other quantities fit: at
20,000 a stream of 5,000-line quotes made the memo start over every quote or two, and each built
its plan again (1.6x the calls a line of a 1,000-line quote; BENCHMARKS.md)."""
MAX_CUSTOMERS = 20_000
"""Customers whose served flags are kept per snapshot interval (every region plan together) before
that memo alone starts over. A server's quotes come mostly from customers it has not seen: counted
with the answers above, their entries made the whole memo (priced lines, fees, every plan) start
over every ~MAX_ENTRIES quotes, to be built again by the quotes after."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_LAST_MICROSECOND = _MINUTE - timedelta(microseconds=1)
_INTERVALS_KEPT = 2
"""Intervals kept per snapshot: around a window edge, quotes in flight straddle two of them."""


def window_edges(book: RuleBook, index: CommissionIndex) -> list[datetime]:
    """Every instant at which some rule or rate enters or leaves its window, ascending."""
    edges: set[datetime] = set()
    dated: list[PricingRule | CommissionRate] = [*book.all_versions(), *index.rates()]
    for entry in dated:
        edges.add(entry.effective_from)
        if entry.effective_to is not None:
            edges.add(entry.effective_to)
    return sorted(edges)


class Resolution:
    """The lookups of one snapshot within one interval between window edges."""

    __slots__ = (
        "_book",
        "_clocks",
        "_customers",
        "_fees",
        "_index",
        "_items",
        "_logistics",
        "_prices",
        "_size",
        "_taxes",
        "_windows",
        "plans",
    )

    def __init__(self, book: RuleBook, index: CommissionIndex) -> None:
        self._book = book
        self._index = index
        self._prices: dict[tuple[Any, ...], list[PricingRule]] = {}
        self._taxes: dict[tuple[Any, ...], tuple[PricingRule | None, Decimal | None]] = {}
        self._fees: dict[tuple[Any, ...], PricingRule | None] = {}
        self._items: dict[tuple[Any, ...], CommissionRate | None] = {}
        self._logistics: dict[tuple[Any, ...], CommissionRate | None] = {}
        self._windows = [
            rule.configuration for rule in book.all_versions() if isinstance(rule.configuration, TimeWindowConfig)
        ]
        self._clocks: dict[tuple[int, str], frozenset[int]] = {}
        self.plans: dict[tuple[Any, ...], Any] = {}
        """`plan.RegionPlan`s by (city, country, currency, defaults); filled by `plan.region_plan`."""
        self._size = 0
        self._customers = 0

    def __len__(self) -> int:
        """How many answers are kept."""
        return self._size

    def grow(self) -> None:
        """Count one more kept answer; when the memo is full, forget every answer and plan."""
        self._size += 1
        if self._size > MAX_ENTRIES:
            self.forget()

    def forget(self) -> None:
        """Forget every answer and plan (a full memo, or a snapshot replaced: `Resolver.release`)."""
        for memo in (self._prices, self._taxes, self._fees, self._items, self._logistics, self._clocks, self.plans):
            memo.clear()
        self._size = 0
        self._customers = 0  # their entries went with the plans

    def grow_customers(self) -> None:
        """Count one more customer's served flags (kept in a plan's `flags`); past MAX_CUSTOMERS,
        forget those of every plan, and only those."""
        self._customers += 1
        if self._customers > MAX_CUSTOMERS:
            for plan in self.plans.values():
                plan.flags.clear()
            self._customers = 1  # the entry about to be kept

    def open_windows(self, now: datetime, default_zone: str) -> frozenset[int]:
        """Which TIME_WINDOW configurations of the book (by position) are open at `now`, those without
        a zone of their own reading `default_zone`'s clock.

        That is all that price rules read of `now`: two instants with the same answer price every
        line alike, so a priced line is kept under this answer rather than under the minute (it
        stays valid until some window opens or closes). A frozenset keeps its hash.
        The answer is kept per UTC minute when every zone read shows one local minute all through
        it (`_one_local_minute`), as every zone does today; else it is computed each time.
        """
        minute = (now - _EPOCH) // _MINUTE
        key = (minute, default_zone)
        found = self._clocks.get(key)
        if found is None:
            windows = self._windows
            found = frozenset(n for n, config in enumerate(windows) if in_time_window(config, now, default_zone))
            if _one_local_minute({window_zone(config, default_zone) for config in windows}, _EPOCH + minute * _MINUTE):
                self.grow()
                self._clocks[key] = found
        return found

    def price_rules(
        self, *, product_id: UUID | None, category_id: str | None, city: str, country: str, now: datetime
    ) -> list[PricingRule]:
        """`rules.price_rules` (the caller must not change the list)."""
        key = (None if product_id is None else product_id.int, category_id, city, country)  # UUID hashes slowly
        found = self._prices.get(key)
        if found is None:
            found = price_rules(
                self._book, product_id=product_id, category_id=category_id, city=city, country=country, now=now
            )
            self.grow()
            self._prices[key] = found
        return found

    def tax(
        self, *, category_id: str | None, city: str, country: str, now: datetime
    ) -> tuple[PricingRule | None, Decimal | None]:
        """The TAX_RATE rule for a line and its rate; (None, None) when the default applies."""
        key = (category_id, city, country)
        found = self._taxes.get(key)
        if found is None:
            rule = tax_rule(self._book, category_id=category_id, city=city, country=country, now=now)
            rate = None
            if rule is not None:
                assert isinstance(rule.configuration, TaxRateConfig)
                config = rule.configuration
                rate = effective_rate(rule_components(config)) if config.rate is None else config.rate
            found = (rule, rate)
            self.grow()
            self._taxes[key] = found
        return found

    def fee_rule(
        self,
        rule_type: RuleType,
        *,
        city: str,
        country: str,
        now: datetime,
        currency: str | None,
        default_currency: str,
    ) -> PricingRule | None:
        """`rules.fee_rule` among the rules priced in `currency` (None: in any)."""
        key = (rule_type, city, country, currency, default_currency)
        try:
            return self._fees[key]
        except KeyError:
            found = fee_rule(
                self._book,
                rule_type,
                city=city,
                country=country,
                now=now,
                currency=currency,
                default_currency=default_currency,
            )
            self.grow()
            self._fees[key] = found
            return found

    @property
    def item_currencies(self) -> tuple[str, ...]:
        """The currencies the snapshot's per-item commission rates are priced in (docs/currencies.md)."""
        return self._index.item_currencies

    @property
    def logistics_currencies(self) -> tuple[str, ...]:
        """The currencies the snapshot's logistics commission rates are priced in (docs/currencies.md)."""
        return self._index.logistics_currencies

    @property
    def fee_names(self) -> tuple[str, ...]:
        """The named commission components of the snapshot's per-item rates, sorted (docs/commission.md)."""
        return self._index.fee_names

    def item_rate(
        self,
        component: str,
        *,
        category_id: str | None,
        seller_id: str | None,
        city: str,
        country: str,
        currency: str,
        now: datetime,
    ) -> CommissionRate | None:
        """`commission.resolve_item_rate`."""
        key = (component, category_id, seller_id, city, country, currency)
        try:
            return self._items[key]
        except KeyError:
            found = resolve_item_rate(
                self._index,
                component,
                category_id=category_id,
                seller_id=seller_id,
                city=city,
                country=country,
                currency=currency,
                now=now,
            )
            self.grow()
            self._items[key] = found
            return found

    def logistics_rate(
        self,
        *,
        provider: str | None,
        seller_id: str | None,
        category_ids: frozenset[str],
        city: str,
        country: str,
        currency: str,
        now: datetime,
    ) -> CommissionRate | None:
        """`commission.resolve_logistics_rate`."""
        if provider is None:
            return None
        key = (provider, seller_id, category_ids, city, country, currency)
        try:
            return self._logistics[key]
        except KeyError:
            found = resolve_logistics_rate(
                self._index,
                provider=provider,
                seller_id=seller_id,
                category_ids=category_ids,
                city=city,
                country=country,
                currency=currency,
                now=now,
            )
            self.grow()
            self._logistics[key] = found
            return found


def _one_local_minute(zones: set[tzinfo | None], first: datetime) -> bool:
    """Whether each zone's wall clock (`local_time.wall_clock`) reads one minute through the UTC minute
    that starts at `first`: the same whole-minute offset and the same pass of a repeated hour at
    its first and last microsecond. (Zones whose offset once had seconds, before standard time,
    do not.)"""
    last = first + _LAST_MICROSECOND
    for where in zones:
        if where is None:
            continue  # a window that never opens
        early, late = first.astimezone(where), last.astimezone(where)
        offset = early.utcoffset()
        if offset != late.utcoffset() or early.fold != late.fold or offset is None or offset % _MINUTE:
            return False
    return True


class Resolver:
    """The memoized lookups of one snapshot: a `Resolution` per interval between window edges."""

    __slots__ = ("_book", "_edges", "_index", "_intervals")

    def __init__(self, book: RuleBook, index: CommissionIndex) -> None:
        self._book = book
        self._index = index
        self._edges = window_edges(book, index)
        self._intervals: dict[int, Resolution] = {}

    def release(self) -> None:
        """Forget every interval's lookups and plans (the snapshot was replaced): what they held is freed
        with its last reference, not left as cyclic garbage (a plan points back at its resolution)."""
        for resolution in self._intervals.values():
            resolution.forget()
        self._intervals.clear()

    def at(self, now: datetime) -> Resolution:
        """The lookups valid at `now` (shared by every quote priced in the same interval)."""
        interval = bisect_right(self._edges, now)
        found = self._intervals.get(interval)
        if found is None:
            if len(self._intervals) >= _INTERVALS_KEPT:
                self._intervals.clear()
            found = self._intervals[interval] = Resolution(self._book, self._index)
        return found
