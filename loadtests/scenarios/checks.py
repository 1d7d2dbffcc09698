"""What counts as a success: the expected status with a well-formed envelope, or a business refusal.

Locust counts a request as failed only when `judge` says so: a 5xx, a 429/503/504 (the service
protecting itself means the load is beyond what it was sized for), an unexpected status or error
code, a body that is not the envelope, or a success whose numbers do not add up. A 409 whose
code is a legitimate outcome under load (sold out, over the per-customer limit, out of stock)
is a success in locust's statistics and is counted separately in OUTCOMES.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

FLASH_REFUSALS = frozenset({"SOLD_OUT", "PURCHASE_LIMIT_EXCEEDED", "SALE_NOT_ACTIVE"})
# An order can meet the same flash refusals (it buys its flash-priced units from the sale), the
# catalog stock running out, a coupon's usage limit, and an identical basket quoted (same quote id)
# and ordered by another buyer first.
ORDER_REFUSALS = frozenset(
    {"INSUFFICIENT_STOCK", "COUPON_LIMIT_REACHED", "PRODUCT_UNAVAILABLE", "QUOTE_ALREADY_ORDERED", *FLASH_REFUSALS}
)

# (endpoint name, outcome) -> count, e.g. ("POST /api/v1/orders", "409 INSUFFICIENT_STOCK").
OUTCOMES: Counter[tuple[str, str]] = Counter()

Validator = Callable[[Any], str | None]


@dataclass(frozen=True)
class Outcome:
    status: int
    code: str | None
    data: Any

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)


def judge(
    response: Any,
    name: str,
    *,
    ok: tuple[int, ...],
    refusals: frozenset[str] = frozenset(),
    validate: Validator | None = None,
) -> Outcome:
    """Mark `response` (a catch_response context) as success or failure and return what it said."""
    status = int(response.status_code or 0)
    if status == 0:
        error = getattr(response, "error", None)
        return _fail(response, name, 0, None, f"no response ({type(error).__name__})")
    try:
        body = response.json()
    except ValueError:
        return _fail(response, name, status, None, f"HTTP {status}: the body is not JSON")
    if not isinstance(body, dict):
        return _fail(response, name, status, None, f"HTTP {status}: the body is not an envelope")
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if status in ok:
        if body.get("success") is not True or "data" not in body:
            return _fail(response, name, status, code, f"HTTP {status} without a success envelope")
        problem = validate(body["data"]) if validate is not None else None
        if problem is not None:
            return _fail(response, name, status, code, problem)
        OUTCOMES[(name, str(status))] += 1
        response.success()
        return Outcome(status, None, body["data"])
    if status == 409 and code in refusals:
        OUTCOMES[(name, f"409 {code}")] += 1
        response.success()
        return Outcome(status, code, None)
    if body.get("success") is not False or code is None:
        return _fail(response, name, status, code, f"HTTP {status} without an error envelope")
    return _fail(response, name, status, code, f"HTTP {status} {code}")


def _fail(response: Any, name: str, status: int, code: str | None, message: str) -> Outcome:
    OUTCOMES[(name, f"FAILED {message}")] += 1
    response.failure(message)
    return Outcome(status, code, None)


def _money(data: dict[str, Any], key: str) -> Decimal:
    return Decimal(str(data[key]))


def quote_problem(data: Any) -> str | None:
    """A quote must have an id and a total that is exactly the sum of its parts (docs/pricing.md step 9)."""
    try:
        if not data.get("quote_id"):
            return "quote without quote_id"
        parts = (
            _money(data, "subtotal")
            - _money(data, "discount_amount")
            + _money(data, "tax_amount")
            + _money(data, "delivery_fee")
            + _money(data, "small_basket_fee")
        )
        if parts != _money(data, "total_amount"):
            return "total_amount is not subtotal - discount + tax + fees"
    except (AttributeError, KeyError, TypeError, InvalidOperation):
        return "quote without its amounts"
    return None


def same_total(expected: str) -> Validator:
    """For reads of a stored quote or an order: the amount must be the quoted one."""

    def check(data: Any) -> str | None:
        try:
            if Decimal(str(data["total_amount"])) != Decimal(expected):
                return "total_amount differs from the quote's"
        except (KeyError, TypeError, InvalidOperation):
            return "no total_amount"
        return None

    return check


def has(key: str) -> Validator:
    def check(data: Any) -> str | None:
        return None if isinstance(data, dict) and data.get(key) else f"answer without {key}"

    return check


def summary() -> list[str]:
    """One line per endpoint: its outcomes, most frequent first."""
    by_name: dict[str, Counter[str]] = {}
    for (name, outcome), count in OUTCOMES.items():
        by_name.setdefault(name, Counter())[outcome] += count
    return [
        f"{name}: " + ", ".join(f"{outcome} x{count}" for outcome, count in counts.most_common())
        for name, counts in sorted(by_name.items())
    ]


def write_csv(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        writer.writerow(["Name", "Outcome", "Count"])
        for (name, outcome), count in sorted(OUTCOMES.items()):
            writer.writerow([name, outcome, count])
