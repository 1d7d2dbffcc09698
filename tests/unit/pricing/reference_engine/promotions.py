"""Automatic promotions, written again from docs/promotions.md (the reference engine's step 5a).

Shares only the types (`Promotion` and its config Structs) with the production code. Straight
from the page: a promotion in force whose conditions the basket meets and that has something to
discount is eligible; combinable ones stack by priority (then id), each on what is left; the stack
and each non-combinable promotion alone are priced to the end of the quote (`Pays`, the engine's
rest written again) and the customer's lowest total wins (ties: the stack, then higher in that
order); discounts are spread like a coupon's (`discounts.give`) within the one cap and the min_price floors; buy X
get Y is worked out here unit by unit, every unit listed. Every promotion left out carries the
page's sentence for it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from uuid import UUID

from quote_service.pricing import promotions as kinds
from quote_service.pricing.promotions import AmountOff, BuyXGetY, FreeDelivery, PercentOff, Promotion
from tests.unit.pricing.reference_engine.discounts import give
from tests.unit.pricing.reference_engine.lines import Line
from tests.unit.pricing.reference_engine.money import ZERO
from tests.unit.pricing.reference_engine.reduced import best_of, delivery_part, is_reduced, seen

Fee = Callable[[], Decimal]
Pays = Callable[[list[Line], bool, FreeDelivery | None], tuple[Decimal, bool]]
"""(lines with a deal's discounts, coupons refused, the FREE_DELIVERY terms of the waiver) -> (total_amount,
coupons saved something)."""


class Chosen:
    """What the promotions gave: applied (promotion, amount), rejected (promotion, reason), the free delivery."""

    def __init__(self) -> None:
        self.applied: list[tuple[Promotion, Decimal]] = []
        self.rejected: list[tuple[Promotion, str, str]] = []
        self.free_delivery: Promotion | None = None
        self.discount = ZERO
        self.blocks_coupons = False
        self.gifts: list[Promotion] = []


def _fold(text: str) -> str:
    return text.strip().casefold()


def _in_force(promotion: Promotion, now: datetime) -> bool:
    started = promotion.starts_at <= now
    return promotion.is_active and started and (promotion.ends_at is None or now < promotion.ends_at)


def _named(names: frozenset[str], value: str | None) -> bool:
    """No names: everyone; else the quote's value, folded, among the folded names."""
    return not names or (value is not None and _fold(value) in {_fold(n) for n in names})


def _conditions_met(
    promotion: Promotion,
    lines: Sequence[Line],
    currency: str,
    segment: str | None,
    group: str | None,
    channel: str | None,
) -> bool:
    c = promotion.conditions
    goods = sum((line.subtotal for line in lines), ZERO)
    checks = [
        c.currency is None or c.currency == currency,
        not isinstance(promotion.config, AmountOff | kinds.FixedPriceBundle | kinds.SpendTiers)
        or promotion.config.currency == currency,
        not isinstance(promotion.config, kinds.Gift) or promotion.config.currency in (None, currency),
        promotion.budget_currency in (None, currency),
        c.min_subtotal is None or goods >= c.min_subtotal,
        (not c.category_ids and not c.product_ids)
        or any(line.category_id in c.category_ids or line.product_id in c.product_ids for line in lines),
        _named(c.customer_groups, group),
        _named(c.customer_segments, segment),
        _named(c.channels, channel),
    ]
    return all(checks)


def _takes(line: Line, promotion: Promotion) -> bool:
    c = promotion.conditions
    named = c.category_ids or c.product_ids
    return line.flash_sale_id is None and (
        not named or line.category_id in c.category_ids or line.product_id in c.product_ids
    )


def _free_units(config: BuyXGetY, lines: Sequence[Line], values: Sequence[Decimal]) -> list[int]:
    """Units discounted per line: every unit listed, the most complete groups, the cheapest `get` units
    (each line's units worth its `values` shared out)."""

    def qualifies(line: Line, ids: frozenset[str], categories: frozenset[str]) -> bool:
        return line.product_id in ids or line.category_id in categories

    in_get = [qualifies(line, config.get.product_ids, config.get.category_ids) for line in lines]
    in_buy = [qualifies(line, config.buy.product_ids, config.buy.category_ids) for line in lines]
    sign = -1 if config.selection == "most_expensive" else 1
    gets = sorted(
        (sign * values[index] / line.quantity, index)
        for index, line in enumerate(lines)
        if in_get[index]
        for _ in range(line.quantity)
    )  # every get unit, cheapest (or dearest) first (ties: the earlier line)
    buy_units = sum(line.quantity for index, line in enumerate(lines) if in_buy[index])
    groups = 0
    while config.max_applications is None or groups < config.max_applications:
        wanted = (groups + 1) * config.get.quantity
        if wanted > len(gets):
            break
        taken_from_buy = sum(1 for _, index in gets[:wanted] if in_buy[index])
        if buy_units - taken_from_buy < (groups + 1) * config.buy.quantity:
            break
        groups += 1
    free = [0] * len(lines)
    for _, index in gets[: groups * config.get.quantity]:
        free[index] += 1
    return free


