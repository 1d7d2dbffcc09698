"""An order line's discount split by source and the tax on its commission (orders/record_math.py):
examples and properties.

Whatever the lines' discounts, subtotals and the sources' totals (equal in sum, as in an engine-made
quote), and whichever lines each source may discount: every line's shares add up to its discount,
every source's shares to its total, none is negative, and the split is the same every time.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quote_service.orders.record_math import detail_lines, line_commissions, split_by_funder, split_discounts
from quote_service.pricing.settlement import commission_tax

CENT = Decimal("0.01")
D = Decimal


def everywhere(lines: int, sources: int) -> list[list[bool]]:
    return [[True] * sources for _ in range(lines)]


def test_a_promotion_then_a_coupon_replay_the_engines_spread() -> None:
    # 7 % then 15 % on 33.33 and 37.41 (the engine: 2.33 + 2.62 = 4.95, then 4.65 + 5.22 = 9.87)
    rows = split_discounts(
        [D("6.98"), D("7.84")], [D("33.33"), D("37.41")], [D("4.95"), D("9.87")], everywhere(2, 2), CENT
    )
    assert rows == [[D("2.33"), D("4.65")], [D("2.62"), D("5.22")]]


def test_a_source_limited_to_some_lines_stays_on_them() -> None:
    # A 10.00 promotion on books (line 0 only), then a 5.00 coupon on both lines in proportion to what is left.
    rows = split_discounts(
        [D("13.00"), D("2.00")],
        [D("40.00"), D("20.00")],
        [D("10.00"), D("5.00")],
        [[True, True], [False, True]],
        CENT,
    )
    assert rows == [[D("10.00"), D("3.00")], [D("0.00"), D("2.00")]]


def test_a_rounding_tie_is_settled_so_rows_and_columns_stay_exact() -> None:
    rows = split_discounts([D("0.01")] * 3, [D("1.00")] * 3, [D("0.02"), D("0.01")], everywhere(3, 2), CENT)
    assert [sum(row, D(0)) for row in rows] == [D("0.01")] * 3
    assert [sum(column, D(0)) for column in zip(*rows, strict=True)] == [D("0.02"), D("0.01")]


def test_lines_without_discount_and_baskets_without_sources_get_zeros() -> None:
    assert split_discounts([D("0.00"), D("5.00")], [D(9), D(9)], [D("5.00")], everywhere(2, 1), CENT) == [
        [D("0.00")],
        [D("5.00")],
    ]
    assert split_discounts([D("1.00")], [D(9)], [], [[]], CENT) == [[]]


def test_a_shortfall_in_the_sources_still_leaves_each_line_exact() -> None:
    rows = split_discounts([D("3.00"), D("3.00")], [D(9), D(9)], [D("1.00"), D("1.00")], everywhere(2, 2), CENT)
    assert [sum(row, D(0)) for row in rows] == [D("3.00"), D("3.00")]
    assert all(share >= 0 for row in rows for share in row)


cents = st.integers(min_value=0, max_value=100_000)


@given(
    lines=st.lists(st.tuples(cents, cents), min_size=1, max_size=8),
    weights=st.lists(cents, min_size=1, max_size=4),
    mask=st.lists(st.booleans(), min_size=32, max_size=32),
)
def test_rows_and_columns_add_up_exactly(lines: list[tuple[int, int]], weights: list[int], mask: list[bool]) -> None:
    discounts = [D(off) * CENT for off, _ in lines]
    subtotals = [D(off + more) * CENT for off, more in lines]
    total = sum(off for off, _ in lines)
    if sum(weights) == 0:
        weights = [1, *weights[1:]]
    # Source totals that add up to the lines' discounts, on the cent grid.
    sources = [total * w // sum(weights) for w in weights]
    sources[-1] += total - sum(sources)
    amounts = [D(n) * CENT for n in sources]
    applies = [[mask[(i * 4 + j) % 32] for j in range(len(sources))] for i in range(len(lines))]

    rows = split_discounts(discounts, subtotals, amounts, applies, CENT)

    assert rows == split_discounts(discounts, subtotals, amounts, applies, CENT)
    assert [sum(row, D(0)) for row in rows] == discounts
    assert [sum(column, D(0)) for column in zip(*rows, strict=True)] == amounts
    assert all(share >= 0 and share == share.quantize(CENT) for row in rows for share in row)


def _totals(total: int, weights: list[int]) -> list[Decimal]:
    """`total` cents in parts in proportion to `weights`, adding up exactly."""
    if sum(weights) == 0:
        weights = [1, *weights[1:]]
    parts = [total * w // sum(weights) for w in weights]
    parts[-1] += total - sum(parts)
    return [D(n) * CENT for n in parts]


@given(
    lines=st.lists(st.tuples(cents, cents, cents), min_size=1, max_size=8),
    seller_weights=st.lists(cents, min_size=1, max_size=3),
    platform_weights=st.lists(cents, min_size=1, max_size=3),
    mask=st.lists(st.booleans(), min_size=32, max_size=32),
)
def test_by_funder_each_lines_platform_shares_are_the_engines_platform_part(
    lines: list[tuple[int, int, int]], seller_weights: list[int], platform_weights: list[int], mask: list[bool]
) -> None:
    """Whatever the sources: each line's platform-funded shares add up to its `funded`, its seller-funded
    ones to the rest, each source's to its total."""
    funded = [D(platform) * CENT for platform, _, _ in lines]
    discounts = [D(platform + seller) * CENT for platform, seller, _ in lines]
    subtotals = [D(platform + seller + more) * CENT for platform, seller, more in lines]
    platform_amounts = _totals(sum(p for p, _, _ in lines), platform_weights)
    seller_amounts = _totals(sum(s for _, s, _ in lines), seller_weights)
    # Interleaved: a platform promotion, then the seller's, then coupons of both.
    order = [True, False] * max(len(platform_amounts), len(seller_amounts))
    platform_left, seller_left = list(platform_amounts), list(seller_amounts)
    amounts, platform = [], []
    for is_platform in order:
        taken = platform_left if is_platform else seller_left
        if taken:
            amounts.append(taken.pop(0))
            platform.append(is_platform)
    applies = [[mask[(i * 4 + j) % 32] for j in range(len(amounts))] for i in range(len(lines))]

    rows = split_by_funder(discounts, funded, subtotals, amounts, platform, applies, CENT)

    for row, line_funded, discount in zip(rows, funded, discounts, strict=True):
        assert sum((s for s, p in zip(row, platform, strict=True) if p), D(0)) == line_funded
        assert sum(row, D(0)) == discount
    assert [sum(column, D(0)) for column in zip(*rows, strict=True)] == amounts
    assert all(share >= 0 for row in rows for share in row)


