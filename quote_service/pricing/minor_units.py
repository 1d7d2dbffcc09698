"""A big basket's promotion deals in minor units: integers, not Decimals (docs/hot-path.md#where-a-line-goes).

A promotion's goods discount is spread over its lines one share a line (`discounts.spread`), and a
1,000-line basket under 100 promotions makes ~27,000 of those a quote, ten Decimal operations each.
Every amount a deal's lines hold is on the currency's grid (a subtotal and a floor are rounded to it,
every share is), so it is an integer number of minor units (cents), and integer arithmetic gives
the same shares exactly: a share `amount x left / total` rounded half up is `(2 x amount x left +
total) // (2 x total)`, and whether it passes the line's room is one integer comparison.

The same, not merely close: `spread` computes each share with Decimal's 28 significant digits, so it
is exact whenever a share is not within 28 digits of a half cent or of its line's room. An exact
share on such a boundary is representable and Decimal computes it exactly; one off it is at least
1 / (2 x total) minor units away, which Decimal's error (< share x 5e-27, and < 3e-13 minor units for
the running sum of up to 5,000 shares) cannot cross while `total` stays under `TOTAL_LIMIT`. What it
can cross is a sum *exactly* on a half cent (possible only when some share is clipped at its floor):
there the Decimal shares' own rounding decides, so `spread_minor` answers None and the caller
spreads that promotion with Decimals, as before. So does a remainder the last line cannot take.

A deal's price adds the tax of its lines (`QuoteInputs.pays`); `tax_minor` gives a net line's tax,
`net x fraction` rounded half up, the same way: exact while the Decimal product fits 28 digits
(`NET_LIMIT`), else None and `settle.line_tax`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

TOTAL_LIMIT: Final = 10**11
"""Above this many minor units of goods left under one promotion (a billion in a 2-decimal
currency), its spread goes the Decimal way: the bound the module docstring's argument needs."""

_PLACES: dict[Decimal, int | None] = {}


def places_of(cent: Decimal) -> int | None:
    """The number of decimals of a currency's grid (`cent` = 10 ** -places), or None for a grid that
    is not a power of ten (no minor units then: the Decimal way)."""
    found = _PLACES.get(cent, -1)
    if found == -1:
        sign, digits, exponent = cent.as_tuple()
        found = -exponent if sign == 0 and digits == (1,) and isinstance(exponent, int) and exponent <= 0 else None
        _PLACES[cent] = found
    return found


def to_minor(amount: Decimal, places: int) -> int | None:
    """`amount` in minor units, or None when it is not on the grid of `places` decimals."""
    scaled = amount.scaleb(places)
    whole = int(scaled)
    return whole if whole == scaled else None


def from_minor(amount: int, places: int) -> Decimal:
    """Minor units as the Decimal the Decimal way writes them: `places` decimals (12.30, 0.00)."""
    return Decimal(amount).scaleb(-places)


_FRACTIONS: dict[Decimal, tuple[int, int] | None] = {}
UNSEEN: Final = (0, 0)
"""A memo's "not looked up yet" (its answers may be None)."""

NET_LIMIT: Final = 10**15
"""A line's net under this many minor units (15 digits) times a tax fraction of at most 12 digits is
within Decimal's 28: its product is exact, so rounding it here is rounding it there."""


def fraction_parts(fraction: Decimal) -> tuple[int, int] | None:
    """A tax fraction as (numerator, denominator), a power of ten; None past 12 digits (`NET_LIMIT`)."""
    found = _FRACTIONS.get(fraction, UNSEEN)
    if found is UNSEEN:
        sign, digits, exponent = fraction.as_tuple()
        if sign or not isinstance(exponent, int) or len(digits) > 12:
            found = None
        else:
            whole = int("".join(map(str, digits)))
            found = (whole * 10**exponent, 1) if exponent >= 0 else (whole, 10**-exponent)
        _FRACTIONS[fraction] = found
    return found


