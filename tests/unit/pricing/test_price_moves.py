"""A manual price move: the floor and the largest step, as a decision's guardrails."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quote_service.pricing.price_moves import (
    PriceWrite,
    manual_move_problem,
    needs_approval,
    seller_floor_problem,
    seller_move_needs_approval,
    seller_reference_prices,
)


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


def test_a_sellers_floor_is_cost_plus_the_margin_rounded_up_to_the_grid() -> None:
    def floor(min_price: str, cost: str, margin: str) -> str | None:
        return seller_floor_problem(
            min_price=Decimal(min_price), cost_price=Decimal(cost), margin_percent=Decimal(margin), currency="EUR"
        )

    assert floor("11.00", "10.00", "10") is None
    assert (
        floor("10.99", "10.00", "10")
        == "must be at least 11.00: cost_price 10.00 plus 10 % (MIN_SELLER_MARGIN_PERCENT)"
    )
    assert floor("3.34", "3.03", "10") is None  # 3.333: 3.34 is the least price on the grid above it
    assert floor("3.33", "3.03", "10") is not None
    assert floor("0.01", "0", "50") is None  # no cost: no floor from it


@pytest.mark.parametrize(
    ("current", "new", "asks"),
    [("100", "130", False), ("100", "130.01", True), ("100", "70", False), ("100", "69.99", True), ("0", "1", True)],
)
def test_a_seller_move_beyond_the_approval_percent_needs_an_admin(current: str, new: str, asks: bool) -> None:
    assert needs_approval(current=Decimal(current), new=Decimal(new), approval_percent=Decimal(30)) is asks


def test_the_seller_s_own_moves_in_the_window_are_references_back_to_an_admin_s_price() -> None:
    d = Decimal
    writes = [
        PriceWrite(True, d("838.50"), d("1081.67")),
        PriceWrite(True, d("650.00"), d("838.50")),
        PriceWrite(False, d("500.00"), d("650.00")),  # an admin set (or approved) 650.00
        PriceWrite(True, d("400.00"), d("500.00")),  # before the admin's price: no longer counts
    ]
    assert seller_reference_prices(d("1081.67"), writes) == [
        d("1081.67"),
        d("838.50"),
        d("1081.67"),
        d("650.00"),
        d("838.50"),
        d("650.00"),
    ]
    assert seller_reference_prices(d("25.50"), []) == [d("25.50")]  # a window of 0: the step alone


def test_the_reference_furthest_from_the_new_price_decides() -> None:
    d = Decimal
    references = [d("838.50"), d("650.00")]
    assert seller_move_needs_approval(references=references, new=d("845.00"), approval_percent=d(30)) is False
    assert seller_move_needs_approval(references=references, new=d("845.01"), approval_percent=d(30)) is True
    assert seller_move_needs_approval(references=references, new=d("586.95"), approval_percent=d(30)) is False
    assert seller_move_needs_approval(references=references, new=d("586.94"), approval_percent=d(30)) is True
