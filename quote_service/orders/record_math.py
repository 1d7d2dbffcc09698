"""The order's priced record, the pure part: each line's discount split by source
(docs/orders-and-refunds.md#the-priced-record). No I/O. (Each line's commission parts are read from the
quote's details as refunds read them: `refund_math.line_commissions`.)

The quote gives each line's discount (promotions and coupons together, exactly as the engine spread
them) and each source's total (`applied_promotions`, `applied_coupons`), not the matrix between them.
The order works it out once, deterministically: lines in order, each line's discount shared among
the sources in proportion to what each source has still to give, rounded half up to the currency's
minor unit, the rounding difference settled on the sources with the most room. Each line's shares
add up to its discount exactly; when the sources' totals equal the quote's discount (an engine-made
quote), each source's shares add up to its total exactly too, and no share is negative.

Which lines a source may discount (a coupon's categories, a promotion's conditions) is not known
here: a source limited to some lines can be shown on another discounted line of the basket. The
exact matrix needs the engine to record each source's share as it spreads it (`discounts.spread`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from quote_service.pricing.money import ZERO


def split_discounts(discounts: Sequence[Decimal], sources: Sequence[Decimal], cent: Decimal) -> list[list[Decimal]]:
    """Row i, column j: how much of line i's discount source j gave. Lines without a discount, and
    every line when there is no source, get zeros (a discount no source explains stays unsplit)."""
    left = list(sources)
    rows: list[list[Decimal]] = []
    for discount in discounts:
        row = [ZERO] * len(sources)
        # What each source has still to give; once the sources are spent (their totals fall short of the
        # lines' discounts), their totals: a line's discount stays whole either way.
        weights = left if any(part > 0 for part in left) else list(sources)
        pool = sum((part for part in weights if part > 0), ZERO)
        if discount > 0 and pool > 0:
            for j, part in enumerate(weights):
                if part > 0:
                    row[j] = (discount * part / pool).quantize(cent, ROUND_HALF_UP)
            _settle(row, left, discount - sum(row, ZERO))
            for j, share in enumerate(row):
                left[j] -= share
        rows.append(row)
    return rows


def _settle(row: list[Decimal], left: Sequence[Decimal], difference: Decimal) -> None:
    """Make `row` add up to its line's discount: a shortfall goes first to the sources with the most
    still to give, an excess comes first off the largest shares (ties: the earlier source)."""
    if difference > 0:
        order = sorted(range(len(row)), key=lambda j: (-(left[j] - row[j]), j))
        for j in order:
            moved = min(difference, max(left[j] - row[j], ZERO))
            row[j] += moved
            difference -= moved
        if difference > 0:  # the sources' totals fall short of the lines' discounts: the first one takes it
            row[order[0]] += difference
    elif difference < 0:
        for j in sorted(range(len(row)), key=lambda j: (-row[j], j)):
            moved = min(-difference, row[j])
            row[j] -= moved
            difference += moved
