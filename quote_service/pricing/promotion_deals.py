"""Step 5a of a quote (API.md §14): which promotions apply, and their discounts spread over the lines.

Every eligible promotion (in force, conditions met, not used up) is either in the stack or alone:

- the combinable ones stack in the book's order (priority descending, then id), each on what the
  previous ones left of its lines;
- each non-combinable one is a deal of its own.

When there is a deal alone to choose, the best deal is what the customer pays in the end: each
deal is priced through the coupons (which it may refuse), tax, delivery and the small-basket fee
(`Checkout`, the engine's steps 5-9 as sums), and the lowest `total_amount` wins; a tie keeps the
stack, then the higher in the book's order. Without one (the usual case) the stack is the deal and
nothing is priced twice.

Goods discounts go to the lines exactly like a coupon's (`discounts.spread`: in proportion to what
is left of each eligible line, never under a line's min_price floor, the rounding remainder to the
last line that can take it; flash-sale units take none), and all of them together stay within the
MAX_DISCOUNT_PERCENTAGE cap, which coupons then share. BUY_X_GET_Y gives `percent_off` of the
cheapest `get` units (unit value = what is left of the line per unit), once per complete group of
`buy` other units, up to `max_applications`; its discount goes to the lines holding those units. A
promotion with nothing to discount (no eligible line, no complete group, no delivery fee) is not
eligible (and not reported); one that the deal chosen leaves nothing (the cap, the floors) is
NOTHING_LEFT. Every promotion left out comes with a sentence saying why (`rejected`), worded as
docs/promotions.md shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from quote_service.pricing.discounts import spread
from quote_service.pricing.lines import Line
from quote_service.pricing.money import ZERO, percent_of
from quote_service.pricing.promotions import (
    AmountOff,
    BuyTarget,
    BuyXGetY,
    FreeDelivery,
    PercentOff,
    Promotion,
    PromotionBook,
    PromotionRejection,
)


class Deal:
    """What a set of promotions gives when applied in order to fresh copies of the lines (or to the
    lines themselves, when it is the only deal there is)."""

    __slots__ = ("amounts", "blocks_coupons", "free_delivery", "lines", "value")

    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines
        self.amounts: list[tuple[Promotion, Decimal, str]] = []
        """Each promotion with the goods discount it gave (0 for FREE_DELIVERY and for one left
        nothing) and, when it was left nothing, why."""
        self.free_delivery: Promotion | None = None
        self.value = ZERO
        self.blocks_coupons = False
        """A promotion that gave something does not combine with coupons."""


class Checkout(Protocol):
    """What the customer pays in the end with a deal (the engine's steps 5-9, as sums)."""

    def pays(self, lines: Sequence[Line], *, blocks_coupons: bool, free_delivery: bool) -> tuple[Decimal, bool]:
        """(`total_amount` with these lines' promotion discounts, whether the request's coupons saved
        something on top); `blocks_coupons`: the coupons are refused; `free_delivery`: the fee is waived."""
        ...


class Outcome:
    """The promotions a quote applies and the ones it leaves out, with the lines' discounts filled in."""

    __slots__ = ("applied", "blocks_coupons", "discount", "free_delivery", "rejected")

    def __init__(self) -> None:
        self.applied: list[tuple[Promotion, Decimal]] = []
        """Promotions applied, in order, with their goods discount (FREE_DELIVERY: 0 until step 7)."""
        self.rejected: list[tuple[Promotion, PromotionRejection, str]] = []
        """Promotions left out, in the book's order, with the reason and a sentence for people."""
        self.free_delivery: Promotion | None = None
        self.discount = ZERO
        self.blocks_coupons = False


def _eligible(promotion: Promotion, line: Line) -> bool:
    """Whether the line may take the promotion's discount (its product or category conditions)."""
    priced = line.priced
    if priced.flash_sale_id is not None:
        return False
    c = promotion.conditions
    if not c.category_ids and not c.product_ids:
        return True
    category = priced.category_id
    return priced.product_id in c.product_ids or (category is not None and category in c.category_ids)


def _takes(target: BuyTarget, product_id: str, category_id: str | None) -> bool:
    """Whether a unit of this product and category counts towards a BUY_X_GET_Y target. A function
    here, not a method of the target (a Python class: promotions.py declares msgspec Structs), so
    that the former compiled engine called it directly (a Python method call: ~1,000 instructions)."""
    return product_id in target.product_ids or (category_id is not None and category_id in target.category_ids)


def _units_given(config: BuyXGetY, lines: Sequence[Line], lefts: list[Decimal]) -> list[int] | None:
    """How many units of each line the promotion discounts: the cheapest `get` units of the
    largest number of complete groups (binary search: more groups never become possible again);
    None when no line holds a `get` unit (most baskets: nothing else to work out)."""
    gets = [i for i, line in enumerate(lines) if _takes(config.get, line.priced.product_id, line.priced.category_id)]
    if not gets:
        return None
    units = [line.priced.units for line in lines]
    gets.sort(key=lambda i: (lefts[i] / units[i], i))
    in_buy = [_takes(config.buy, line.priced.product_id, line.priced.category_id) for line in lines]
    buy_units = sum(units[i] for i in range(len(lines)) if in_buy[i])
    get_units = sum(units[i] for i in gets)
    sums = (buy_units, get_units)
    low, high = 0, get_units // config.get.quantity
    if config.max_applications is not None:
        high = min(high, config.max_applications)
    while low < high:
        middle = (low + high + 1) // 2
        if _taken(middle, config, units, gets, in_buy, sums) is None:
            high = middle - 1
        else:
            low = middle
    return _taken(low, config, units, gets, in_buy, sums) or [0] * len(lines)


def _taken(
    groups: int, config: BuyXGetY, units: list[int], gets: list[int], in_buy: list[bool], sums: tuple[int, int]
) -> list[int] | None:
    """The `get` units of each line that `groups` complete groups discount (cheapest first), or None
    when the basket holds fewer groups; `sums` is (units in `buy`, units in `get`). A function of
    its own, not a closure of `_units_given`: in the former compiled engine a closure and its
    environment referred to each other, so every quote meeting a BUY_X_GET_Y promotion left a
    reference cycle, the basket's lines in it, for the garbage collector (docs/hot-path.md#garbage)."""
    buy_units, get_units = sums
    wanted = groups * config.get.quantity
    if wanted > get_units:
        return None
    given = [0] * len(units)
    from_buy = 0
    for i in gets:
        take = min(wanted, units[i])
        given[i] = take
        wanted -= take
        if in_buy[i]:
            from_buy += take
        if wanted == 0:
            break
    return given if buy_units - from_buy >= groups * config.buy.quantity else None


Wanted = tuple[Decimal, list[Line], list[Decimal], list[Decimal] | None]


def _wanted(promotion: Promotion, lines: Sequence[Line], cent: Decimal) -> Wanted:
    """What a goods promotion wants of the lines as they are (rounded once, before the cap and the
    floors): the amount, its target lines, what is left of each, and the weights to spread by
    (None: by what is left)."""
    config = promotion.config
    targets = [line for line in lines if _eligible(promotion, line)]
    if not targets:
        return ZERO, targets, [], None
    if isinstance(config, BuyXGetY) and not any(
        _takes(config.get, line.priced.product_id, line.priced.category_id) for line in targets
    ):  # no line holds a unit it could give (most baskets): no group, nothing to work out
        return ZERO.quantize(cent, ROUND_HALF_UP), [], [], []
    lefts = [line.priced.subtotal - line.discount for line in targets]
    left = sum(lefts, ZERO)
    if isinstance(config, PercentOff):
        wanted = percent_of(left, config.percent).quantize(cent, ROUND_HALF_UP)
        if config.max_discount is not None:
            wanted = min(wanted, config.max_discount.quantize(cent, ROUND_HALF_UP))
        return wanted, targets, lefts, None
    if isinstance(config, AmountOff):
        return min(config.amount.quantize(cent, ROUND_HALF_UP), left), targets, lefts, None
    assert isinstance(config, BuyXGetY)
    given = _units_given(config, targets, lefts)
    if given is None:
        return ZERO.quantize(cent, ROUND_HALF_UP), [], [], []
    exact = [
        percent_of((lefts[i] / line.priced.units) * given[i], config.get.percent_off) if given[i] else ZERO
        for i, line in enumerate(targets)
    ]
    keep = [i for i, part in enumerate(exact) if part > 0]
    weights = [exact[i] for i in keep]
    wanted = sum(weights, ZERO).quantize(cent, ROUND_HALF_UP)
    return wanted, [targets[i] for i in keep], [lefts[i] for i in keep], weights


def _give(promotion: Promotion, deal: Deal, cent: Decimal, cap_left: Decimal, known: Wanted | None) -> Decimal:
    """Apply one goods promotion to the deal's lines (at most `cap_left`); the amount given.
    `known`: its `_wanted` of these very lines as they are now, when already worked out."""
    wanted, targets, lefts, weights = known if known is not None else _wanted(promotion, deal.lines, cent)
    amount = min(wanted, cap_left)
    if amount <= 0:
        return ZERO
    total = sum(lefts if weights is None else weights, ZERO)
    return spread(amount, targets, lefts, total, cent, weights, platform=promotion.funded_by == "platform")


def _deal(
    promotions: Sequence[Promotion],
    lines: Sequence[Line],
    cap: Decimal,
    cent: Decimal,
    fee: Callable[[], Decimal],
    *,
    in_place: bool = False,
    known: dict[int, Wanted] | None = None,
) -> Deal:
    """Apply `promotions` in order to fresh copies of `lines`, or (`in_place`: the deal that will
    be used whatever it gives) to `lines` themselves. `known` (in place only): the `_wanted` of some
    promotions (by id) on `lines` as they are, used for the first goods promotion (the lines are
    still as they were then)."""
    deal = Deal(list(lines) if in_place else [Line(line.priced, line.discount, line.funded) for line in lines])
    first = known if in_place else None
    cap_left = cap
    floored = False  # every line at its min_price floor: no goods promotion can give more
    for promotion in promotions:
        if isinstance(promotion.config, FreeDelivery):
            waived = ZERO
            why = ""
            if deal.free_delivery is None:
                waived = fee()
                if waived > 0:
                    deal.free_delivery = promotion
                    deal.value += waived
                    deal.blocks_coupons = deal.blocks_coupons or not promotion.combines_with_coupons
            else:
                why = f"the delivery fee is already waived by {deal.free_delivery.name}"
            deal.amounts.append((promotion, waived, why))
            continue
        given = ZERO
        if cap_left > 0 and not floored:
            given = _give(promotion, deal, cent, cap_left, None if first is None else first.get(id(promotion)))
            first = None
            floored = all(
                line.priced.subtotal - line.discount <= line.priced.floor
                for line in deal.lines
                if line.priced.flash_sale_id is None
            )
        cap_left -= given
        deal.value += given
        if given > 0:
            deal.blocks_coupons = deal.blocks_coupons or not promotion.combines_with_coupons
            deal.amounts.append((promotion, given, ""))
        else:
            deal.amounts.append((promotion, given, _left_nothing(promotion, deal.lines, cap, cap_left)))
    return deal


def _left_nothing(promotion: Promotion, lines: Sequence[Line], cap: Decimal, cap_left: Decimal) -> str:
    """Why a goods promotion gave nothing (docs/promotions.md's words)."""
    if cap_left <= 0:
        return f"the discounts before it reached the maximum discount ({cap:f})"
    if all(line.priced.subtotal - line.discount <= line.priced.floor for line in lines if _eligible(promotion, line)):
        return "its lines are at their min_price"
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
    checkout: Checkout,
) -> Outcome:
    """Choose the promotions for this basket and add their discounts to `Line.discount`.

    `meeting`: the positions in `book` of the promotions the basket meets (`PromotionBook.meeting_for`).
    `cap` is the most all discounts together may take; `delivery_value` the delivery fee on the
    goods before discounts (asked only when a FREE_DELIVERY promotion is eligible); `checkout`
    prices the deals when a promotion alone competes with the stack.
    """
    outcome = Outcome()
    fee_memo: list[Decimal] = []

    def fee() -> Decimal:
        if not fee_memo:
            fee_memo.append(delivery_value())
        return fee_memo[0]

    stacked: list[Promotion] = []
    alone: list[Promotion] = []
    left_out: list[tuple[int, Promotion, PromotionRejection, str]] = []
    positions: dict[int, int] = {}  # id(promotion) -> its position in the book
    known: dict[int, Wanted] = {}  # id(promotion) -> its `_wanted` of the lines as they are
    for position in meeting:
        promotion = book.ordered[position]
        positions[id(promotion)] = position
        config = promotion.config
        if isinstance(config, FreeDelivery):
            eligible = fee() > 0
        elif isinstance(config, BuyXGetY):  # a complete group is needed
            found = known[id(promotion)] = _wanted(promotion, lines, cent)
            eligible = bool(found[1])
        else:
            eligible = any(_eligible(promotion, line) for line in lines)
        if not eligible:
            continue  # nothing to discount here (no eligible line, no complete group, no delivery fee)
        if promotion.used_up:
            why = f"used up: its limit of {promotion.usage_limit} orders is reached"
            left_out.append((position, promotion, "USAGE_LIMIT", why))
        elif promotion.combinable:
            stacked.append(promotion)
        else:
            alone.append(promotion)
    if not stacked and not alone:
        outcome.rejected = [(promotion, reason, why) for _, promotion, reason, why in left_out]
        return outcome
    before = [line.discount for line in lines]
    # With no promotion to be used alone the stack is the deal: applied to the lines themselves.
    stack = _deal(stacked, lines, cap, cent, fee, in_place=not alone, known=known)
    chosen = stack
    deals = [stack]
    for promotion in alone:
        deal = _deal([promotion], lines, cap, cent, fee)
        if deal.value > 0:
            deals.append(deal)
        else:  # alone it gives nothing: no deal to price
            left_out.append((positions[id(promotion)], promotion, "NOTHING_LEFT", deal.amounts[0][2]))
    if len(deals) > 1:
        chosen = _cheapest(deals, checkout, left_out, positions)
    for promotion, amount, why in chosen.amounts:
        if amount > 0:
            outcome.applied.append((promotion, ZERO if isinstance(promotion.config, FreeDelivery) else amount))
        else:
            left_out.append((positions[id(promotion)], promotion, "NOTHING_LEFT", why))
    outcome.blocks_coupons = chosen.blocks_coupons
    outcome.rejected = [(promotion, reason, why) for _, promotion, reason, why in sorted(left_out, key=_position)]
    outcome.free_delivery = chosen.free_delivery
    # By position, not zip(..., strict=True): in the former compiled engine, a generic call (~2,500 instructions).
    for position, line in enumerate(lines):
        done = chosen.lines[position].discount
        outcome.discount += done - before[position]
        line.discount = done
        line.funded = chosen.lines[position].funded
    return outcome


def _position(entry: tuple[int, Promotion, PromotionRejection, str]) -> int:
    return entry[0]


def _cheapest(
    deals: list[Deal],
    checkout: Checkout,
    left_out: list[tuple[int, Promotion, PromotionRejection, str]],
    positions: dict[int, int],
) -> Deal:
    """The deal the customer pays least for in the end (`deals`: the stack, then each promotion alone
    in the book's order; a tie goes to the earlier); the others' promotions join `left_out` as
    BETTER_DEAL, each saying by how much it lost."""
    paid = [
        checkout.pays(deal.lines, blocks_coupons=deal.blocks_coupons, free_delivery=deal.free_delivery is not None)
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
