"""Quantity rules (docs/pricing.md#quantity-rules): how many units of a product one quote item may
hold, and how many a customer may buy in a window of days.

A rule set sits on a product, on a price-list entry (it then replaces the product's for the lines
that entry prices: a trade list may sell by the case while the shop sells single units) and, with
offers, on an offer; the same `QuantityRules` in each place:

    min_qty           at least this many units in the item
    max_qty           at most this many
    step              allowed quantities: min_qty + k x step (k >= 0), or k x step (k >= 1) without min_qty
    max_per_customer  at most this many units per customer over the last `window_days` (30) days,
                      counting the customer's orders (cancelled and refunded units given back) and every
                      earlier item of the same product in the quote

The snapshot compiles every rule set into a `quantity_book.QuantityBook`, which checks a quote's
items. Pure: `now` is an argument, a customer's purchases are (epoch second, units) pairs the caller read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import msgspec

from quote_service.errors import FieldError

MAX_UNITS = 10_000
"""A quote item's largest quantity: no rule may ask for more."""
MAX_WINDOW_DAYS = 365
"""The longest window a per-customer limit counts over (what the quote path's counters keep)."""
DAY_SECONDS = 86_400

Units = Annotated[int, msgspec.Meta(ge=1, le=MAX_UNITS)]


class QuantityRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The quantities one item may hold, and the units one customer may buy in a window (module docstring)."""

    min_qty: Units | None = None
    max_qty: Units | None = None
    step: Units | None = None
    max_per_customer: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None
    window_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_WINDOW_DAYS)] = 30
    """The days `max_per_customer` counts back over."""


class QuantityProblem(FieldError, frozen=True, kw_only=True):
    """An item that breaks its rules: the field, why, and what is allowed (null: no such rule).
    `remaining_for_customer`: the units the customer may still buy (null without max_per_customer)."""

    min_qty: int | None = None
    max_qty: int | None = None
    step: int | None = None
    remaining_for_customer: int | None = None


def rules_problems(rules: QuantityRules, path: str) -> list[FieldError]:
    """Why a rule set cannot be met by any quantity (each value's range is the schema's)."""
    errors: list[FieldError] = []
    low, high, step = rules.min_qty, rules.max_qty, rules.step
    if low is not None and high is not None and low > high:
        errors.append(FieldError(f"{path}.max_qty", "must be at least min_qty"))
    elif high is not None and step is not None and _first_allowed(low, step) > high:
        errors.append(FieldError(f"{path}.step", f"allows no quantity up to max_qty ({high})"))
    if rules.max_per_customer is not None and low is not None and low > rules.max_per_customer:
        errors.append(FieldError(f"{path}.max_per_customer", "must be at least min_qty"))
    return errors


def _first_allowed(low: int | None, step: int) -> int:
    return step if low is None else low


def quantity_problem(rules: QuantityRules, quantity: int) -> str | None:
    """Why `quantity` units break the item rules (min, max, step), or None."""
    low, high, step = rules.min_qty, rules.max_qty, rules.step
    if low is not None and quantity < low:
        return f"must be at least {low}"
    if high is not None and quantity > high:
        return f"must be at most {high}"
    if step is not None and (quantity - (low or 0)) % step:
        first = _first_allowed(low, step)
        return f"must be {first}, {first + step}, {first + 2 * step}, ... (steps of {step})"
    return None


def bought_within(purchases: Sequence[tuple[int, int]], window_days: int, now: datetime) -> int:
    """The units of (epoch second, units) purchases made in the `window_days` days before `now`."""
    since = int(now.timestamp()) - window_days * DAY_SECONDS
    return sum(units for at, units in purchases if at > since)
