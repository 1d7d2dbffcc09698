"""The product invariants: 0 <= cost <= min <= current, positive prices, the currency's digits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quote_service.catalog.service import check_product
from quote_service.errors import ValidationFailed


def product(**overrides: Any) -> dict[str, Any]:
    """The fields check_product reads, for a valid TRY product, changed by `overrides`."""
    fields: dict[str, Any] = {
        "currency": "TRY",
        "base_price": Decimal("25.50"),
        "current_price": Decimal("25.50"),
        "min_price": Decimal("20.00"),
        "cost_price": Decimal("10.00"),
        "weight": Decimal("0.25"),
    }
    fields.update({k: Decimal(v) if isinstance(v, str) and k != "currency" else v for k, v in overrides.items()})
    return fields


def broken_fields(fields: dict[str, Any]) -> list[str]:
    """The fields named by the 422 that check_product raises."""
    with pytest.raises(ValidationFailed) as caught:
        check_product(fields)
    assert caught.value.status_code == 422
    assert caught.value.code == "VALIDATION_FAILED"
    return [detail.field for detail in caught.value.details]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"cost_price": "20.00"},  # cost == min
        {"min_price": "25.50"},  # min == current
        {"cost_price": "0", "min_price": "0"},  # nothing below zero, zero allowed
        {"cost_price": "25.50", "min_price": "25.50"},  # all equal
        {"current_price": "30.00"},  # current above base is a markup, not an error
        {"current_price": "21.00"},  # below base is a discount
        {"weight": None},
        {"weight": "0"},
        {"base_price": "25.5"},  # fewer digits than the currency has
        {"base_price": "25.500"},  # trailing zeros are not extra precision
        {"currency": "JPY", "base_price": "51", "current_price": "51", "min_price": "40", "cost_price": "1"},
        {"currency": "KWD", "base_price": "1.125", "current_price": "1.125", "min_price": "1.001", "cost_price": "1"},
        {"base_price": "999999999999.99", "current_price": "999999999999.99"},
    ],
)
def test_valid_products_pass(overrides: dict[str, Any]) -> None:
    check_product(product(**overrides))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"cost_price": "20.01"}, ["cost_price"]),
        ({"min_price": "25.51"}, ["min_price"]),
        ({"cost_price": "-0.01"}, ["cost_price"]),
        ({"min_price": "-1", "cost_price": "-2"}, ["min_price", "cost_price"]),
        ({"base_price": "0"}, ["base_price"]),
        ({"base_price": "-1"}, ["base_price"]),
        ({"current_price": "0", "min_price": "0", "cost_price": "0"}, ["current_price"]),
        ({"current_price": "NaN"}, ["current_price"]),
        ({"current_price": "sNaN"}, ["current_price"]),
        ({"base_price": "Infinity"}, ["base_price"]),
        ({"cost_price": "-Infinity"}, ["cost_price"]),
        ({"base_price": "1e12", "current_price": "1e12"}, ["base_price", "current_price"]),
        ({"min_price": "20.001"}, ["min_price"]),
        ({"cost_price": "0.001"}, ["cost_price"]),
        ({"currency": "JPY"}, ["base_price", "current_price"]),  # 20.00 and 10.00 are whole yen
        (
            {"currency": "JPY", "base_price": "100", "current_price": "1.5", "min_price": "1", "cost_price": "0"},
            ["current_price"],
        ),
        ({"currency": "XYZ"}, ["currency"]),
        ({"currency": "try"}, ["currency"]),  # callers upper-case first; the check itself is exact
        ({"weight": "-0.001"}, ["weight"]),
        ({"weight": "NaN"}, ["weight"]),
        ({"weight": "1e9"}, ["weight"]),
    ],
)
def test_each_broken_rule_names_its_field(overrides: dict[str, Any], expected: list[str]) -> None:
    assert broken_fields(product(**overrides)) == expected


def test_every_broken_rule_is_reported_at_once() -> None:
    fields = product(current_price="10.00", min_price="12.00", cost_price="15.00", weight="-1")
    assert broken_fields(fields) == ["cost_price", "min_price", "weight"]


def test_ordering_is_not_checked_on_amounts_that_are_not_numbers() -> None:
    """A NaN cannot be compared; it is reported once, not as a spurious ordering error too."""
    assert broken_fields(product(min_price="NaN")) == ["min_price"]


def test_unknown_currency_does_not_also_report_digits() -> None:
    assert broken_fields(product(currency="ABC", current_price="25.12345")) == ["currency"]


def test_the_message_lists_every_problem() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_product(product(cost_price="21.00", currency="XYZ"))
    assert "currency" in caught.value.message
    assert "cost_price" in caught.value.message


cents = st.integers(min_value=0, max_value=10**8).map(lambda n: Decimal(n).scaleb(-2))


@given(st.lists(cents, min_size=3, max_size=3), cents.filter(lambda d: d > 0))
def test_any_ordered_prices_pass(prices: list[Decimal], base: Decimal) -> None:
    cost, minimum, current = sorted(prices)
    if current == 0:
        current = Decimal("0.01")
    check_product(product(base_price=base, current_price=current, min_price=minimum, cost_price=cost))


@given(cents, cents, cents.filter(lambda d: d > 0))
def test_cost_above_min_or_min_above_current_always_fails(a: Decimal, b: Decimal, current: Decimal) -> None:
    cost, minimum = max(a, b) + Decimal("0.01"), min(a, b)
    broken = broken_fields(product(current_price=current, min_price=minimum, cost_price=cost))
    assert "cost_price" in broken
    assert ("min_price" in broken) == (minimum > current)
