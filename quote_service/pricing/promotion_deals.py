"""Step 5a of a quote (docs/promotions.md): which promotions apply, and their discounts spread over the lines.

Every eligible promotion (in force, conditions met, not used up) is either in the stack or alone:

- the combinable ones stack in the book's order (priority descending, then id), each on what the
  previous ones left of its lines;
- each non-combinable one is a deal of its own.

When there is a deal alone to choose, the best deal is what the customer pays in the end: each
deal is priced through the coupons (which it may refuse), tax, delivery and the small-basket fee
(`DealPrice`, the engine's steps 5-9 as sums), and the lowest `total_amount` wins; a tie keeps the
stack, then the higher in the book's order. Without one (the usual case) the stack is the deal and
nothing is priced twice.

Goods discounts go to the lines exactly like a coupon's (`discounts.spread`: in proportion to what
is left of each eligible line, never under a line's min_price floor, the rounding remainder to the
last line that can take it; flash-sale units take none), and all of them together stay within the
MAX_DISCOUNT_PERCENTAGE cap, which coupons then share. BUY_X_GET_Y gives `percent_off` of the
cheapest `get` units (unit value = what is left of the line per unit), once per complete group of
`buy` other units, up to `max_applications`; its discount goes to the lines holding those units. A
promotion's `on_reduced_lines` decides what it does with lines already reduced below their own price
(reduced_lines.py: `skip` leaves them out of its lines, `best_of` works it out at their own price
and gives each only what goes below its reduced price). A promotion with nothing to discount (no
eligible line, no complete group, no delivery fee) is not eligible (and not reported); one that the
deal chosen leaves nothing (the cap, the floors) is NOTHING_LEFT. Every promotion left out comes
with a sentence saying why (`rejected`), worded as docs/promotions.md shows them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import accumulate, compress
from math import lcm
from operator import add, floordiv, mul, sub
from typing import Protocol
from uuid import UUID

from quote_service.pricing.discounts import give_best_of, spread
from quote_service.pricing.lines import Line
from quote_service.pricing.minor_units import (
    UNSEEN,
    fraction_parts,
    from_minor,
    places_of,
    spread_minor,
    tax_minor,
    tax_terms,
    to_minor,
)
from quote_service.pricing.money import ZERO, percent_of
from quote_service.pricing.promotions import (
    AmountOff,
    BuyTarget,
    BuyXGetY,
    Conditions,
    FixedPriceBundle,
    FreeDelivery,
    Gift,
    GiftStock,
    PercentOff,
    Promotion,
    PromotionBook,
    PromotionRejection,
    SpendTiers,
    waived_fee,
)
from quote_service.pricing.reduced_lines import is_reduced, reduced_view
from quote_service.pricing.settle import line_tax


class Deal:
    """What a set of promotions gives when applied in order to fresh copies of the lines (or to the
    lines themselves, when it is the only deal there is); on a big basket, worked out in minor units
    (`minor`) and its copies made only when read (`shared`, `own`, `settled`)."""

    __slots__ = ("amounts", "blocks_coupons", "delivery_terms", "free_delivery", "lines", "minor", "shared", "value")

    def __init__(self, lines: list[Line], minor: MinorLines | None = None, *, shared: bool = False) -> None:
        self.lines = lines
        self.shared = shared
        """`lines` are the quote's own, not yet copied: a deal in minor units copies them (`own`) only when a
        promotion the Decimal way or its price reads them."""
        self.minor = None if minor is None else DealMinor(minor)
        """A big basket's deal in minor units (`DealMinor`): then what its lines hold is there while the
        deal is worked out, and `lines` are brought up to date as a promotion the Decimal way reads them."""
        self.amounts: list[tuple[Promotion, Decimal, str]] = []
        """Each promotion with the goods discount it gave (0 for FREE_DELIVERY and for one left
        nothing) and, when it was left nothing, why."""
        self.free_delivery: Promotion | None = None
        self.delivery_terms: FreeDelivery | None = None
        """`free_delivery`'s configuration: what it takes off each shipment's fee."""
        self.value = ZERO
        self.blocks_coupons = False
        """A promotion that gave something does not combine with coupons."""

    def own(self) -> list[Line]:
        """The deal's own copies of the lines (made now if `shared`), as minor units last wrote them."""
        if self.shared:
            self.lines = [Line(line.priced, line.discount, line.funded, line.own) for line in self.lines]
            self.shared = False
        return self.lines

    def settled(self) -> list[Line]:
        """The deal's lines, up to date (a deal in minor units writes them only when they are read)."""
        if self.minor is not None:
            self.minor.write(self.own())
        return self.lines


class DealPrice(Protocol):
    """What the customer pays in the end with a deal (the engine's steps 5-9, as sums)."""

    @property
    def summable(self) -> bool:
        """Whether `pays` can take a deal's sums (`summed`) instead of its lines."""
        ...

    def pays(
        self,
        lines: Sequence[Line],
        *,
        blocks_coupons: bool,
        free_delivery: FreeDelivery | None,
        summed: tuple[Decimal, Decimal] | None = None,
    ) -> tuple[Decimal, bool]:
        """(`total_amount` with these lines' promotion discounts, whether the request's coupons saved
        something on top); `blocks_coupons`: the coupons are refused; `free_delivery`: the fee is waived
        as this FREE_DELIVERY configuration says; `summed`: the lines' discount and the tax they add,
        added up (then `lines` are not read)."""
        ...


class Outcome:
    """The promotions a quote applies and the ones it leaves out, with the lines' discounts filled in."""

    __slots__ = ("applied", "blocks_coupons", "delivery_terms", "discount", "free_delivery", "gifts", "rejected")

    def __init__(self) -> None:
        self.applied: list[tuple[Promotion, Decimal]] = []
        """Promotions applied, in order, with their goods discount (FREE_DELIVERY: 0 until step 7)."""
        self.rejected: list[tuple[Promotion, PromotionRejection, str]] = []
        """Promotions left out, in the book's order, with the reason and a sentence for people."""
        self.free_delivery: Promotion | None = None
        self.delivery_terms: FreeDelivery | None = None
        """`free_delivery`'s configuration: what it takes off each shipment's fee."""
        self.discount = ZERO
        self.blocks_coupons = False
        self.gifts: list[tuple[Promotion, GiftStock]] = []
        """GIFT promotions given, with their products: a line each (the engine adds them)."""


def _eligible(promotion: Promotion, line: Line) -> bool:
    """Whether the line may take the promotion's discount (its product or category conditions)."""
    priced = line.priced
    if priced.flash_sale_id is not None:
        return False
    owner = promotion.seller_id  # a seller's own promotion: its own lines only (docs/offers.md)
    if owner is not None and priced.seller_id != owner:
        return False
    c = promotion.conditions
    if not c.category_ids and not c.product_ids:
        return True
    category = priced.category_id
    return priced.product_id in c.product_ids or (category is not None and category in c.category_ids)


