"""Coupons and promotions on lines already reduced below their own price (docs/pricing.md#quantity-rules,
docs/promotions.md#reduced-lines): `stack` (as before), `skip`, `best_of`, worked by hand."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from quote_service.pricing.price_lists import ListPrice, PriceBook, PriceList
from quote_service.pricing.promotions import PercentOff
from quote_service.pricing.quote import Quote
from quote_service.pricing.snapshot import ConfigSnapshot
from tests.unit.pricing.test_engine_promotions import applied, discounts, rejected
from tests.unit.pricing.test_engine_support import NOW, D, coupon, item, product, promotion, quote, request

A, B = product("100.00"), product("100.00")
FIRST_ON_B = promotion(
    PercentOff(percent=D("20")), name="20 % on B", priority=10, conditions={"product_ids": [str(B.id)]}
)


def with_coupon(percent: str, policy: str) -> Quote:
    """A and B at 100.00, B 20 % off by a promotion first; then a coupon of `percent` %."""
    return quote(
        request(item(A), item(B), coupon_codes=["C"]),
        products=[A, B],
        promotions=[FIRST_ON_B],
        coupons=[coupon("C", value=percent, on_reduced_lines=policy)],
    )


@pytest.mark.parametrize(
    ("percent", "policy", "amount", "lines"),
    [
        ("10", "stack", "18.00", ["10.00", "28.00"]),  # 10 % of 100 and of the 80 left
        ("10", "skip", "10.00", ["10.00", "20.00"]),  # B is left out
        ("10", "best_of", "10.00", ["10.00", "20.00"]),  # B: 80 is below 100 - 10 % = 90: nothing more
        ("30", "stack", "54.00", ["30.00", "44.00"]),
        ("30", "skip", "30.00", ["30.00", "20.00"]),
        ("30", "best_of", "40.00", ["30.00", "30.00"]),  # B: 100 - 30 % = 70, below its 80: 10.00 more
    ],
)
def test_a_coupon_on_a_line_an_earlier_promotion_reduced(
    percent: str, policy: str, amount: str, lines: list[str]
) -> None:
    result = with_coupon(percent, policy)

    assert [(c.code, c.amount) for c in result.applied_coupons] == [("C", D(amount))]
    assert discounts(result) == [D(x) for x in lines]


@pytest.mark.parametrize(
    ("policy", "amount", "lines"),
    [
        ("stack", "45.00", ["25.00", "40.00"]),  # 25 % of 100 and of the 80 left
        ("skip", "25.00", ["25.00", "20.00"]),
        ("best_of", "30.00", ["25.00", "25.00"]),  # B: 100 - 25 % = 75, 5.00 below its 80
    ],
)
def test_a_promotion_after_another_on_a_reduced_line(policy: str, amount: str, lines: list[str]) -> None:
    later = promotion(PercentOff(percent=D("25")), name="25 % off", on_reduced_lines=policy)

    result = quote(request(item(A), item(B)), products=[A, B], promotions=[FIRST_ON_B, later])

    assert applied(result) == [("20 % on B", D("20.00")), ("25 % off", D(amount))]
    assert discounts(result) == [D(x) for x in lines]


def test_a_line_a_price_list_lowered_below_its_products_own_price_is_reduced() -> None:
    own = product("50.00")
    listed = PriceList(
        id=uuid.uuid4(),
        name="trade",
        currency="EUR",
        priority=0,
        created_at=NOW,
        prices=(ListPrice(own.id, Decimal("40.00")),),
    )

    def priced(percent: str, policy: str) -> Quote:
        config = ConfigSnapshot.build(
            version=1,
            price_lists=PriceBook.of([listed]),
            coupons=[coupon("C", value=percent, on_reduced_lines=policy)],
        )
        return quote(request(item(own, 2), coupon_codes=["C"]), config=config, products=[own])

    assert priced("10", "stack").discount_amount == D("8.00")
    assert [(c.code, c.reason) for c in priced("10", "skip").rejected_coupons] == [("C", "NOT_APPLICABLE")]
    assert [(c.code, c.reason) for c in priced("10", "best_of").rejected_coupons] == [("C", "NOT_APPLICABLE")]
    assert priced("30", "best_of").discount_amount == D("10.00")  # 2 x (50 - 30 %) = 70, 10.00 below 80


def test_a_promotion_left_only_reduced_lines_says_so() -> None:
    later = promotion(
        PercentOff(percent=D("10")), name="10 % on B", on_reduced_lines="skip", conditions={"product_ids": [str(B.id)]}
    )

    result = quote(request(item(B)), products=[B], promotions=[FIRST_ON_B, later])

    assert rejected(result) == [
        ("10 % on B", "NOTHING_LEFT", "its lines are already reduced below their own price (on_reduced_lines: skip)")
    ]


def test_lines_at_their_own_price_are_not_reduced_whatever_the_policy() -> None:
    for policy in ("stack", "skip", "best_of"):
        result = quote(
            request(item(A), item(B), coupon_codes=["C"]),
            products=[A, B],
            coupons=[coupon("C", value="10", on_reduced_lines=policy)],
        )
        assert result.discount_amount == D("20.00"), policy