# The tax on commission (`commission_tax`): rounded half up once, to the currency's minor unit.


@pytest.mark.parametrize(
    ("commission", "percent", "cent", "tax"),
    [
        ("13.65", "18", "0.01", "2.46"),  # 2.457: up, never down to 2.45
        ("10.25", "18", "0.01", "1.85"),  # 1.845, a tie: half up, not half even (1.84)
        ("0.03", "18", "0.01", "0.01"),  # 0.0054: a cent
        ("0.02", "18", "0.01", "0.00"),  # 0.0036: nothing
        ("1000", "7.5", "1", "75"),  # JPY: 75 yen exactly
        ("333", "20.5", "1", "68"),  # JPY 68.265: whole yen
        ("1.005", "50", "0.001", "0.503"),  # KWD 0.5025, a tie on the fils: up
        ("13.65", "0", "0.01", "0.00"),  # no tax on commission: a zero on the grid
        ("0.00", "18", "0.01", "0.00"),
    ],
)
def test_the_tax_on_commission_is_rounded_half_up_once(commission: str, percent: str, cent: str, tax: str) -> None:
    found = commission_tax(D(commission), D(percent), D(cent))
    assert (found, found.as_tuple().exponent) == (D(tax), D(cent).as_tuple().exponent)


@given(
    cents=st.integers(0, 10**9),
    percent=st.decimals(D(0), D(100), places=4),
    digits=st.sampled_from([0, 2, 3]),
)
def test_the_tax_on_commission_is_the_nearest_minor_unit_ties_up(cents: int, percent: Decimal, digits: int) -> None:
    """Against exact fractions: the tax is within half a minor unit of commission x percent / 100, and a
    tie goes up."""
    cent = D(1).scaleb(-digits)
    commission = D(cents).scaleb(-digits)
    exact = Fraction(commission) * Fraction(percent) / 100 / Fraction(cent)  # in minor units
    units = math.floor(exact + Fraction(1, 2))
    assert commission_tax(commission, percent, cent) == D(units) * cent


def test_each_commission_detail_is_on_its_own_line_never_found_by_product_id() -> None:
    # One product id on two lines, a seller rate matching only the second, and a gift line without details.
    details = [("a", "category"), ("a", "category"), ("a", "seller"), ("b", "category"), (None, "logistics")]
    on = detail_lines(["a", "a", "b", "gift"], details)
    assert on == [0, 1, 1, 2, None]
    amounts = [D("30.00"), D("6.00"), D("2.00"), D("1.00"), D("9.00")]
    found = line_commissions(
        4, [(at, dimension, amount) for at, (_, dimension), amount in zip(on, details, amounts, strict=True)]
    )
    assert found == [(D("30.00"), D(0)), (D("6.00"), D("2.00")), (D("1.00"), D(0)), (D(0), D(0))]


def test_a_detail_that_follows_no_line_of_its_product_is_refused() -> None:
    with pytest.raises(ValueError, match="follows no line"):
        detail_lines(["a"], [("a", "category"), ("b", "seller")])
    with pytest.raises(ValueError, match="follows no line"):
        detail_lines(["a"], [("a", "category"), ("a", "category")])