def _takes(target: BuyTarget | FixedPriceBundle, product_id: str, category_id: str | None) -> bool:
    """Whether a unit of this product and category counts towards a BUY_X_GET_Y target. A function
    here, not a method of the target (a Python class: promotions.py declares msgspec Structs), so
    that the former compiled engine called it directly (a Python method call: ~1,000 instructions)."""
    return product_id in target.product_ids or (category_id is not None and category_id in target.category_ids)


def _units_given(
    config: BuyXGetY,
    lines: Sequence[Line],
    lefts: list[Decimal],
    minor_lefts: list[int] | None = None,
    held: Held | None = None,
) -> list[int] | None:
    """How many units of each line the promotion discounts: the cheapest `get` units of the
    largest number of complete groups (binary search: more groups never become possible again);
    None when no line holds a `get` unit (most baskets: nothing else to work out). `_takes` and the
    sort's key are written out in comprehensions: a big basket's BUY_X_GET_Y looks at ~100 lines a deal.
    `minor_lefts`: `lefts` in minor units, when the deal keeps them (`_unit_prices`: the same order, in integers);
    `held`: the lines' positions in the quote and the index's positions holding a `get` and a `buy` unit (`Held`)."""
    priced = [line.priced for line in lines]
    if held is None:
        products, categories = config.get.product_ids, config.get.category_ids
        gets = [
            i
            for i, p in enumerate(priced)
            if p.product_id in products or (p.category_id is not None and p.category_id in categories)
        ]
    else:  # `_takes` as the index answers it, by position
        positions, in_get, in_buy_set = held
        gets = [i for i, position in enumerate(positions) if position in in_get]
    if not gets:
        return None
    units = [p.units for p in priced]
    # a unit's price: the cheapest (or dearest) first, then the line
    keys = _unit_prices(minor_lefts, units, gets) if minor_lefts is not None else None
    each: Sequence[int | Decimal] = [lefts[i] / units[i] for i in gets] if keys is None else keys
    if config.selection == "most_expensive":
        each = [-price for price in each]
    # by price, then by line: a stable sort of the ascending `gets` by price alone (no tuple a line)
    gets = [gets[k] for k in sorted(range(len(gets)), key=each.__getitem__)]
    if held is None:
        products, categories = config.buy.product_ids, config.buy.category_ids
        in_buy = [
            p.product_id in products or (p.category_id is not None and p.category_id in categories) for p in priced
        ]
    else:
        in_buy = [position in in_buy_set for position in positions]
    buy_units = sum(compress(units, in_buy))
    taken = list(accumulate([units[i] for i in gets]))  # the `get` units through each line, cheapest first
    bought = list(accumulate([units[i] if in_buy[i] else 0 for i in gets]))  # of those, the ones in `buy`
    low, high = 0, taken[-1] // config.get.quantity
    if config.max_applications is not None:
        high = min(high, config.max_applications)
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(middle, config, gets, in_buy, (taken, bought), buy_units):
            low = middle
        else:
            high = middle - 1
    return _taken(low * config.get.quantity, units, gets)


