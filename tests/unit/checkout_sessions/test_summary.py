"""A quote as a checkout session shows it (quote_service/checkout_sessions/summary.py): minor units exactly,
allocations that sum to each discount, totals whose parts add up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quote_service.checkout_sessions.summary import allocate, minor


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("12.34"), "TRY", 1234),
        (Decimal("1200"), "JPY", 1200),
        (Decimal("1.234"), "KWD", 1234),
        (Decimal("0.00"), "TRY", 0),
        (Decimal("-5.10"), "EUR", -510),
    ],
)
def test_minor_units_are_the_quotes_amount_exactly(amount: Decimal, currency: str, expected: int) -> None:
    assert minor(amount, currency) == expected


def test_an_amount_finer_than_the_currency_is_refused_not_rounded() -> None:
    with pytest.raises(ValueError, match="not a whole number of minor units"):
        minor(Decimal("1.005"), "TRY")
    with pytest.raises(ValueError, match="not a whole number of minor units"):
        minor(Decimal("10.5"), "JPY")


def test_an_allocation_follows_the_lines_discounts_and_the_remainder_goes_to_the_largest() -> None:
    paths = ["$.line_items[0]", "$.line_items[1]", "$.line_items[2]"]
    assert [(a.path, a.amount) for a in allocate(100, [1, 1, 1], paths)] == [
        ("$.line_items[0]", 34),
        ("$.line_items[1]", 33),
        ("$.line_items[2]", 33),
    ]
    assert [(a.path, a.amount) for a in allocate(90, [0, 300, 600], paths)] == [
        ("$.line_items[1]", 30),
        ("$.line_items[2]", 60),
    ]
    assert [a.amount for a in allocate(10, [0, 0], paths[:2])] == [5, 5]  # no line carries it: equal parts
    assert allocate(0, [5], paths[:1]) == []


@given(
    amount=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30),
)
def test_allocations_always_sum_to_the_amount(amount: int, weights: list[int]) -> None:
    paths = [f"$.line_items[{n}]" for n in range(len(weights))]
    parts = allocate(amount, weights, paths)
    assert sum(a.amount for a in parts) == amount
    assert all(a.amount > 0 for a in parts)