def tax_minor(net: int, parts: tuple[int, int] | None) -> int | None:
    """`settle.line_tax` of a line that adds its tax, its net `net` minor units, at the fraction whose
    `fraction_parts` are `parts`: `net x fraction` rounded half up, in minor units; None when Decimal's
    product might round first (a fraction of more than 12 digits, a net of 15 or a negative one): the
    Decimal way then."""
    if parts is None or not 0 <= net < NET_LIMIT:
        return None
    numerator, denominator = parts
    return (2 * net * numerator + denominator) // (2 * denominator)


def tax_terms(subtotal: int, tax: int, inclusive: bool, fraction: Decimal) -> tuple[int, int, int]:
    """A line's `tax_minor` as three integers, so that a deal's tax is summed in C (`DealMinor.sums`):
    (twice the tax fraction's numerator `n2`, twice its denominator `d2`, `start`) such that the line
    discounted by `off` minor units adds `(start - n2 x off) // d2` to its tax as it is (`tax`, given
    for its `subtotal`): `tax_minor(subtotal - off)` - `tax`, since `tax x d2` is a multiple of `d2`.
    A tax-inclusive line adds none: (0, 2, 1). (0, 0, 0): the Decimal way (a fraction past 12 digits,
    a subtotal past `NET_LIMIT`, or a tax that is not the subtotal's)."""
    if inclusive:
        return 0, 2, 1
    parts = fraction_parts(fraction)
    if parts is None or not 0 <= subtotal < NET_LIMIT:
        return 0, 0, 0
    numerator, denominator = parts
    twice_numerator, twice_denominator = 2 * numerator, 2 * denominator
    start = twice_numerator * subtotal + denominator - tax * twice_denominator
    return (twice_numerator, twice_denominator, start) if start // twice_denominator == 0 else (0, 0, 0)


def spread_minor(
    amount: int, positions: Sequence[int], lefts: Sequence[int], total: int, floors: Sequence[int], floored: bool
) -> tuple[int, list[int]] | None:
    """`discounts.spread` in minor units: (what is given, each position's share), the shares not yet
    added; None where the Decimal way must decide (the module docstring). `lefts[k]` is what is left
    of the line at `positions[k]`, `total` their sum (> 0), `floors` every line's floor by position,
    `floored`: some line has a floor above 0. The weights are what is left (a weighted spread,
    BUY_X_GET_Y's, goes the Decimal way)."""
    if total >= TOTAL_LIMIT or min(lefts) < 0:
        return None
    twice_total = 2 * total
    twice_amount = 2 * amount
    # Every share as if none reached its line's room, rounded half up (one comprehension, no call)...
    shares = [(twice_amount * left + total) // twice_total for left in lefts]
    if amount < total:
        # ...which holds for every line but those with a floor or with nothing left: with the amount
        # under the total, a line's share is under what is left of it. Those few are looked at one by one.
        clipped = [k for k, position in enumerate(positions) if floors[position]] if floored else []
        if 0 in lefts:
            clipped += [k for k, left in enumerate(lefts) if not left]
        given = amount * total  # what is given x total (exact)
        last = len(shares) - 1  # the last share not clipped at its line's room: it takes the remainder
        if clipped:
            cut = set()
            for k in clipped:
                left = lefts[k]
                room = left - floors[positions[k]]
                if room < 0:
                    room = 0
                exact = amount * left
                if exact >= room * total:
                    given += room * total - exact
                    shares[k] = room
                    cut.add(k)
            while last >= 0 and last in cut:
                last -= 1
    else:  # the amount takes all that is left: shares may meet their rooms anywhere, each is looked at
        given = 0
        last = -1
        for k, position in enumerate(positions):
            left = lefts[k]
            room = left - floors[position]
            if room < 0:
                room = 0
            exact = amount * left
            if exact < room * total:
                last = k
                given += exact
            else:
                given += room * total
                shares[k] = room
    if 2 * given % twice_total == total:  # exactly on a half cent: the Decimal shares' rounding decides
        return None
    given = (2 * given + total) // twice_total
    if last >= 0:
        rest = given - sum(shares) + shares[last]
        left = lefts[last]
        room = left - floors[positions[last]]
        if room < 0:
            room = 0
        taken = rest if rest < room else room
        if taken < 0:
            taken = 0
        if taken != rest:  # rare: the remainder does not fit the last line (`discounts._settle`)
            return None
        shares[last] = taken
    return given, shares
