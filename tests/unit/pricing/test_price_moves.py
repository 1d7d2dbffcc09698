"""A manual price move: the floor and the largest step, as a decision's guardrails."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quote_service.pricing.price_moves import manual_move_problem


def problem(current: str, new: str, floor: str = "0", limit: str = "10", currency: str = "EUR") -> str | None:
    return manual_move_problem(
        current=Decimal(current), new=Decimal(new), min_price=Decimal(floor), max_change_percent=Decimal(limit),
        currency=currency,
    )  # fmt: skip


@pytest.mark.parametrize(("new"), ["90.00", "110.00", "100.00", "95.55"])
def test_moves_within_the_step_are_allowed(new: str) -> None:
    assert problem("100.00", new) is None


def test_the_floor_is_named_with_the_currency_digits() -> None:
    assert problem("100.00", "94.99", floor="95.0000") == "must be at least the product's min_price 95.00"


def test_a_bigger_step_names_the_allowed_range_on_the_grid_inside_the_limits() -> None:
    message = problem("33.33", "40.00")
    assert message is not None
    assert "20.01 %" in message
    assert message.endswith("from 30.00 to 36.66")  # 29.997 up, 36.663 down: both inside 10 %


def test_the_range_starts_at_the_floor_when_the_step_would_pass_it() -> None:
    assert (problem("100", "150", floor="95") or "").endswith("from 95.00 to 110.00")


def test_a_zero_decimal_currency() -> None:
    assert (problem("1000", "2000", currency="JPY") or "").endswith("from 900 to 1100")
