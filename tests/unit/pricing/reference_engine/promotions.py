"""Automatic promotions, written again from docs/promotions.md (the reference engine's step 5a).

Shares only the types (`Promotion` and its config Structs) with the production code. Straight
from the page: a promotion in force whose conditions the basket meets and that has something to
discount is eligible; combinable ones stack by priority (then id), each on what is left; the stack
and each non-combinable promotion alone are priced to the end of the quote (`Pays`, the engine's
rest written again) and the customer's lowest total wins (ties: the stack, then higher in that
order); discounts are spread like a coupon's within the one cap and the min_price floors; buy X
get Y is worked out here unit by unit, every unit listed. Every promotion left out carries the
page's sentence for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from quote_service.pricing.promotions import AmountOff, BuyXGetY, FreeDelivery, PercentOff, Promotion
from tests.unit.pricing.reference_engine.lines import Line
from tests.unit.pricing.reference_engine.money import ZERO

Fee = Callable[[], Decimal]
Pays = Callable[[list[Line], bool, bool], tuple[Decimal, bool]]
"""(lines with a deal's discounts, coupons refused, delivery waived) -> (total_amount, coupons saved something)."""


class Chosen:
    """What the promotions gave: applied (promotion, amount), rejected (promotion, reason), the free delivery."""

    def __init__(self) -> None:
        self.applied: list[tuple[Promotion, Decimal]] = []
        self.rejected: list[tuple[Promotion, str, str]] = []
        self.free_delivery: Promotion | None = None
        self.discount = ZERO
        self.blocks_coupons = False


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
        not isinstance(promotion.config, AmountOff) or promotion.config.currency == currency,
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


def _free_units(config: BuyXGetY, lines: Sequence[Line]) -> list[int]:
    """Units discounted per line: every unit listed, the most complete groups, the cheapest `get` units."""

    def qualifies(line: Line, ids: frozenset[str], categories: frozenset[str]) -> bool:
        return line.product_id in ids or line.category_id in categories

    in_get = [qualifies(line, config.get.product_ids, config.get.category_ids) for line in lines]
    in_buy = [qualifies(line, config.buy.product_ids, config.buy.category_ids) for line in lines]
    gets = sorted(
        ((line.subtotal - line.discount) / line.quantity, index)
        for index, line in enumerate(lines)
        if in_get[index]
        for _ in range(line.quantity)
    )  # every get unit, cheapest first (ties: the earlier line)
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


def _spread(
    amount: Decimal, lines: list[Line], weights: list[Decimal], cent: Decimal, platform: bool = False
) -> Decimal:
    """Like a coupon's spread (docs/pricing.md), each line's share in proportion to its weight."""
    total = sum(weights, ZERO)
    if total <= 0:
        return ZERO
    shares, rooms = [], []
    last = -1
    for position, (line, weight) in enumerate(zip(lines, weights, strict=True)):
        room = max(line.subtotal - line.discount - line.floor, ZERO)
        share = amount * weight / total
        if share < room:
            last = position
        else:
            share = room
        shares.append(share)
        rooms.append(room)
    given = sum(shares, ZERO).quantize(cent, ROUND_HALF_UP)
    if last >= 0:
        shares = [share.quantize(cent, ROUND_HALF_UP) for share in shares]
        rest = given - sum(shares, ZERO) + shares[last]
        shares[last] = min(max(rest, ZERO), rooms[last])
        excess = rest - shares[last]
        for i in reversed(range(len(shares))):
            if excess == 0 or i == last:
                continue
            moved = min(excess, rooms[i] - shares[i]) if excess > 0 else -min(-excess, shares[i])
            shares[i] += moved
            excess -= moved
    for line, share in zip(lines, shares, strict=True):
        line.discount += share
        if platform:
            line.funded += share
    return given


def _goods(promotion: Promotion, lines: list[Line], cap_left: Decimal, cent: Decimal) -> tuple[Decimal, bool]:
    """Apply one goods promotion to `lines`; (amount given, whether it had something to discount)."""
    config = promotion.config
    targets = [line for line in lines if _takes(line, promotion)]
    lefts = [line.subtotal - line.discount for line in targets]
    left = sum(lefts, ZERO)
    if isinstance(config, BuyXGetY):
        free = _free_units(config, targets)
        weights = [
            (lefts[i] / targets[i].quantity) * free[i] * config.get.percent_off / 100 for i in range(len(targets))
        ]
        keep = [i for i in range(len(targets)) if free[i]]
        targets, weights = [targets[i] for i in keep], [weights[i] for i in keep]
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
    amount = min(wanted, cap_left)
    platform = promotion.funded_by == "platform"
    given = _spread(amount, targets, weights, cent, platform) if amount > 0 else ZERO
    return given, bool(targets)


def _copies(lines: Sequence[Line]) -> list[Line]:
    copies = []
    for line in lines:
        copy = object.__new__(Line)
        for name in Line.__slots__:
            if hasattr(line, name):
                setattr(copy, name, getattr(line, name))
        copies.append(copy)
    return copies


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
            waived = fee() if run.free is None else ZERO
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
        else:
            something = _goods(promotion, _copies(lines), cap, cent)[1]
        if not something:
            continue
        if promotion.usage_limit is not None and promotion.times_used >= promotion.usage_limit:
            why = f"used up: its limit of {promotion.usage_limit} orders is reached"
            chosen.rejected.append((promotion, "USAGE_LIMIT", why))
        else:
            eligible.append(promotion)
    # The deals: the stack, then each non-combinable promotion alone that gives something.
    deals = [_run([p for p in eligible if p.combinable], lines, cap, cent, fee)]
    for promotion in eligible:
        if not promotion.combinable:
            alone = _run([promotion], lines, cap, cent, fee)
            if alone.worth > 0:
                deals.append(alone)
            else:
                chosen.rejected.append((promotion, "NOTHING_LEFT", alone.nothing[0]))
    best = deals[0]
    if len(deals) > 1:  # the customer's total with each deal; the first lowest wins
        totals = [pays(_copies(deal.copies), deal.refuses_coupons, deal.free is not None) for deal in deals]
        lowest = min(total for total, _ in totals)
        winner = next(i for i, (total, _) in enumerate(totals) if total == lowest)
        best = deals[winner]
        for i, deal in enumerate(deals):
            if i != winner:
                why = _sentence(deal, totals[i][0], best, totals[winner])
                chosen.rejected += [(p, "BETTER_DEAL", why) for p in deal.order]
    for promotion, amount, why in zip(best.order, best.amounts, best.nothing, strict=True):
        if amount > 0:
            shown = ZERO if isinstance(promotion.config, FreeDelivery) else amount
            chosen.applied.append((promotion, shown))
            chosen.blocks_coupons |= not promotion.combines_with_coupons
        else:
            chosen.rejected.append((promotion, "NOTHING_LEFT", why))
    chosen.rejected.sort(key=lambda entry: order.index(entry[0]))
    chosen.free_delivery = best.free
    for line, done in zip(lines, best.copies, strict=True):
        chosen.discount += done.discount - line.discount
        line.discount = done.discount
        line.funded = done.funded
    return chosen
