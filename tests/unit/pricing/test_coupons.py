"""Coupon validity (docs/pricing.md Coupons): every rejection reason and the order they are checked in."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from quote_service.pricing.coupons import Coupon, CouponSet, Rejection, check_coupon, normalize_code

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def coupon(**fields: Any) -> Coupon:
    """An active 10 % coupon SAVE10, valid since yesterday, changed by `fields`."""
    values: dict[str, Any] = {
        "code": "SAVE10",
        "type": "PERCENTAGE",
        "value": Decimal(10),
        "valid_from": NOW - timedelta(days=1),
    }
    values.update(fields)
    return Coupon(**values)


def check(
    subject: Coupon | None,
    *,
    code: str = "SAVE10",
    subtotal: str = "100.00",
    currency: str = "EUR",
    categories: Collection[str] = ("books",),
    customer_uses: int = 0,
    now: datetime = NOW,
    seen: Collection[str] = (),
) -> Rejection | None:
    return check_coupon(
        subject,
        code=code,
        subtotal=Decimal(subtotal),
        currency=currency,
        category_ids_in_basket=frozenset(categories),
        customer_uses=customer_uses,
        now=now,
        seen_codes=frozenset(seen),
    )


def test_a_valid_coupon_is_accepted() -> None:
    assert check(coupon()) is None


def test_not_found() -> None:
    assert check(None, code="NOPE") == "NOT_FOUND"


def test_inactive() -> None:
    assert check(coupon(is_active=False)) == "INACTIVE"


def test_not_started_until_valid_from_inclusive() -> None:
    starts = coupon(valid_from=NOW)

    assert check(starts, now=NOW - timedelta(microseconds=1)) == "NOT_STARTED"
    assert check(starts, now=NOW) is None


def test_expired_from_valid_to_exclusive() -> None:
    ends = coupon(valid_to=NOW)

    assert check(ends, now=NOW - timedelta(microseconds=1)) is None
    assert check(ends, now=NOW) == "EXPIRED"


def test_min_subtotal_is_inclusive() -> None:
    minimum = coupon(min_subtotal=Decimal("50.00"), currency="EUR")

    assert check(minimum, subtotal="49.99") == "MIN_SUBTOTAL"
    assert check(minimum, subtotal="50.00") is None


def test_usage_limit_in_all() -> None:
    assert check(coupon(usage_limit=3, times_used=3)) == "USAGE_LIMIT"
    assert check(coupon(usage_limit=3, times_used=2)) is None


def test_usage_limit_per_customer() -> None:
    assert check(coupon(per_customer_limit=1), customer_uses=1) == "USAGE_LIMIT"
    assert check(coupon(per_customer_limit=2), customer_uses=1) is None


def test_not_applicable_when_no_category_of_the_coupon_is_in_the_basket() -> None:
    restricted = coupon(category_ids=frozenset({"toys", "games"}))

    assert check(restricted, categories={"books"}) == "NOT_APPLICABLE"
    assert check(restricted, categories={"books", "games"}) is None
    assert check(coupon(), categories=()) is None  # no categories: the whole basket is eligible


def test_not_applicable_in_another_currency() -> None:
    fixed = coupon(type="FIXED", value=Decimal("5.00"), currency="EUR")

    assert check(fixed, currency="USD") == "NOT_APPLICABLE"
    assert check(fixed, currency="EUR") is None
    assert check(coupon(), currency="JPY") is None  # a percentage without amounts fits every currency


def test_duplicate_in_any_letter_case() -> None:
    assert check(coupon(), code="save10", seen={"SAVE10"}) == "DUPLICATE"
    assert check(None, code="NOPE", seen={"NOPE"}) == "DUPLICATE"


@pytest.mark.parametrize(
    ("fields", "kwargs", "reason"),
    [
        # A duplicate is reported as such, whatever else is wrong with it.
        ({"is_active": False}, {"seen": {"SAVE10"}}, "DUPLICATE"),
        ({"is_active": False, "valid_to": NOW}, {}, "INACTIVE"),
        ({"valid_from": NOW + timedelta(days=1), "usage_limit": 1, "times_used": 1}, {}, "NOT_STARTED"),
        ({"valid_to": NOW, "usage_limit": 1, "times_used": 1}, {}, "EXPIRED"),
        ({"usage_limit": 1, "times_used": 1, "category_ids": frozenset({"toys"})}, {}, "USAGE_LIMIT"),
        (
            {"category_ids": frozenset({"toys"}), "min_subtotal": Decimal(500), "currency": "EUR"},
            {},
            "NOT_APPLICABLE",
        ),
    ],
)
def test_the_first_failing_check_wins(fields: dict[str, Any], kwargs: dict[str, Any], reason: str) -> None:
    assert check(coupon(**fields), **kwargs) == reason


def test_coupon_set_finds_codes_in_any_letter_case() -> None:
    coupons = CouponSet.of([coupon(), coupon(code="WELCOME")])

    assert coupons.get("save10") == coupon()
    assert coupons.get(" Welcome ") == coupon(code="WELCOME")
    assert coupons.get("MISSING") is None
    assert normalize_code(" save10 ") == "SAVE10"


def test_a_coupon_naming_products_applies_when_one_of_them_or_of_its_categories_is_in_the_basket() -> None:
    def applies(subject: Coupon, products: Collection[str], categories: Collection[str] = ("books",)) -> bool:
        return (
            check_coupon(
                subject,
                code="SAVE10",
                subtotal=Decimal("100.00"),
                currency="EUR",
                category_ids_in_basket=frozenset(categories),
                customer_uses=0,
                now=NOW,
                seen_codes=frozenset(),
                product_ids_in_basket=frozenset(products),
            )
            is None
        )

    own = coupon(product_ids=frozenset({"p-1"}))
    assert applies(own, ["p-1", "p-2"])
    assert not applies(own, ["p-2"])
    either = coupon(product_ids=frozenset({"p-1"}), category_ids=frozenset({"toys"}))
    assert applies(either, ["p-2"], ["toys"])
    assert not applies(either, ["p-2"], ["books"])