def _unit_prices(minor_lefts: list[int], units: list[int], gets: list[int]) -> list[int] | None:
    """Keys that sort the `get` lines as their unit prices `lefts[i] / units[i]` in Decimal do, in integers: each
    line's left in minor units times `common // units`, `common` a multiple of every line's units (no Decimal
    division, integer comparisons in the sort). The same order: two unit prices that differ, differ by at least
    1 / (u x v) minor units, far more than the two roundings of Decimal's 28 digits (each under 5e-28 of the price)
    while left x units stays under EXACT_ORDER_LIMIT; equal ones are equal both ways. None past that limit (the
    Decimal way)."""
    counts = [units[i] for i in gets]
    values = [minor_lefts[i] for i in gets]
    largest = max(counts)
    if largest * max(max(values), -min(values)) >= EXACT_ORDER_LIMIT:
        return None
    if largest == 1:  # a unit a line: the lefts themselves
        return values
    common = lcm(*set(counts))
    if common.bit_length() > 64:  # many different unit counts: keys this long cost more than they save
        return None
    return [value * (common // count) for value, count in zip(values, counts, strict=True)]


def _fits(
    groups: int,
    config: BuyXGetY,
    gets: list[int],
    in_buy: list[bool],
    sums: tuple[list[int], list[int]],
    buy_units: int,
) -> bool:
    """Whether the basket holds `groups` complete groups: its cheapest `groups x get.quantity` `get` units
    leave `groups x buy.quantity` units in `buy`. `sums`: the running sums along `gets` of the `get` units
    and of those in `buy` (where the last unit wanted lies: a binary search, not a walk along the lines)."""
    taken, bought = sums
    wanted = groups * config.get.quantity
    k = bisect_left(taken, wanted)  # the line holding the last unit wanted
    if k == len(taken):
        return False
    from_buy = bought[k - 1] if k else 0
    if in_buy[gets[k]]:
        from_buy += wanted - (taken[k - 1] if k else 0)
    return buy_units - from_buy >= groups * config.buy.quantity


def _taken(wanted: int, units: list[int], gets: list[int]) -> list[int]:
    """The units of each line that give the `wanted` `get` units, cheapest first (`gets`' order). A function of
    its own, not a closure of `_units_given`: in the former compiled engine a closure and its environment
    referred to each other, so every quote meeting a BUY_X_GET_Y promotion left a reference cycle, the
    basket's lines in it, for the garbage collector (docs/hot-path.md#garbage)."""
    given = [0] * len(units)
    for i in gets:
        if wanted == 0:
            break
        take = units[i] if units[i] < wanted else wanted
        given[i] = take
        wanted -= take
    return given


Wanted = tuple[Decimal, list[Line], list[Decimal], list[Decimal] | None, Decimal]
"""What a goods promotion wants (`_wanted`): the amount, its target lines, what is left of each, the weights to
spread by (None: by what is left) and, with no weights, the sum of what is left (spread's total: added up once)."""


Held = tuple[list[int], set[int], set[int]]
"""A BUY_X_GET_Y's lines by their positions in the quote, and the positions (`Targets.named`) of the lines holding
a unit its `get` takes and of those holding one its `buy` takes."""

EXACT_ORDER_LIMIT = 10**27
"""`_unit_prices` orders unit prices in integers while every |left| x units is under this (its docstring says why)."""

Minor = tuple[int, int, int, int, int, int, int]
"""A line's `Priced.minor`: subtotal, floor, tax, the tax it adds, and `minor_units.tax_terms`."""

_INDEX_FROM = 64
"""Lines x promotions met above which a quote indexes its lines (`Targets`): below it, building the
index costs more than the scans it saves (a 3-line quote meeting one promotion: ~4 µs more)."""


class MinorLines:
    """A quote's lines in minor units (pricing/minor_units.py), as they are before its promotions: what
    each deal starts from. Only a quote with a `Targets` index (a big basket) has them."""

    __slots__ = (
        "any_floor", "discounts", "floors", "funded", "kept", "lines", "places", "subtotals", "taxes", "terms", "unsold"
    )  # fmt: skip

    def __init__(
        self,
        lines: Sequence[Line],
        places: int,
        kept: list[Minor],
        discounts: list[int],
        funded: list[int],
        unsold: list[int],
    ) -> None:
        self.places = places
        self.kept = kept
        """Each line's `Priced.minor`, by position."""
        self.subtotals = [each[0] for each in kept]
        self.floors = floors = [each[1] for each in kept]
        self.discounts, self.funded = discounts, funded
        self.unsold = unsold
        """Positions of the lines a promotion may discount (`Targets.unsold`)."""
        self.any_floor = any(floors)
        """Some line has a min_price floor above 0 (most baskets have none)."""
        self.lines = lines
        self.taxes: int | None = None
        """The tax the lines add as they are (`QuoteInputs.pays`'s, in minor units), once a deal's price asks;
        -1: not summable this way (a line was already discounted)."""
        self.terms: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None
        """Every line's `minor_units.tax_terms` by position, as three columns (set with `taxes`); None: some
        line's tax needs the Decimal way."""

    def tax(self) -> int | None:
        """The tax the lines add as they are (tax-inclusive lines add none); None: a line was already discounted
        (then its tax is not its price's: the Decimal way)."""
        if self.taxes is None:
            self.taxes = -1
            if not any(self.discounts):
                _, _, _, added, twice_numerators, twice_denominators, starts = zip(*self.kept, strict=True)
                self.taxes = sum(added)
                if min(twice_denominators):  # every line's tax in integers (no (0, 0, 0))
                    self.terms = (twice_numerators, twice_denominators, starts)
        return None if self.taxes < 0 else self.taxes

    @classmethod
    def of(cls, lines: Sequence[Line], cent: Decimal, unsold: list[int]) -> MinorLines | None:
        """The lines' amounts in minor units; None when the grid is not a power of ten or an amount is off it."""
        places = places_of(cent)
        if places is None:
            return None
        minors: list[Minor] = []
        discounts: list[int] = []
        funded: list[int] = []
        for line in lines:
            priced = line.priced
            kept = priced.minor  # a line's prices are shared by every quote with them: converted once
            if kept is None:
                subtotal, floor = to_minor(priced.subtotal, places), to_minor(priced.floor, places)
                tax = to_minor(priced.tax, places)
                if subtotal is None or floor is None or tax is None:
                    return None
                inclusive = priced.inclusive
                terms = tax_terms(subtotal, tax, inclusive, priced.plan.tax_fraction)
                kept = priced.minor = (subtotal, floor, tax, 0 if inclusive else tax, *terms)
            minors.append(kept)
            discount = to_minor(line.discount, places) if line.discount else 0
            paid = to_minor(line.funded, places) if line.funded else 0
            if discount is None or paid is None:
                return None
            discounts.append(discount)
            funded.append(paid)
        return cls(lines, places, minors, discounts, funded, unsold)


class DealMinor:
    """What one deal's lines hold in minor units while the deal is worked out, and which of its `Line`s
    are behind them (`stale`: the discount; `stale_funded`: the platform's part)."""

    __slots__ = ("base", "discounts", "funded", "stale", "stale_funded", "touched")

    def __init__(self, base: MinorLines) -> None:
        self.base = base
        self.discounts = list(base.discounts)
        self.funded = list(base.funded)
        self.stale: set[int] = set()
        self.stale_funded: set[int] = set()
        self.touched: set[int] = set()
        """Positions some promotion of the deal gave something (or, the Decimal way, may have)."""

    def sums(self) -> tuple[Decimal, Decimal] | None:
        """(the lines' discount, the tax they add) as `QuoteInputs.pays` adds them up line by line, from the
        lines a promotion touched; None where that needs the Decimal way (`MinorLines.tax`)."""
        base = self.base
        tax = base.tax()
        if tax is None:
            return None
        places, subtotals, discounts, lines = base.places, base.subtotals, self.discounts, base.lines
        terms = base.terms
        if terms is not None and min(map(sub, subtotals, discounts)) >= 0:
            # Each line's tax after its discount less its tax before (`tax_terms`; 0 on a line not discounted),
            # summed in C: no Python a line (every net under NET_LIMIT, as its subtotal is, and none below 0).
            twice_numerators, twice_denominators, starts = terms
            tax += sum(map(floordiv, map(sub, starts, map(mul, twice_numerators, discounts)), twice_denominators))
            return from_minor(sum(discounts), places), from_minor(tax, places)
        cent: Decimal | None = None
        fractions: dict[int, tuple[int, int] | None] = {}  # id(plan) -> its tax fraction's parts
        for position in self.touched:
            off = discounts[position]
            priced = lines[position].priced
            if not off or priced.inclusive:  # as it was (no discount: its price's tax), or it adds none
                continue
            plan = priced.plan
            parts = fractions.get(id(plan), UNSEEN)
            if parts is UNSEEN:
                parts = fractions[id(plan)] = fraction_parts(plan.tax_fraction)
            taxed = tax_minor(subtotals[position] - off, parts)
            if taxed is None:
                cent = cent or from_minor(1, places)
                taxed = to_minor(line_tax(priced, from_minor(off, places), cent), places)
                assert taxed is not None  # rounded to the grid
            kept = priced.minor
            assert kept is not None  # `MinorLines.of` converted every line
            tax += taxed - kept[2]
        return from_minor(sum(discounts), places), from_minor(tax, places)

    def write(self, lines: Sequence[Line], positions: Sequence[int] | set[int] | None = None) -> None:
        """Bring the `Line`s at `positions` (None: all) up to date (before the Decimal way reads them)."""
        places = self.base.places
        stale = self.stale if positions is None else self.stale.intersection(positions)
        for position in stale:
            lines[position].discount = from_minor(self.discounts[position], places)
        stale_funded = self.stale_funded if positions is None else self.stale_funded.intersection(positions)
        for position in stale_funded:
            lines[position].funded = from_minor(self.funded[position], places)
        if positions is None:
            self.stale, self.stale_funded = set(), set()
        else:
            self.stale -= stale
            self.stale_funded -= stale_funded

    def read(self, lines: Sequence[Line], positions: Sequence[int], before: list[Decimal]) -> None:
        """Take back in the `Line`s at `positions` whose discount the Decimal way changed (`before`: their
        discounts as it found them, by position in `positions`); what it gives is on the grid."""
        places = self.base.places
        for k, position in enumerate(positions):
            line = lines[position]
            if line.discount is before[k]:
                continue
            discount, funded = to_minor(line.discount, places), to_minor(line.funded, places)
            if discount is None or funded is None:  # every share is rounded to the grid: never
                raise ValueError(f"a promotion left line {position} off the currency's grid")
            self.discounts[position], self.funded[position] = discount, funded
            self.touched.add(position)

    def floored(self) -> bool:
        """Every line a promotion may discount is at its min_price floor: no goods promotion can give more."""
        base, discounts = self.base, self.discounts
        subtotals, floors = base.subtotals, base.floors
        return all(subtotals[position] - discounts[position] <= floors[position] for position in base.unsold)


def _give_minor(
    promotion: Promotion, deal: Deal, minor: DealMinor, cent: Decimal, cap_left: Decimal, index: Targets
) -> Decimal:
    """`_give` for a PERCENT_OFF or AMOUNT_OFF spread by what is left (`_fast`), in minor units."""
    positions = index.of(promotion)
    if not positions:
        return ZERO
    base, discounts = minor.base, minor.discounts
    subtotals, places = base.subtotals, base.places
    every = len(positions) == len(discounts)  # every line, in order (positions ascend): passes in C
    lefts = list(map(sub, subtotals, discounts)) if every else [subtotals[i] - discounts[i] for i in positions]
    total = sum(lefts)
    left = from_minor(total, places)
    config = promotion.config
    if isinstance(config, PercentOff):
        wanted = percent_of(left, config.percent).quantize(cent, ROUND_HALF_UP)
        if config.max_discount is not None:
            wanted = min(wanted, config.max_discount.quantize(cent, ROUND_HALF_UP))
    else:
        assert isinstance(config, AmountOff)
        wanted = min(config.amount.quantize(cent, ROUND_HALF_UP), left)
    amount = min(wanted, cap_left)
    if amount <= 0 or total <= 0:
        return ZERO
    whole = to_minor(amount, places)
    spread_out = None if whole is None else spread_minor(whole, positions, lefts, total, base.floors, base.any_floor)
    platform = promotion.funded_by == "platform"
    if spread_out is None:  # the Decimal way decides (pricing/minor_units.py)
        lines = deal.own()
        minor.write(lines, positions)
        targets = [lines[position] for position in positions]
        before = [line.discount for line in targets]
        given = spread(amount, targets, [from_minor(part, places) for part in lefts], left, cent, platform=platform)
        minor.read(lines, positions, before)
        return given
    given_minor, shares = spread_out
    minor.discounts = _added(discounts, positions, shares, every=every)
    count = len(discounts)  # a set holding `count` positions holds them all: nothing to add (a deal's later promotions)
    if len(minor.stale) < count:
        minor.stale.update(positions)
    if len(minor.touched) < count:
        minor.touched.update(positions)
    if platform:
        minor.funded = _added(minor.funded, positions, shares, every=every)
        if len(minor.stale_funded) < count:
            minor.stale_funded.update(positions)
    return from_minor(given_minor, places)


def _added(values: list[int], positions: Sequence[int], shares: list[int], *, every: bool) -> list[int]:
    """`values` with `shares[k]` added at `positions[k]` (`every`: the positions are all of them, in order)."""
    if every:
        return list(map(add, values, shares))
    for position, share in zip(positions, shares, strict=True):
        values[position] += share
    return values


def _reads(promotion: Promotion, index: Targets) -> list[int]:
    """The positions of the lines `_give` reads and gives to for `promotion` (`_wanted`'s targets before the
    reduced lines' view): its eligible lines, and of those a BUY_X_GET_Y's lines holding its units."""
    positions = index.of(promotion)
    config = promotion.config
    if positions and isinstance(config, BuyXGetY):
        return index.holding_units(positions, config) or []
    return positions


def _fast(promotion: Promotion) -> bool:
    """Whether `_give_minor` gives this promotion: a percent or amount off, spread by what is left, on every line
    as it is (what reduced lines, weights and even parts ask goes the Decimal way)."""
    config = promotion.config
    return (
        isinstance(config, PercentOff | AmountOff)
        and config.distribution != "even"
        and promotion.on_reduced_lines == "stack"
    )


class Targets:
    """One quote's lines indexed by category and product, and each promotion's eligible lines (by
    position: every deal's lines are copies in the same order) worked out once, for every deal that
    applies it: a stack of 90 promotions over 200 lines otherwise tests every line for each of them
    in each deal (docs/promotions.md#cost-on-the-quote-path)."""

    __slots__ = ("by_category", "by_product", "by_seller", "holding_memo", "memo", "minor", "named_memo", "unsold")

    def __init__(self, lines: Sequence[Line], cent: Decimal) -> None:
        self.unsold = [i for i, line in enumerate(lines) if line.priced.flash_sale_id is None]
        """Positions of the lines a promotion may discount (flash-sale units take none)."""
        self.by_category: dict[str, list[int]] = {}
        self.by_product: dict[str, list[int]] = {}
        self.by_seller: dict[str | None, set[int]] = {}
        """The same positions by seller: a seller's own promotion discounts its own lines only (docs/offers.md)."""
        for i in self.unsold:
            priced = lines[i].priced
            if priced.category_id is not None:
                self.by_category.setdefault(priced.category_id, []).append(i)
            self.by_product.setdefault(priced.product_id, []).append(i)
            self.by_seller.setdefault(priced.seller_id, set()).add(i)
        self.memo: dict[int, list[int]] = {}
        self.named_memo: dict[int, set[int]] = {}
        self.holding_memo: dict[int, tuple[list[int], list[int] | None, set[int], set[int]]] = {}
        """id(config) -> (the positions asked about, `holding_units`' answer, the positions holding a `get` unit and
        those holding a `buy` unit): asked again by every deal; `_wanted` reads the last two (no call)."""
        self.minor = MinorLines.of(lines, cent, self.unsold)
        """The lines in minor units, for the deals (None: a grid not a power of ten, or an amount off it)."""

    def of(self, promotion: Promotion) -> list[int]:
        """Ascending positions of the lines `_eligible` admits for `promotion`."""
        found = self.memo.get(id(promotion))
        if found is None:
            c = promotion.conditions
            found = self.unsold if not c.category_ids and not c.product_ids else sorted(self.named(c))
            owner = promotion.seller_id
            if owner is not None:
                own = self.by_seller.get(owner, set())
                found = [i for i in found if i in own]
            self.memo[id(promotion)] = found
        return found

    def named(self, target: BuyTarget | FixedPriceBundle | Conditions) -> set[int]:
        """Positions of the lines whose product or category `target` names (`_takes`), once a quote."""
        found = self.named_memo.get(id(target))
        if found is None:
            found = set()
            for category in target.category_ids:
                found.update(self.by_category.get(category, ()))
            for product in target.product_ids:
                found.update(self.by_product.get(product, ()))
            self.named_memo[id(target)] = found
        return found

    def holding_units(self, positions: list[int], config: BuyXGetY) -> list[int] | None:
        """`positions` less the lines holding neither a `buy` nor a `get` unit of `config` (they take no part in
        its groups), or None when none of them holds a `get` unit (no group: nothing to work out). Worked out
        once a quote for the same positions (a promotion's `of`, the same list for every deal)."""
        memo = self.holding_memo.get(id(config))
        if memo is not None and memo[0] is positions:
            return memo[1]
        gets = self.named(config.get)
        held: list[int] | None = None
        buys: set[int] = set()
        if not gets.isdisjoint(positions):
            buys = self.named(config.buy)
            either = gets | buys
            held = (
                [i for i in positions if i in either]
                if len(positions) < 2 * len(either)
                else sorted(either.intersection(positions))
            )
        self.holding_memo[id(config)] = (positions, held, gets, buys)
        return held


def _wanted(
    promotion: Promotion,
    lines: Sequence[Line],
    cent: Decimal,
    index: Targets | None = None,
    discounts: list[int] | None = None,
) -> Wanted:
    """What a goods promotion wants of the lines as they are (rounded once, before the cap and the
    floors): the amount, its target lines, what is left of each, and the weights to spread by
    (None: by what is left). `discounts`: the lines' discounts in minor units by position (`index.minor`'s
    grid), when the caller keeps them so (a BUY_X_GET_Y then orders its units in integers)."""
    config = promotion.config
    positions: list[int] | None = None
    if index is None:
        targets = [line for line in lines if _eligible(promotion, line)]
    else:
        positions = index.of(promotion)
        if positions and isinstance(config, BuyXGetY):  # only the lines holding its units take part
            holding = index.holding_units(positions, config)
            if holding is None:  # as below: no line holds a unit it could give
                return ZERO.quantize(cent, ROUND_HALF_UP), [], [], [], ZERO
            positions = holding
        targets = [lines[i] for i in positions]
    if not targets:
        return ZERO, targets, [], None, ZERO
    if isinstance(config, BuyXGetY) and not any(
        _takes(config.get, line.priced.product_id, line.priced.category_id) for line in targets
    ):  # no line holds a unit it could give (most baskets): no group, nothing to work out
        return ZERO.quantize(cent, ROUND_HALF_UP), [], [], [], ZERO
    lefts = [line.priced.subtotal - line.discount for line in targets]
    policy = promotion.on_reduced_lines
    if policy != "stack":  # docs/promotions.md#reduced-lines
        targets, lefts = reduced_view(policy, targets, lefts)
        if not targets:
            return ZERO.quantize(cent, ROUND_HALF_UP), [], [], None, ZERO
    if isinstance(config, PercentOff):
        left = sum(lefts, ZERO)
        wanted = percent_of(left, config.percent).quantize(cent, ROUND_HALF_UP)
        if config.max_discount is not None:
            wanted = min(wanted, config.max_discount.quantize(cent, ROUND_HALF_UP))
        return wanted, targets, lefts, None, left
    if isinstance(config, AmountOff):
        left = sum(lefts, ZERO)
        return min(config.amount.quantize(cent, ROUND_HALF_UP), left), targets, lefts, None, left
    if not isinstance(config, BuyXGetY):  # asked first: a BUY_X_GET_Y pays one test, as before bundles and tiers
        if isinstance(config, FixedPriceBundle):
            return _bundled(config, targets, lefts, cent)
        if isinstance(config, SpendTiers):
            return _tiered(config, targets, lefts, sum(lefts, ZERO), cent)
        return (
            ZERO.quantize(cent, ROUND_HALF_UP),
            [],
            [],
            [],
            ZERO,
        )  # GIFT: a line of its own, no discount on the others
    minor_lefts: list[int] | None = None
    held: Held | None = None
    if positions is not None and policy == "stack" and index is not None:  # the targets are the lines at positions
        # `holding_units` chose these positions and kept the `get` and `buy` ones (a look-up, not two calls)
        memo = index.holding_memo[id(config)]
        held = positions, memo[2], memo[3]
        minor = index.minor
        if minor is not None and discounts is not None:  # their lefts in minor units (`discounts` is on its grid)
            subtotals = minor.subtotals
            minor_lefts = [subtotals[i] - discounts[i] for i in positions]
    given = _units_given(config, targets, lefts, minor_lefts, held)
    if given is None:
        return ZERO.quantize(cent, ROUND_HALF_UP), [], [], [], ZERO
    exact = [
        percent_of((lefts[i] / line.priced.units) * given[i], config.get.percent_off) if given[i] else ZERO
        for i, line in enumerate(targets)
    ]
    keep = [i for i, part in enumerate(exact) if part > 0]
    weights = [exact[i] for i in keep]
    wanted = sum(weights, ZERO).quantize(cent, ROUND_HALF_UP)
    return wanted, [targets[i] for i in keep], [lefts[i] for i in keep], weights, ZERO


def _bundled(config: FixedPriceBundle, targets: list[Line], lefts: list[Decimal], cent: Decimal) -> Wanted:
    """FIXED_PRICE_BUNDLE: the qualifying units, most expensive first (ties: the earlier line), in
    complete groups of `quantity`; each group costs `price`, so the discount is what the grouped
    units are worth less the groups' price, on the lines holding them (weights: what their grouped
    units are worth). Nothing when the groups are worth no more than their price."""
    units = [line.priced.units for line in targets]
    qualifying = [
        i for i, line in enumerate(targets) if _takes(config, line.priced.product_id, line.priced.category_id)
    ]
    qualifying.sort(key=lambda i: (-(lefts[i] / units[i]), i))
    groups = sum(units[i] for i in qualifying) // config.quantity
    wanted_units = groups * config.quantity
    worth: dict[int, Decimal] = {}
    for i in qualifying:
        if wanted_units == 0:
            break
        take = min(wanted_units, units[i])
        worth[i] = lefts[i] / units[i] * take
        wanted_units -= take
    value = sum(worth.values(), ZERO) - config.price * groups
    if groups == 0 or value <= 0:
        return ZERO.quantize(cent, ROUND_HALF_UP), [], [], [], ZERO
    keep = sorted(worth)
    return (
        value.quantize(cent, ROUND_HALF_UP),
        [targets[i] for i in keep],
        [lefts[i] for i in keep],
        [worth[i] for i in keep],
        ZERO,
    )


def _tiered(config: SpendTiers, targets: list[Line], lefts: list[Decimal], left: Decimal, cent: Decimal) -> Wanted:
    """SPEND_TIERS: the highest tier whose min_subtotal the goods of its lines (before discounts)
    reach; its amount (never more than is left) or percent of what is left of them."""
    goods = sum((line.priced.subtotal for line in targets), ZERO)
    reached = [tier for tier in config.tiers if tier.min_subtotal <= goods]
    if not reached:
        return ZERO.quantize(cent, ROUND_HALF_UP), [], [], [], ZERO
    tier = max(reached, key=lambda t: t.min_subtotal)
    if tier.amount is not None:
        return min(tier.amount.quantize(cent, ROUND_HALF_UP), left), targets, lefts, None, left
    assert tier.percent is not None
    return percent_of(left, tier.percent).quantize(cent, ROUND_HALF_UP), targets, lefts, None, left


def spread_even(
    amount: Decimal, lines: Sequence[Line], lefts: Sequence[Decimal], cent: Decimal, *, platform: bool = False
) -> Decimal:
    """`distribution: even`: `amount` in equal parts over the lines (on the currency grid, the first
    lines take one more cent of the remainder each), each part clipped at the line's room above
    its min_price floor (a clipped part is not moved: the promotion gives that much less); what was given."""
    count = len(lines)
    base = (amount / count).quantize(cent, ROUND_FLOOR)
    extra = int((amount - base * count) / cent)
    given = ZERO
    for position, line in enumerate(lines):
        share = base + cent if position < extra else base
        share = min(share, max(lefts[position] - line.priced.floor, ZERO))
        line.discount += share
        if platform:
            line.funded += share
        given += share
    return given


def _give(
    promotion: Promotion,
    deal: Deal,
    cent: Decimal,
    cap_left: Decimal,
    known: Wanted | None,
    index: Targets | None,
    discounts: list[int] | None = None,
) -> Decimal:
    """Apply one goods promotion to the deal's lines (at most `cap_left`); the amount given.
    `known`: its `_wanted` of these very lines as they are now, when already worked out; `discounts`: the
    lines' discounts in minor units, when the deal keeps them (`DealMinor`)."""
    if known is None:
        known = _wanted(promotion, deal.lines, cent, index, discounts)
    wanted, targets, lefts, weights, left = known
    platform = promotion.funded_by == "platform"
    if promotion.on_reduced_lines == "best_of":  # `lefts` are what it saw: reduced lines at their own price
        return give_best_of(wanted, targets, lefts, weights, cap_left, cent, platform=platform)
    amount = min(wanted, cap_left)
    if amount <= 0:
        return ZERO
    if promotion.config.distribution == "even":
        return spread_even(amount, targets, lefts, cent, platform=platform)
    total = left if weights is None else sum(weights, ZERO)
    return spread(amount, targets, lefts, total, cent, weights, platform=platform)


def _deal(
    promotions: Sequence[Promotion],
    lines: Sequence[Line],
    cap: Decimal,
    cent: Decimal,
    fee: Callable[[], Decimal],
    *,
    in_place: bool = False,
    known: dict[int, Wanted] | None = None,
    index: Targets | None = None,
) -> Deal:
    """Apply `promotions` in order to fresh copies of `lines`, or (`in_place`: the deal that will
    be used whatever it gives) to `lines` themselves. `known` (in place only): the `_wanted` of some
    promotions (by id) on `lines` as they are, used for the first goods promotion (the lines are
    still as they were then). `index`: the quote's `Targets`."""
    minor_lines = None if index is None else index.minor
    if in_place or minor_lines is not None:  # the lines themselves, or a deal in minor units that copies them late
        deal = Deal(list(lines), minor_lines, shared=not in_place)
    else:
        deal = Deal([Line(line.priced, line.discount, line.funded, line.own) for line in lines])
    minor = deal.minor
    first = known if in_place else None
    cap_left = cap
    floored = False  # every line at its min_price floor: no goods promotion can give more
    for promotion in promotions:
        config = promotion.config
        if isinstance(config, FreeDelivery):
            waived = ZERO
            why = ""
            if deal.free_delivery is None:
                waived = fee()
                if waived > 0 and (config.percent is not None or config.amount is not None or config.max is not None):
                    waived = waived_fee(config, waived, cent)  # docs/promotions.md#partial-free-delivery
                if waived > 0:
                    deal.free_delivery = promotion
                    deal.delivery_terms = config
                    deal.value += waived
                    deal.blocks_coupons = deal.blocks_coupons or not promotion.combines_with_coupons
            else:
                why = f"the delivery fee is already waived by {deal.free_delivery.name}"
            deal.amounts.append((promotion, waived, why))
            continue
        given = ZERO
        if cap_left > 0 and not floored:
            if minor is None:
                given = _give(
                    promotion, deal, cent, cap_left, None if first is None else first.get(id(promotion)), index
                )
                floored = all(
                    line.priced.subtotal - line.discount <= line.priced.floor
                    for line in deal.lines
                    if line.priced.flash_sale_id is None
                )
            else:
                assert index is not None
                if _fast(promotion):
                    given = _give_minor(promotion, deal, minor, cent, cap_left, index)
                else:  # the Decimal way, on its lines brought up to date, then taken back in
                    positions = _reads(promotion, index)
                    minor.write(deal.own(), positions)
                    before = [deal.lines[position].discount for position in positions]
                    given = _give(
                        promotion,
                        deal,
                        cent,
                        cap_left,
                        None if first is None else first.get(id(promotion)),
                        index,
                        minor.discounts,
                    )
                    minor.read(deal.lines, positions, before)
                floored = minor.floored()
            first = None
        cap_left -= given
        deal.value += given
        if given > 0:
            deal.blocks_coupons = deal.blocks_coupons or not promotion.combines_with_coupons
            deal.amounts.append((promotion, given, ""))
        else:
            if minor is not None and cap_left > 0:  # it reads its lines
                assert index is not None
                minor.write(deal.own(), index.of(promotion))
            deal.amounts.append((promotion, given, _left_nothing(promotion, deal.lines, cap, cap_left)))
    return deal


def value_alone(promotion: Promotion, lines: Sequence[Line], cap: Decimal, cent: Decimal) -> Decimal:
    """What a goods promotion alone takes off `lines` before any discount, within `cap` and the floors
    (the hints' measure: docs/promotions.md#hints)."""
    zero = ZERO.quantize(cent)
    fresh = [Line(line.priced, zero, zero, line.own) for line in lines]
    return _deal([promotion], fresh, cap, cent, lambda: zero, in_place=True).value


def eligible_goods(promotion: Promotion, lines: Sequence[Line]) -> Decimal:
    """The goods before discounts of the lines the promotion may discount (what SPEND_TIERS reach)."""
    skip = promotion.on_reduced_lines == "skip"
    return sum(
        (line.priced.subtotal for line in lines if _eligible(promotion, line) and not (skip and is_reduced(line))),
        ZERO,
    )


def _left_nothing(promotion: Promotion, lines: Sequence[Line], cap: Decimal, cap_left: Decimal) -> str:
    """Why a goods promotion gave nothing (docs/promotions.md's words)."""
    if cap_left <= 0:
        return f"the discounts before it reached the maximum discount ({cap:f})"
    if all(line.priced.subtotal - line.discount <= line.priced.floor for line in lines if _eligible(promotion, line)):
        return "its lines are at their min_price"
    policy = promotion.on_reduced_lines
    if policy != "stack" and all(is_reduced(line) for line in lines if _eligible(promotion, line)):
        if policy == "skip":
            return "its lines are already reduced below their own price (on_reduced_lines: skip)"
        return "its lines' reduced prices are lower than their own prices less it (on_reduced_lines: best_of)"
    return "it takes nothing off what is left of its lines"


def _beaten(loser: Deal, paid: Decimal, winner: str, won: tuple[Decimal, bool]) -> str:
    """Why a deal the customer would pay `paid` with lost to the deal of the promotions named `winner`
    (" + "-joined; its total and whether coupons saved something: `won`)."""
    total, coupons_saved = won
    refused = loser.blocks_coupons and coupons_saved  # its coupons would have been refused
    names = winner
    if refused:
        names = f"{names} with your coupons" if names else "your coupons"
    elif not names:
        names = "no promotion"
    said = (
        f"beaten by {names}: {paid - total:f} less to pay" if paid > total else f"as good as {names}, which goes first"
    )
    return f"your coupons do not apply with it; {said}" if refused else said


def apply_promotions(
    book: PromotionBook,
    lines: Sequence[Line],
    *,
    meeting: list[int],
    cap: Decimal,
    cent: Decimal,
    delivery_value: Callable[[], Decimal],
    deal_price: DealPrice,
    subtotal: Decimal = ZERO,
    gifts: Mapping[str, GiftStock] | None = None,
    customer_uses: Mapping[UUID, int] | None = None,
) -> Outcome:
    """Choose the promotions for this basket and add their discounts to `Line.discount`.

    `meeting`: the positions in `book` of the promotions the basket meets (`PromotionBook.meeting_for`).
    `cap` is the most all discounts together may take; `delivery_value` the delivery fee on the
    goods before discounts (asked only when a FREE_DELIVERY promotion is eligible); `deal_price`
    prices the deals when a promotion alone competes with the stack. `subtotal`: the goods before
    discounts (a GIFT's min_subtotal); `gifts`: the GIFT promotions' products as they stand (a gift
    missing there is unavailable); `customer_uses`: the customer's orders using each promotion with
    a per_customer_limit.
    """
    outcome = Outcome()
    fee_memo: list[Decimal] = []

    def fee() -> Decimal:
        if not fee_memo:
            fee_memo.append(delivery_value())
        return fee_memo[0]

    eligible: list[Promotion] = []
    left_out: list[Rejected] = []
    positions: dict[int, int] = {}  # id(promotion) -> its position in the book
    known: dict[int, Wanted] = {}  # id(promotion) -> its `_wanted` of the lines as they are
    # The index pays for itself on large baskets under many promotions; a small one scans its lines.
    index = Targets(lines, cent) if len(lines) * len(meeting) > _INDEX_FROM else None
    # the lines' discounts in minor units as they are now (`_wanted`'s BUY_X_GET_Y orders its units with them)
    discounts = None if index is None or index.minor is None else index.minor.discounts
    budgeted = grouped = gifted = False  # what the merchandisers' fields ask of this basket (rarely anything)
    # A book without (active) GIFT promotions asks no met promotion whether it is one: no call (the cost budget).
    gift_products = book.gift_products
    for position in meeting:
        promotion = book.ordered[position]
        positions[id(promotion)] = position
        config = promotion.config
        if isinstance(config, FreeDelivery):
            something = fee() > 0
        elif isinstance(config, BuyXGetY | FixedPriceBundle | SpendTiers):  # a group or a tier is needed
            found = known[id(promotion)] = _wanted(promotion, lines, cent, index, discounts)
            something = bool(found[1])
        elif gift_products and isinstance(config, Gift):  # a line of its own, beside whatever deal is chosen
            something = config.min_subtotal is None or subtotal >= config.min_subtotal
            gifted = gifted or something
        elif index is not None:  # the lines it may discount, looked up once (`Targets.of`)
            something = bool(index.of(promotion))
        else:
            something = any(_eligible(promotion, line) for line in lines)
        if not something:
            continue  # nothing to discount here (no eligible line, no complete group, no delivery fee)
        if promotion.used_up:
            why = f"used up: its limit of {promotion.usage_limit} orders is reached"
            left_out.append((position, promotion, "USAGE_LIMIT", why))
        elif (limit := promotion.per_customer_limit) is not None and (customer_uses or {}).get(
            promotion.id, 0
        ) >= limit:
            why = f"used up for this customer: its limit of {limit} orders a customer is reached"
            left_out.append((position, promotion, "USAGE_LIMIT", why))
        elif promotion.budget_remaining is not None and promotion.budget_remaining <= 0:
            left_out.append((position, promotion, "BUDGET_EXHAUSTED", "its budget is used up"))
        else:
            eligible.append(promotion)
            if promotion.budget_remaining is not None:
                budgeted = True
            if promotion.group is not None:
                grouped = True
    if grouped:
        eligible = _best_in_groups(eligible, lines, cap, cent, fee, left_out, positions, index)
    if gifted:
        eligible = _gifts(eligible, lines, gifts or {}, outcome, left_out, positions, cent)
    if not eligible:
        outcome.rejected = [(promotion, reason, why) for _, promotion, reason, why in sorted(left_out, key=_position)]
        return outcome
    before = [line.discount for line in lines]
    while True:
        chosen, rejected = _choose(
            eligible, lines, cap, cent, fee, deal_price, positions, known, in_place=not budgeted, index=index
        )
        if not budgeted:
            break
        over = [
            (promotion, amount)
            for promotion, amount, _ in chosen.amounts
            if promotion.budget_remaining is not None and amount > promotion.budget_remaining
        ]
        if not over:
            break
        for promotion, amount in over:  # what it would give passes its budget: the choice again without it
            why = f"its budget has {promotion.budget_remaining:f} left, less than the {amount:f} it would give"
            left_out.append((positions[id(promotion)], promotion, "BUDGET_EXHAUSTED", why))
            eligible.remove(promotion)
    left_out += rejected
    given = outcome.applied  # the gifts, applied after the deal's promotions
    outcome.applied = []
    for promotion, amount, why in chosen.amounts:
        if amount > 0:
            outcome.applied.append((promotion, ZERO if isinstance(promotion.config, FreeDelivery) else amount))
        else:
            left_out.append((positions[id(promotion)], promotion, "NOTHING_LEFT", why))
    outcome.applied += given
    outcome.blocks_coupons = chosen.blocks_coupons
    outcome.rejected = [(promotion, reason, why) for _, promotion, reason, why in sorted(left_out, key=_position)]
    outcome.free_delivery = chosen.free_delivery
    outcome.delivery_terms = chosen.delivery_terms
    # By position, not zip(..., strict=True): in the former compiled engine, a generic call (~2,500 instructions).
    settled = chosen.lines if chosen.minor is None else chosen.settled()  # no call on a small basket
    for position, line in enumerate(lines):
        done = settled[position].discount
        outcome.discount += done - before[position]
        line.discount = done
        line.funded = settled[position].funded
    return outcome


Rejected = tuple[int, Promotion, PromotionRejection, str]


def _choose(
    eligible: list[Promotion],
    lines: Sequence[Line],
    cap: Decimal,
    cent: Decimal,
    fee: Callable[[], Decimal],
    deal_price: DealPrice,
    positions: dict[int, int],
    known: dict[int, Wanted],
    *,
    in_place: bool,
    index: Targets | None = None,
) -> tuple[Deal, list[Rejected]]:
    """The deal chosen among the stack and each non-combinable promotion alone, and the promotions
    it leaves out (beaten, or giving nothing alone). `in_place`: the stack may be applied to the
    lines themselves when it is the only deal (no promotion has a budget the choice may undo)."""
    stacked = [promotion for promotion in eligible if promotion.combinable]
    alone = [promotion for promotion in eligible if not promotion.combinable]
    rejected: list[Rejected] = []
    # With no promotion to be used alone the stack is the deal: applied to the lines themselves.
    stack = _deal(stacked, lines, cap, cent, fee, in_place=in_place and not alone, known=known, index=index)
    deals = [stack]
    for promotion in alone:
        deal = _deal([promotion], lines, cap, cent, fee, index=index)
        if deal.value > 0:
            deals.append(deal)
        else:  # alone it gives nothing: no deal to price
            rejected.append((positions[id(promotion)], promotion, "NOTHING_LEFT", deal.amounts[0][2]))
    if len(deals) == 1:
        return stack, rejected
    return _cheapest(deals, deal_price, rejected, positions), rejected


def _gifts(
    eligible: list[Promotion],
    lines: Sequence[Line],
    stock: Mapping[str, GiftStock],
    outcome: Outcome,
    left_out: list[Rejected],
    positions: dict[int, int],
    cent: Decimal,
) -> list[Promotion]:
    """`eligible` less its GIFT promotions: each given (in `outcome.applied`, amount 0, and
    `outcome.gifts`) when its product is active with the units in stock (beyond the basket's own
    units of it and the gifts before it), else GIFT_UNAVAILABLE."""
    taken: dict[str, int] = {}
    for line in lines:
        taken[line.priced.product_id] = taken.get(line.priced.product_id, 0) + line.priced.units
    kept = []
    for promotion in eligible:
        config = promotion.config
        if not isinstance(config, Gift):
            kept.append(promotion)
            continue
        found = stock.get(config.product_id)
        wanted = taken.get(config.product_id, 0) + config.quantity
        if found is None or not found.is_active:
            why = "its gift is not an active product"
        elif found.stock < wanted:
            why = f"its gift is out of stock ({max(found.stock - taken.get(config.product_id, 0), 0)} left)"
        else:
            taken[config.product_id] = wanted
            outcome.applied.append((promotion, ZERO.quantize(cent)))
            outcome.gifts.append((promotion, found))
            continue
        left_out.append((positions[id(promotion)], promotion, "GIFT_UNAVAILABLE", why))
    return kept


def _best_in_groups(
    eligible: list[Promotion],
    lines: Sequence[Line],
    cap: Decimal,
    cent: Decimal,
    fee: Callable[[], Decimal],
    left_out: list[Rejected],
    positions: dict[int, int],
    index: Targets | None = None,
) -> list[Promotion]:
    """`eligible` less every promotion of a group but its best: the one that alone takes the most
    off (goods discount or delivery fee waived; a tie: the first in the book's order). The others
    join `left_out` as BEST_IN_GROUP."""
    members: dict[str, list[Promotion]] = {}
    for promotion in eligible:
        if promotion.group is not None:
            members.setdefault(promotion.group, []).append(promotion)
    beaten: set[int] = set()
    for group in members.values():
        if len(group) < 2:
            continue
        worth = [_deal([promotion], lines, cap, cent, fee, index=index).value for promotion in group]
        best = max(range(len(group)), key=lambda i: (worth[i], -i))
        for i, promotion in enumerate(group):
            if i != best:
                why = f"{group[best].name} of its group {promotion.group!r} takes {worth[best] - worth[i]:f} more off"
                left_out.append((positions[id(promotion)], promotion, "BEST_IN_GROUP", why))
                beaten.add(id(promotion))
    return [promotion for promotion in eligible if id(promotion) not in beaten]


def _position(entry: Rejected) -> int:
    return entry[0]


def _cheapest(
    deals: list[Deal],
    deal_price: DealPrice,
    left_out: list[tuple[int, Promotion, PromotionRejection, str]],
    positions: dict[int, int],
) -> Deal:
    """The deal the customer pays least for in the end (`deals`: the stack, then each promotion alone
    in the book's order; a tie goes to the earlier); the others' promotions join `left_out` as
    BETTER_DEAL, each saying by how much it lost."""
    summable = deals[0].minor is not None and deal_price.summable  # a big basket's deals, no coupon codes
    paid = [
        deal_price.pays(deal.lines, blocks_coupons=deal.blocks_coupons, free_delivery=deal.delivery_terms, summed=sums)
        if summable and deal.minor is not None and (sums := deal.minor.sums()) is not None
        else deal_price.pays(deal.settled(), blocks_coupons=deal.blocks_coupons, free_delivery=deal.delivery_terms)
        for deal in deals
    ]
    best = 0
    for index in range(1, len(deals)):
        if paid[index][0] < paid[best][0]:
            best = index
    chosen = deals[best]
    names = " + ".join(promotion.name for promotion, amount, _ in chosen.amounts if amount > 0)
    for index, deal in enumerate(deals):
        if index != best:
            why = _beaten(deal, paid[index][0], names, paid[best])
            left_out.extend(
                (positions[id(promotion)], promotion, "BETTER_DEAL", why) for promotion, _, _ in deal.amounts
            )
    return chosen
