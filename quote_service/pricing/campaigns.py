"""Campaigns: the hourly price move, pure (no I/O; time is an argument).

At each elapsed hour `h` of a campaign of `duration` hours:
- `h == duration`: the campaign ends and the price returns to `base_price`;
- otherwise demand = (total_sales / h) / (target / duration). Above 1 the price heads for
  `base x (1 + limit/100)`, below 1 for `base x (1 - limit/100)`, at exactly 1 it stays:
  `new = price + (bound - price) / (duration - h)`, rounded half up to the currency's minor
  unit and never below `min_price`. Each move covers an equal share of the distance left, so the
  price reaches its bound only at the last hour before the end (as late as possible).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

import msgspec

from quote_service.pricing.money import HUNDRED, round_money

HOUR = timedelta(hours=1)
Demand = Literal["above", "on", "below"]


class HourMove(msgspec.Struct, frozen=True, kw_only=True):
    """What one campaign-hour does: the price after it, and whether the campaign ended."""

    hour: int
    price: Decimal
    ended: bool
    demand: Demand | None
    """None for the final hour (the end is not a demand decision)."""


def demand_of(*, total_sales: int, hour: int, target_sales: int, duration_hours: int) -> Demand:
    """Compare the sales rate so far with the target rate, exactly (integers, no division)."""
    # (total / hour) / (target / duration) against 1  <=>  total x duration against target x hour
    sold, expected = total_sales * duration_hours, target_sales * hour
    if sold > expected:
        return "above"
    if sold < expected:
        return "below"
    return "on"


def hour_move(
    *,
    hour: int,
    duration_hours: int,
    price: Decimal,
    base_price: Decimal,
    min_price: Decimal,
    limit_percent: Decimal,
    target_sales: int,
    total_sales: int,
    currency: str,
) -> HourMove:
    """The move of elapsed hour `hour` (1-based) of a campaign."""
    if not 1 <= hour <= duration_hours:
        raise ValueError(f"hour {hour} is outside the campaign's 1..{duration_hours}")
    if hour == duration_hours:
        return HourMove(hour=hour, price=base_price, ended=True, demand=None)
    demand = demand_of(total_sales=total_sales, hour=hour, target_sales=target_sales, duration_hours=duration_hours)
    if demand == "on":
        return HourMove(hour=hour, price=price, ended=False, demand=demand)
    step = limit_percent / HUNDRED
    bound = base_price * (1 + step if demand == "above" else 1 - step)
    moved = round_money(price + (bound - price) / (duration_hours - hour), currency)
    return HourMove(hour=hour, price=max(moved, min_price), ended=False, demand=demand)


def hours_due(*, started_at: datetime, hours_elapsed: int, duration_hours: int, now: datetime) -> range:
    """The campaign-hours that have elapsed by `now` and are not applied yet, in order."""
    reached = int((now - started_at) / HOUR) if now >= started_at else 0
    return range(hours_elapsed + 1, min(reached, duration_hours) + 1)
