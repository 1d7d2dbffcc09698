"""The campaign's hourly move, hour by hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quote_service.pricing.campaigns import demand_of, hour_move, hours_due

START = datetime(2026, 1, 1, tzinfo=UTC)


def run(
    *, price: str, duration: int, limit: str, target: int, sales_by_hour: list[int], min_price: str = "1"
) -> list[str]:
    """Prices after each hour, with `sales_by_hour[h-1]` units sold during hour h."""
    current, total, seen = Decimal(price), 0, []
    for hour in range(1, duration + 1):
        total += sales_by_hour[hour - 1]
        move = hour_move(
            hour=hour, duration_hours=duration, price=current, base_price=Decimal(price), min_price=Decimal(min_price),
            limit_percent=Decimal(limit), target_sales=target, total_sales=total, currency="USD",
        )  # fmt: skip
        current = move.price
        seen.append(str(current))
        assert move.ended == (hour == duration)
    return seen


def test_the_assignment_sample_goes_down_to_its_bound_and_back() -> None:
    assert run(price="100", duration=5, limit="20", target=100, sales_by_hour=[0] * 5) == [
        "95.00", "90.00", "85.00", "80.00", "100",
    ]  # fmt: skip


def test_sales_above_target_push_the_price_up_as_late_as_possible() -> None:
    # 30 units an hour against 20 expected: the bound 120 is reached at hour 4.
    assert run(price="100", duration=5, limit="20", target=100, sales_by_hour=[30] * 5) == [
        "105.00", "110.00", "115.00", "120.00", "100",
    ]  # fmt: skip


def test_sales_exactly_on_target_leave_the_price_alone() -> None:
    assert run(price="100", duration=5, limit="20", target=100, sales_by_hour=[20] * 5) == [
        "100", "100", "100", "100", "100",
    ]  # fmt: skip


def test_demand_turning_moves_toward_the_other_bound() -> None:
    # Nothing in hour 1 (down), a rush in hour 2 (40 of 40 expected by then: on target), more in 3 (up),
    # none in 4 (down, all the way to the bound: it is the last hour before the end).
    assert run(price="100", duration=5, limit="20", target=100, sales_by_hour=[0, 40, 30, 0, 0]) == [
        "95.00", "95.00", "107.50", "80.00", "100",
    ]  # fmt: skip


def test_rounding_is_half_up_and_never_below_min_price() -> None:
    # 100 + (90 - 100) / 3 = 96.666... -> 96.67
    assert run(price="100", duration=4, limit="10", target=10, sales_by_hour=[0] * 4)[0] == "96.67"
    assert run(price="100", duration=5, limit="20", target=100, sales_by_hour=[0] * 5, min_price="92") == [
        "95.00", "92", "92", "92", "100",
    ]  # fmt: skip


def test_demand_is_compared_exactly() -> None:
    # 1 unit in 3 hours against 1 in 9 hours per 3: 1/3 vs 1/3 -> on target, no float noise.
    assert demand_of(total_sales=1, hour=3, target_sales=3, duration_hours=9) == "on"
    assert demand_of(total_sales=2, hour=3, target_sales=3, duration_hours=9) == "above"
    assert demand_of(total_sales=0, hour=1, target_sales=1, duration_hours=720) == "below"


def test_a_one_hour_campaign_only_ends() -> None:
    move = hour_move(
        hour=1, duration_hours=1, price=Decimal("80"), base_price=Decimal("100"), min_price=Decimal("1"),
        limit_percent=Decimal("20"), target_sales=5, total_sales=0, currency="USD",
    )  # fmt: skip
    assert (move.price, move.ended) == (Decimal("100"), True)


def test_hours_outside_the_campaign_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        hour_move(
            hour=6, duration_hours=5, price=Decimal("1"), base_price=Decimal("1"), min_price=Decimal("1"),
            limit_percent=Decimal("1"), target_sales=1, total_sales=0, currency="USD",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("elapsed", "applied", "expected"),
    [
        (timedelta(minutes=59), 0, []),
        (timedelta(hours=1), 0, [1]),
        (timedelta(hours=3, minutes=30), 1, [2, 3]),  # caught up in order after a gap
        (timedelta(hours=3), 3, []),
        (timedelta(hours=50), 2, [3, 4, 5]),  # never past the end
        (timedelta(hours=-1), 0, []),
    ],
)
def test_hours_due(elapsed: timedelta, applied: int, expected: list[int]) -> None:
    due = hours_due(started_at=START, hours_elapsed=applied, duration_hours=5, now=START + elapsed)
    assert list(due) == expected
