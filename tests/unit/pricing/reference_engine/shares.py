"""Splitting a discount over lines, as docs/pricing.md ("Coupons", "Quote engine: choices in detail")
and docs/promotions.md describe it, in exact fractions.

The page's rule: each line's share is in proportion to its weight (what is left of it, for a coupon),
never more than its room above its `min_price` floor (a share that reaches the room stays there, and
the discount is that much smaller: no other line takes it); the discount given is the sum of the
shares, rounded half up once; every share is rounded half up except the last line's that is not at
its room, which takes what makes the shares add up to the discount given; and when that line has no
room for it, the other lines take it from the last back.

Fractions, not Decimals: the production engine divides in 28-digit decimals, so this arithmetic
cannot share a mistake in how that division is ordered or rounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from tests.unit.pricing.reference_engine.money import ZERO

_HALF = Fraction(1, 2)


def half_up(exact: Fraction, cent: Decimal) -> Decimal:
    """`exact` to the nearest multiple of `cent`, a tie away from zero (ROUND_HALF_UP)."""
    steps = exact / Fraction(cent)
    whole = math.floor(abs(steps) + _HALF)
    return Decimal(whole if steps >= 0 else -whole) * cent


def floor_to(exact: Fraction, cent: Decimal) -> Decimal:
    """`exact` down to a multiple of `cent` (a cap is never rounded above itself)."""
    return Decimal(math.floor(exact / Fraction(cent))) * cent


def split(
    amount: Decimal, weights: Sequence[Decimal], rooms: Sequence[Decimal], cent: Decimal
) -> tuple[list[Decimal], Decimal]:
    """(each line's share, the discount given) of `amount` over lines of these weights and rooms."""
    whole = sum((Fraction(weight) for weight in weights), Fraction(0))
    if whole <= 0:
        return [ZERO] * len(weights), ZERO
    wished = [Fraction(amount) * Fraction(weight) / whole for weight in weights]
    below_room = [wish < room for wish, room in zip(wished, rooms, strict=True)]
    kept = [wish if below else Fraction(room) for wish, room, below in zip(wished, rooms, below_room, strict=True)]
    given = half_up(sum(kept, Fraction(0)), cent)
    if not any(below_room):  # every line at its floor: the shares are the rooms, already on the grid
        return list(rooms), given
    shares = [half_up(share, cent) for share in kept]
    taker = max(i for i, below in enumerate(below_room) if below)
    owed = given - (sum(shares, ZERO) - shares[taker])
    shares[taker] = min(max(owed, ZERO), rooms[taker])
    _hand_back(owed - shares[taker], shares, rooms, taker)
    return shares, given


def _hand_back(excess: Decimal, shares: list[Decimal], rooms: Sequence[Decimal], taker: int) -> None:
    """What the taker could not hold (more than its room, or less than nothing) moves onto the other
    lines from the last back, each within its room and never below zero."""
    for i in range(len(shares) - 1, -1, -1):
        if not excess:
            return
        if i != taker:
            step = min(excess, rooms[i] - shares[i]) if excess > 0 else max(excess, -shares[i])
            shares[i] += step
            excess -= step
