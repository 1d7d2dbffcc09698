"""Partial free delivery (docs/pricing.md#quantity-rules, docs/promotions.md#partial-free-delivery): a FREE_DELIVERY
promotion takes `percent` or `amount` off each shipment's fee, at most `max`; without either, the
whole fee as before."""

from __future__ import annotations

import pytest

from quote_service.pricing.promotions import FreeDelivery
from tests.unit.pricing.test_engine_promotions import applied
from tests.unit.pricing.test_engine_shipments import STANDARD, profile
from tests.unit.pricing.test_engine_support import D, coupon, item, product, promotion, quote, request

BOOK = product("40.00")


@pytest.mark.parametrize(
    ("config", "fee", "waived"),
    [
        (FreeDelivery(), "0.00", "10.00"),  # the whole default fee, as before
        (FreeDelivery(percent=D("50")), "5.00", "5.00"),
        (FreeDelivery(percent=D("33.3333")), "6.67", "3.33"),  # rounded once, half up
        (FreeDelivery(percent=D("50"), max=D("3")), "7.00", "3.00"),
        (FreeDelivery(amount=D("4")), "6.00", "4.00"),
        (FreeDelivery(amount=D("25")), "0.00", "10.00"),  # never more than the fee
        (FreeDelivery(max=D("2.50")), "7.50", "2.50"),
    ],
)
def test_the_quotes_one_fee(config: FreeDelivery, fee: str, waived: str) -> None:
    result = quote(request(item(BOOK)), products=[BOOK], promotions=[promotion(config, name="delivery")])

    assert (result.delivery_fee, applied(result)) == (D(fee), [("delivery", D(waived))])
    assert result.total_amount == result.subtotal - result.discount_amount + result.tax_amount + D(fee) + D("5.00")


def test_each_shipment_it_covers_separately_with_its_own_max() -> None:
    a, b = product("40.00", seller="s1"), product("30.00", seller="s2")
    half_at_most_two = promotion(FreeDelivery(percent=D("50"), max=D("2")), name="half delivery")

    result = quote(
        request(item(a), item(b)),
        products=[a, b],
        promotions=[half_at_most_two],
        shipping_profiles=[profile("s1", STANDARD), profile("s2", STANDARD, n=2)],
    )

    assert result.shipments is not None
    # each Standard fee is 4.90: half is 2.45, at most 2.00 off each
    assert [s.delivery_fee for s in result.shipments] == [D("2.90"), D("2.90")]
    assert (result.delivery_fee, applied(result)) == (D("5.80"), [("half delivery", D("4.00"))])


def test_a_free_delivery_coupon_waives_what_a_partial_promotion_left() -> None:
    result = quote(
        request(item(BOOK), coupon_codes=["SHIP"]),
        products=[BOOK],
        promotions=[promotion(FreeDelivery(amount=D("4")), name="4 off delivery")],
        coupons=[coupon("SHIP", "FREE_DELIVERY", "0")],
    )

    assert result.delivery_fee == D("0.00")
    assert [(c.code, c.amount) for c in result.applied_coupons] == [("SHIP", D("6.00"))]
    assert applied(result) == [("4 off delivery", D("4.00"))]


def test_a_partial_waiver_in_another_currency_does_not_apply() -> None:
    result = quote(
        request(item(BOOK)), products=[BOOK], promotions=[promotion(FreeDelivery(amount=D("4"), currency="TRY"))]
    )

    assert (result.delivery_fee, applied(result)) == (D("10.00"), [])
