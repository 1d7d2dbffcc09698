"""The order's priced record, the pure part: each line's discount split by source
(docs/orders-and-refunds.md#the-priced-record) and each commission detail's line. No I/O.

Money is kept per line, never per product id: one product id may be on several lines (two sellers
selling it, a flash split), each with its own money (docs/orders-and-refunds.md#one-product-on-several-lines).

The quote gives each line's discount (promotions and coupons together, as the engine spread them) and
each source's total (`applied_promotions`, `applied_coupons`), not the matrix between them. The order
works it out once, deterministically, by replaying the engine's order (docs/pricing.md): the sources
one after the other (promotions, then coupons), each spread over the lines it may discount in proportion
to what is left of each (`line_subtotal` - what earlier sources gave) by the one remainder rule
(`settlement.prorate`: rounded half up to the currency's minor unit, never past the line's own discount,
the rounding remainder to the last line with room). Whatever is left over (a source that found no room
where it applies, a rounding cent) then goes to the lines still short, in order. Each line's shares add up
to its discount exactly; when the sources' totals equal the quote's discount (an engine-made quote), each
source's shares add up to its total exactly too; no share is negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from quote_service.pricing.money import ZERO
from quote_service.pricing.settlement import prorate

__all__ = ["detail_lines", "line_commissions", "split_by_funder", "split_discounts"]
LINE_DIMENSIONS = ("category", "seller")
"""The commission details that are on a line (the logistics one is on the order's delivery)."""


def detail_lines(product_ids: Sequence[str], details: Iterable[tuple[str | None, str]]) -> list[int | None]:
    """The line (index into the quote's items, whose product ids are `product_ids`) each commission detail
    (product id, dimension) is on; None for the logistics detail.

    The engine writes each line's details in its lines' order: the line's category detail, then its seller
    detail when a seller rate matched it (pricing/settle.py); a gift line, last, has none. So a category
    detail starts the next line of its product and a seller detail is on the line of the category detail
    before it: a product id on two lines never lends one line's detail to the other. A detail that fits no
    line is a quote the engine did not make: ValueError, before anything is written."""
    found: list[int | None] = []
    at = -1
    for product_id, dimension in details:
        if dimension not in LINE_DIMENSIONS:
            found.append(None)
            continue
        if dimension == "category":
            at += 1
            while at < len(product_ids) and product_ids[at] != product_id:
                at += 1  # a line without details (none but gifts, which come last)
        if not 0 <= at < len(product_ids) or product_ids[at] != product_id:
            raise ValueError(f"the {dimension} commission detail of {product_id} follows no line of that product")
        found.append(at)
    return found


def line_commissions(count: int, details: Iterable[tuple[int | None, str, Decimal]]) -> list[tuple[Decimal, Decimal]]:
    """Each of `count` lines' (category, seller) commission, summed from (line, dimension, amount) details."""
    parts = [[ZERO, ZERO] for _ in range(count)]
    for line, dimension, amount in details:
        if line is not None and dimension in LINE_DIMENSIONS and 0 <= line < count:
            parts[line][LINE_DIMENSIONS.index(dimension)] += amount
    return [(category, seller) for category, seller in parts]


def split_discounts(
    discounts: Sequence[Decimal],
    subtotals: Sequence[Decimal],
    sources: Sequence[Decimal],
    applies: Sequence[Sequence[bool]],
    cent: Decimal,
) -> list[list[Decimal]]:
    """Row i, column j: how much of line i's discount source j gave. `applies[i][j]`: source j may
    discount line i. Lines without a discount get zeros, and so does every line when there is no source."""
    rows = [[ZERO] * len(sources) for _ in discounts]
    given = [ZERO] * len(discounts)
    unplaced: list[Decimal] = []
    for j, amount in enumerate(sources):
        targets = [i for i, discount in enumerate(discounts) if applies[i][j] and discount - given[i] > 0]
        lefts = [subtotals[i] - given[i] for i in targets]
        placed = ZERO
        if amount > 0 and sum(lefts, ZERO) > 0:  # settlement.prorate, each line's room its cap
            shares = prorate(amount, lefts, cent, caps=[discounts[i] - given[i] for i in targets])
            for i, share in zip(targets, shares, strict=True):
                rows[i][j] = share
                given[i] += share
                placed += share
        unplaced.append(max(amount - placed, ZERO))
    # What no line it applies to could take goes to the lines still short, in order.
    for j, left in enumerate(unplaced):
        for i, discount in enumerate(discounts):
            if left <= 0:
                break
            moved = min(left, discount - given[i])
            if moved > 0:
                rows[i][j] += moved
                given[i] += moved
                left -= moved
    # Sources that fall short of the lines' discounts (not an engine-made quote): the line's first
    # source takes the rest, so the line still adds up.
    if sources:
        for i, discount in enumerate(discounts):
            if discount > given[i]:
                j = next((j for j in range(len(sources)) if applies[i][j]), 0)
                rows[i][j] += discount - given[i]
                given[i] = discount
    return rows


def split_by_funder(
    discounts: Sequence[Decimal],
    funded: Sequence[Decimal],
    subtotals: Sequence[Decimal],
    sources: Sequence[Decimal],
    platform: Sequence[bool],
    applies: Sequence[Sequence[bool]],
    cent: Decimal,
) -> list[list[Decimal]]:
    """`split_discounts` when some sources are the platform's (`platform[j]`) and the quote gave each
    line's platform-funded part (`funded[i]`, the engine's own): the platform's sources are split over
    those parts and the seller's over the rest, each group in the engine's order, so each line's
    platform-funded shares add up to exactly what the engine left in its commission base."""
    rows = [[ZERO] * len(sources) for _ in discounts]
    for group, parts in ((True, funded), (False, [d - f for d, f in zip(discounts, funded, strict=True)])):
        columns = [j for j, is_platform in enumerate(platform) if is_platform is group]
        split = split_discounts(
            parts, subtotals, [sources[j] for j in columns], [[row[j] for j in columns] for row in applies], cent
        )
        for i, row in enumerate(split):
            for k, j in enumerate(columns):
                rows[i][j] = row[k]
    return rows
