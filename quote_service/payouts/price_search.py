"""The smallest price that pays a seller a target payout (docs/commission.md#payout-preview). Pure: no I/O, no
clock.

`smallest_price` finds the smallest price, in whole minor units, whose payout reaches a target. Rounding
makes the payout a step function of the price that may dip by a few minor units (two amounts rounding up at
once), and a threshold (free delivery above an amount, a promotion's minimum) may drop it at once. So the
search is over the real pricing, never an inverted formula: the prices are cut into regimes (intervals over
which the things that may drop the payout, its `regime` key, stay the same: found by bisection, as each
changes once as the price rises), and within each regime, lowest first, it bisects for a price that reaches
the target, then walks down while the payout stays within `slack` of the target: within a regime the payout
never falls by more than `slack` as the price rises, so below a payout under target - slack none reaches it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import NamedTuple

MAX_REGIMES = 16
"""Regimes looked at before giving up (a few thresholds apply to one line)."""
MAX_WALK = 400
"""Prices walked down below a bisection's answer, at most."""


class Priced(NamedTuple):
    """The payout at one price, and the key of its regime (what may drop the payout when it changes)."""

    payout: Decimal
    regime: Hashable


def smallest_price(
    payout_at: Callable[[int], Priced | None], target: Decimal, *, low: int, high: int, slack: Decimal
) -> int | None:
    """The smallest price in [low, high] (minor units) whose payout is at least `target`, or None when no
    price there reaches it. `payout_at` answers None for a price that cannot be quoted (beyond the money
    ceiling); `slack`: the most the payout may fall as the price rises within one regime (module docstring)."""
    known: dict[int, Priced | None] = {}

    def at(price: int) -> Priced | None:
        if price not in known:
            known[price] = payout_at(price)
        return known[price]

    top = _quoted_top(at, target, low, high)
    if top is None:
        return None
    start = low
    for _ in range(MAX_REGIMES):
        end = _regime_end(at, start, top)
        found = _in_regime(at, target, start, end, slack)
        if found is not None or end >= top:
            return found if found is not None else _first_cents(at, target, low, top)
        start = end + 1
    return _first_cents(at, target, low, top)


def _first_cents(at: Callable[[int], Priced | None], target: Decimal, low: int, top: int) -> int | None:
    """Where the payout falls as the price rises (commissions of 100 % or more of the gross), only rounding
    can reach a target, at the smallest prices: the first MAX_WALK of them, one by one."""
    for price in range(low, min(top, low + MAX_WALK) + 1):
        if _payout(at, price) >= target:
            return price
    return None


def _quoted_top(at: Callable[[int], Priced | None], target: Decimal, low: int, high: int) -> int | None:
    """Where the search stops: the first of low, 2 low, 4 low, ... (up to `high`) whose payout reaches `target`
    (no smaller price needs it), else the highest price that can be quoted; None when `low` cannot be."""
    price, last = low, None
    while True:
        priced = at(price)
        if priced is None:
            break
        last = price
        if priced.payout >= target or price >= high:
            return price
        price = min(max(price * 2, price + 1), high)
    if last is None:
        return None
    while price - last > 1:  # the quoted prices end between them
        middle = (last + price) // 2
        if at(middle) is None:
            price = middle
        else:
            last = middle
    return last


def _regime_end(at: Callable[[int], Priced | None], start: int, top: int) -> int:
    """The last price of the regime `start` is in (at most `top`)."""
    regime = _regime(at, start)
    if _regime(at, top) == regime:
        return top
    inside, outside = start, top  # the regime changes once between them
    while outside - inside > 1:
        middle = (inside + outside) // 2
        if _regime(at, middle) == regime:
            inside = middle
        else:
            outside = middle
    return inside


def _in_regime(at: Callable[[int], Priced | None], target: Decimal, start: int, end: int, slack: Decimal) -> int | None:
    """The smallest price of [start, end] (one regime) whose payout reaches `target`, or None."""
    if _payout(at, end) >= target:
        if _payout(at, start) >= target:
            return start
        below, reached = start, end  # below the target, at or above it
        while reached - below > 1:
            middle = (below + reached) // 2
            if _payout(at, middle) >= target:
                reached = middle
            else:
                below = middle
        found: int | None = reached
        walk_from = reached - 1
    elif _payout(at, end) >= target - slack:
        found, walk_from = None, end
    else:
        return None
    # A dip of rounding may hide a smaller price that reaches the target: walk down while it is within reach.
    price = walk_from
    for _ in range(MAX_WALK):
        if price < start:
            break
        payout = _payout(at, price)
        if payout < target - slack:
            break
        if payout >= target:
            found = price
        price -= 1
    return found


def _regime(at: Callable[[int], Priced | None], price: int) -> Hashable:
    priced = at(price)
    assert priced is not None  # every price below a quoted one is quoted
    return priced.regime


def _payout(at: Callable[[int], Priced | None], price: int) -> Decimal:
    priced = at(price)
    assert priced is not None
    return priced.payout
