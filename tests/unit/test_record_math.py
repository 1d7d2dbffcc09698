"""An order line's discount split by source (orders/record_math.py): examples and a property.

Whatever the lines' discounts and the sources' totals (equal in sum, as in an engine-made quote):
every line's shares add up to its discount, every source's shares to its total, none is negative,
and the split is the same every time.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from quote_service.orders.record_math import split_discounts

CENT = Decimal("0.01")
D = Decimal


def test_two_sources_over_two_lines_split_in_proportion() -> None:
    # 6.00 of promotion and 4.00 of coupon over lines taking 7.00 and 3.00
    assert split_discounts([D("7.00"), D("3.00")], [D("6.00"), D("4.00")], CENT) == [
        [D("4.20"), D("2.80")],
        [D("1.80"), D("1.20")],
    ]


def test_a_rounding_tie_is_settled_so_rows_and_columns_stay_exact() -> None:
    rows = split_discounts([D("0.01"), D("0.01"), D("0.01")], [D("0.02"), D("0.01")], CENT)
    assert [sum(row, D(0)) for row in rows] == [D("0.01")] * 3
    assert [sum(column, D(0)) for column in zip(*rows, strict=True)] == [D("0.02"), D("0.01")]


def test_lines_without_discount_and_baskets_without_sources_get_zeros() -> None:
    assert split_discounts([D("0.00"), D("5.00")], [D("5.00")], CENT) == [[D("0.00")], [D("5.00")]]
    assert split_discounts([D("1.00")], [], CENT) == [[]]


def test_a_shortfall_in_the_sources_still_leaves_each_line_exact() -> None:
    rows = split_discounts([D("3.00"), D("3.00")], [D("1.00"), D("1.00")], CENT)
    assert [sum(row, D(0)) for row in rows] == [D("3.00"), D("3.00")]
    assert all(share >= 0 for row in rows for share in row)


cents = st.integers(min_value=0, max_value=100_000)


@given(lines=st.lists(cents, min_size=1, max_size=8), weights=st.lists(cents, min_size=1, max_size=4))
def test_rows_and_columns_add_up_exactly(lines: list[int], weights: list[int]) -> None:
    total = sum(lines)
    weight_total = sum(weights)
    if weight_total == 0:
        weights = [1, *weights[1:]]
        weight_total = sum(weights)
    # Source totals that add up to the lines' total, on the cent grid.
    sources = [total * w // weight_total for w in weights]
    sources[-1] += total - sum(sources)
    line_amounts = [D(n) * CENT for n in lines]
    source_amounts = [D(n) * CENT for n in sources]

    rows = split_discounts(line_amounts, source_amounts, CENT)

    assert rows == split_discounts(line_amounts, source_amounts, CENT)
    assert [sum(row, D(0)) for row in rows] == line_amounts
    assert [sum(column, D(0)) for column in zip(*rows, strict=True)] == source_amounts
    assert all(share >= 0 and share == share.quantize(CENT) for row in rows for share in row)
