"""A person's price move, checked like a pricing decision's: never below the floor, never a bigger
step than MAX_PRICE_CHANGE_PERCENT of the current price. Pure: the catalog checks, then moves.

A decision clamps its recommendation to these guardrails (`market.decide`: `min_price`,
`max_step`); a manual move is refused instead, so the admin sees why and decides (several
steps, or a PUT of the whole product, which these limits do not bind).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import NamedTuple

from quote_service.pricing.money import quantum, round_money

HUNDRED = Decimal(100)


def manual_move_problem(
    *, current: Decimal, new: Decimal, min_price: Decimal, max_change_percent: Decimal, currency: str
) -> str | None:
    """Why moving `current` to `new` (a finite amount > 0) is refused, or None."""
    if new < min_price:
        return f"must be at least the product's min_price {round_money(min_price, currency)}"
    if current <= 0:
        return None
    change = abs(new - current) / current * HUNDRED
    if change <= max_change_percent:
        return None
    step = current * max_change_percent / HUNDRED
    cent = quantum(currency)  # the allowed range, on the currency's grid, inside the limits
    low = max(current - step, min_price).quantize(cent, ROUND_CEILING)
    high = (current + step).quantize(cent, ROUND_FLOOR)
    return (
        f"moves the price {change.quantize(Decimal('0.01'))} %; one move may change it by at most "
        f"{max_change_percent.normalize():f} % (MAX_PRICE_CHANGE_PERCENT): from {low} to {high}"
    )


def seller_floor_problem(
    *, min_price: Decimal, cost_price: Decimal, margin_percent: Decimal, currency: str
) -> str | None:
    """Why a seller may not set `min_price` (below `cost_price` plus MIN_SELLER_MARGIN_PERCENT,
    when the product has a cost), or None."""
    if cost_price <= 0:
        return None
    floor = cost_price * (HUNDRED + margin_percent) / HUNDRED
    if min_price >= floor:
        return None
    least = floor.quantize(quantum(currency), ROUND_CEILING)
    return (
        f"must be at least {least}: cost_price {round_money(cost_price, currency)} plus "
        f"{margin_percent.normalize():f} % (MIN_SELLER_MARGIN_PERCENT)"
    )


def needs_approval(*, current: Decimal, new: Decimal, approval_percent: Decimal) -> bool:
    """Whether a seller's move of a price from `current` to `new` is larger than
    SELLER_PRICE_CHANGE_APPROVAL_PERCENT of it (an admin approves it first)."""
    if current <= 0:
        return new != current
    return abs(new - current) * HUNDRED > approval_percent * current


class PriceWrite(NamedTuple):
    """One audited write that moved a price: whether the seller itself made it (not an admin, nor
    an admin approving the seller's change request), and the price before and after it."""

    by_seller: bool
    before: Decimal | None
    after: Decimal | None


def seller_reference_prices(current: Decimal | None, writes_newest_first: Iterable[PriceWrite]) -> list[Decimal]:
    """The prices a seller's next move is measured against: `current` (None: nothing is live now, a
    new offer), and every price the seller's own writes in the window moved from or to, back to the
    newest write an admin made (its price, set or approved — or, when it left nothing live, the price
    it took away — is where the seller's moves count from again). Several small steps inside the
    window are then one move: 650 -> 838.50 -> 1081.67 is 66 % from 650, not 29 % twice."""
    prices = [] if current is None else [current]
    for write in writes_newest_first:
        if not write.by_seller:
            last = write.after if write.after is not None else write.before
            if last is not None:
                prices.append(last)
            break
        prices.extend(price for price in (write.before, write.after) if price is not None)
    return prices


def seller_move_needs_approval(*, references: Iterable[Decimal], new: Decimal, approval_percent: Decimal) -> bool:
    """Whether `new` is further than SELLER_PRICE_CHANGE_APPROVAL_PERCENT from any of the
    `references` (seller_reference_prices): the one furthest from it decides."""
    return any(needs_approval(current=price, new=new, approval_percent=approval_percent) for price in references)