def _bundle_worth(config: kinds.FixedPriceBundle, lines: Sequence[Line], values: Sequence[Decimal]) -> list[Decimal]:
    """Per line, what its units in complete groups are worth: every qualifying unit listed, the
    dearest first (ties: the earlier line), cut into groups of `quantity`."""
    units = sorted(
        (-values[index] / line.quantity, index)
        for index, line in enumerate(lines)
        if line.product_id in config.product_ids or line.category_id in config.category_ids
        for _ in range(line.quantity)
    )
    grouped = units[: len(units) // config.quantity * config.quantity]
    worth = [ZERO] * len(lines)
    for value, index in grouped:
        worth[index] += -value
    return worth


def _even(amount: Decimal, lines: Sequence[Line], cent: Decimal, *, platform: bool) -> Decimal:
    """docs/promotions.md, distribution even: equal parts, one more cent each to the first lines
    for the remainder, a part never taking a line below its floor."""
    cents = int(amount / cent)
    given = ZERO
    for index, line in enumerate(lines):
        part = (cents // len(lines) + (1 if index < cents % len(lines) else 0)) * cent
        part = min(part, max(line.subtotal - line.discount - line.floor, ZERO))
        line.discount += part
        if platform:
            line.funded += part
        given += part
    return given


def _goods(promotion: Promotion, lines: list[Line], cap_left: Decimal, cent: Decimal) -> tuple[Decimal, bool]:
    """Apply one goods promotion to `lines`; (amount given, whether it had something to discount)."""
    config = promotion.config
    taken = [line for line in lines if _takes(line, promotion)]
    targets, lefts = seen(promotion.on_reduced_lines, taken)
    left = sum(lefts, ZERO)
    if isinstance(config, kinds.Gift):
        return ZERO, False
    if isinstance(config, kinds.FixedPriceBundle):
        worth = _bundle_worth(config, targets, lefts)
        qualifying = [t for t in targets if t.product_id in config.product_ids or t.category_id in config.category_ids]
        groups = sum(line.quantity for line in qualifying) // config.quantity
        keep = [i for i in range(len(targets)) if worth[i] > 0]
        saving = sum(worth, ZERO) - config.price * groups
        if not keep or saving <= 0:
            return ZERO, False
        targets, weights, lefts = [targets[i] for i in keep], [worth[i] for i in keep], [lefts[i] for i in keep]
        wanted = saving.quantize(cent, ROUND_HALF_UP)
    elif isinstance(config, kinds.SpendTiers):
        spent = sum((line.subtotal for line in targets), ZERO)
        reached = [tier for tier in config.tiers if tier.min_subtotal <= spent]
        if not reached:
            return ZERO, False
        top = max(reached, key=lambda tier: tier.min_subtotal)
        weights = lefts
        if top.amount is not None:
            wanted = min(top.amount.quantize(cent, ROUND_HALF_UP), left)
        else:
            assert top.percent is not None
            wanted = (left * top.percent / 100).quantize(cent, ROUND_HALF_UP)
    elif isinstance(config, BuyXGetY):
        free = _free_units(config, targets, lefts)
        weights = [
            (lefts[i] / targets[i].quantity) * free[i] * config.get.percent_off / 100 for i in range(len(targets))
        ]
        keep = [i for i in range(len(targets)) if free[i]]
        targets, weights, lefts = [targets[i] for i in keep], [weights[i] for i in keep], [lefts[i] for i in keep]
        wanted = sum(weights, ZERO).quantize(cent, ROUND_HALF_UP)
    else:
        weights = lefts
        if isinstance(config, PercentOff):
            wanted = (left * config.percent / 100).quantize(cent, ROUND_HALF_UP)
            if config.max_discount is not None:
                wanted = min(wanted, config.max_discount.quantize(cent, ROUND_HALF_UP))
        else:
            assert isinstance(config, AmountOff)
            wanted = min(config.amount.quantize(cent, ROUND_HALF_UP), left)
    platform = promotion.funded_by == "platform"
    if promotion.on_reduced_lines == "best_of":  # docs/promotions.md: never both reductions on a line
        weights, wanted = best_of(wanted, targets, lefts, weights, cent)  # type: ignore[assignment]
    amount = min(wanted, cap_left)
    if amount <= 0:
        given = ZERO
    elif config.distribution == "even" and promotion.on_reduced_lines != "best_of":
        given = _even(amount, targets, cent, platform=platform)
    else:
        given = give(amount, targets, weights, cent, platform=platform)
    # docs/promotions.md: a percent or an amount off has something to discount when the basket holds a line
    # it takes (reduced ones too: it is then left nothing); a group or a tier, when its lines make one.
    grouped = isinstance(config, kinds.FixedPriceBundle | kinds.SpendTiers | BuyXGetY)
    return given, bool(targets) if grouped else bool(taken)


def _copies(lines: Sequence[Line]) -> list[Line]:
    return [copy.copy(line) for line in lines]


class Run:
    """Promotions applied in order to copies of the lines."""

    def __init__(self, order: Sequence[Promotion], lines: Sequence[Line]) -> None:
        self.order = list(order)
        self.copies = _copies(lines)
        self.worth = ZERO
        self.amounts: list[Decimal] = []
        self.nothing: list[str] = []
        """Per promotion: why it got nothing ("" when it gave something)."""
        self.free: Promotion | None = None
        self.refuses_coupons = False


def _run(order: Sequence[Promotion], lines: Sequence[Line], cap: Decimal, cent: Decimal, fee: Fee) -> Run:
    """Apply promotions in order to copies of the lines."""
    run = Run(order, lines)
    cap_left = cap
    for promotion in order:
        if isinstance(promotion.config, FreeDelivery):
            waived = delivery_part(promotion.config, fee(), cent) if run.free is None else ZERO
            why = "" if run.free is None else f"the delivery fee is already waived by {run.free.name}"
            if waived > 0:
                run.free = promotion
        else:
            waived, _ = _goods(promotion, run.copies, cap_left, cent)
            cap_left -= waived
            why = ""
            if waived <= 0:
                mine = [line for line in run.copies if _takes(line, promotion)]
                if cap_left <= 0:
                    why = f"the discounts before it reached the maximum discount ({cap:f})"
                elif all(line.subtotal - line.discount <= line.floor for line in mine):
                    why = "its lines are at their min_price"
                elif promotion.on_reduced_lines == "skip" and all(is_reduced(line) for line in mine):
                    why = "its lines are already reduced below their own price (on_reduced_lines: skip)"
                elif promotion.on_reduced_lines == "best_of" and all(is_reduced(line) for line in mine):
                    why = (
                        "its lines' reduced prices are lower than their own prices less it (on_reduced_lines: best_of)"
                    )
                else:
                    why = "it takes nothing off what is left of its lines"
        if waived > 0 and not promotion.combines_with_coupons:
            run.refuses_coupons = True
        run.amounts.append(waived)
        run.nothing.append(why)
        run.worth += waived
    return run


def _sentence(loser: Run, paid: Decimal, winner: Run, won: tuple[Decimal, bool]) -> str:
    """docs/promotions.md: why the deal `loser` (the customer would pay `paid`) lost to `winner`."""
    names = " + ".join(p.name for p, amount in zip(winner.order, winner.amounts, strict=True) if amount > 0)
    coupons_lost = loser.refuses_coupons and won[1]
    if coupons_lost:
        names = names + " with your coupons" if names else "your coupons"
    if not names:
        names = "no promotion"
    if paid == won[0]:
        text = f"as good as {names}, which goes first"
    else:
        text = f"beaten by {names}: {paid - won[0]:f} less to pay"
    if coupons_lost:
        text = "your coupons do not apply with it; " + text
    return text


def _best_deal(
    eligible: list[Promotion], lines: list[Line], cap: Decimal, cent: Decimal, fee: Fee, pays: Pays
) -> tuple[Run, list[tuple[Promotion, str, str]]]:
    """The deals: the stack, then each non-combinable promotion alone that gives something; the
    customer's lowest total wins (the first of equals). The promotions it leaves out, with why."""
    beaten: list[tuple[Promotion, str, str]] = []
    deals = [_run([p for p in eligible if p.combinable], lines, cap, cent, fee)]
    for promotion in eligible:
        if not promotion.combinable:
            alone = _run([promotion], lines, cap, cent, fee)
            if alone.worth > 0:
                deals.append(alone)
            else:
                beaten.append((promotion, "NOTHING_LEFT", alone.nothing[0]))
    best = deals[0]
    if len(deals) > 1:  # the customer's total with each deal; the first lowest wins
        totals = [
            pays(_copies(deal.copies), deal.refuses_coupons, None if deal.free is None else deal.free.config)  # type: ignore[arg-type]
            for deal in deals
        ]
        lowest = min(total for total, _ in totals)
        winner = next(i for i, (total, _) in enumerate(totals) if total == lowest)
        best = deals[winner]
        for i, deal in enumerate(deals):
            if i != winner:
                why = _sentence(deal, totals[i][0], best, totals[winner])
                beaten += [(p, "BETTER_DEAL", why) for p in deal.order]
    return best, beaten


def apply_promotions(
    promotions: Sequence[Promotion],
    lines: list[Line],
    *,
    currency: str,
    segment: str | None,
    group: str | None,
    channel: str | None,
    subtotal: Decimal,
    cap_percent: Decimal,
    cent: Decimal,
    fee: Fee,
    pays: Pays,
    now: datetime,
    gifts: Mapping[str, kinds.GiftStock] | None = None,
    uses: Mapping[UUID, int] | None = None,
) -> Chosen:
    """Step 5a: choose the promotions and put their discounts on `lines`."""
    chosen = Chosen()
    cap = (subtotal * cap_percent / 100).quantize(cent, ROUND_FLOOR)
    order = sorted(promotions, key=lambda p: (-p.priority, p.id.int))
    eligible: list[Promotion] = []
    for promotion in order:
        if not _in_force(promotion, now) or not _conditions_met(promotion, lines, currency, segment, group, channel):
            continue
        if isinstance(promotion.config, FreeDelivery):
            something = fee() > 0
        elif isinstance(promotion.config, kinds.Gift):
            something = promotion.config.min_subtotal is None or subtotal >= promotion.config.min_subtotal
        else:
            something = _goods(promotion, _copies(lines), cap, cent)[1]
        if not something:
            continue
        if promotion.usage_limit is not None and promotion.times_used >= promotion.usage_limit:
            why = f"used up: its limit of {promotion.usage_limit} orders is reached"
            chosen.rejected.append((promotion, "USAGE_LIMIT", why))
        elif (
            promotion.per_customer_limit is not None
            and (uses or {}).get(promotion.id, 0) >= promotion.per_customer_limit
        ):
            why = f"used up for this customer: its limit of {promotion.per_customer_limit} orders a customer is reached"
            chosen.rejected.append((promotion, "USAGE_LIMIT", why))
        elif promotion.budget_remaining is not None and promotion.budget_remaining <= 0:
            chosen.rejected.append((promotion, "BUDGET_EXHAUSTED", "its budget is used up"))
        else:
            eligible.append(promotion)
    # A group keeps the one that alone takes the most off (a tie: the first in order).
    for name in sorted({p.group for p in eligible if p.group is not None}):
        members = [p for p in eligible if p.group == name]
        if len(members) > 1:
            worth = [_run([p], lines, cap, cent, fee).worth for p in members]
            top = max(worth)
            best_one = members[worth.index(top)]
            for p, w in zip(members, worth, strict=True):
                if p is not best_one:
                    why = f"{best_one.name} of its group {name!r} takes {top - w:f} more off"
                    chosen.rejected.append((p, "BEST_IN_GROUP", why))
                    eligible.remove(p)
    # Gifts: a line each beside the deal, when the product is active with the units in stock.
    given: list[Promotion] = []
    for p in [p for p in eligible if isinstance(p.config, kinds.Gift)]:
        eligible.remove(p)
        assert isinstance(p.config, kinds.Gift)
        stock = (gifts or {}).get(p.config.product_id)
        mine = sum(line.quantity for line in lines if line.product_id == p.config.product_id)
        mine += sum(
            g.config.quantity
            for g in given
            if isinstance(g.config, kinds.Gift) and g.config.product_id == p.config.product_id
        )
        if stock is None or not stock.is_active:
            chosen.rejected.append((p, "GIFT_UNAVAILABLE", "its gift is not an active product"))
        elif stock.stock < mine + p.config.quantity:
            chosen.rejected.append(
                (p, "GIFT_UNAVAILABLE", f"its gift is out of stock ({max(stock.stock - mine, 0)} left)")
            )
        else:
            given.append(p)
    while True:
        best, beaten = _best_deal(eligible, lines, cap, cent, fee, pays)
        over = [
            (p, amount)
            for p, amount in zip(best.order, best.amounts, strict=True)
            if p.budget_remaining is not None and amount > p.budget_remaining
        ]
        if not over:
            break
        for p, amount in over:
            why = f"its budget has {p.budget_remaining:f} left, less than the {amount:f} it would give"
            chosen.rejected.append((p, "BUDGET_EXHAUSTED", why))
            eligible.remove(p)
    chosen.rejected += beaten
    for promotion, amount, why in zip(best.order, best.amounts, best.nothing, strict=True):
        if amount > 0:
            shown = ZERO if isinstance(promotion.config, FreeDelivery) else amount
            chosen.applied.append((promotion, shown))
            chosen.blocks_coupons |= not promotion.combines_with_coupons
        else:
            chosen.rejected.append((promotion, "NOTHING_LEFT", why))
    chosen.applied += [(p, ZERO.quantize(cent)) for p in given]
    chosen.gifts = given
    chosen.rejected.sort(key=lambda entry: order.index(entry[0]))
    chosen.free_delivery = best.free
    for line, done in zip(lines, best.copies, strict=True):
        chosen.discount += done.discount - line.discount
        line.discount = done.discount
        line.funded = done.funded
    return chosen
