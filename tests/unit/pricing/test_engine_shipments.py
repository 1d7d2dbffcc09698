"""A quote across sellers (docs/shipping.md): shipments, their options and fees, the selected option,
waivers, logistics commission per shipment, and the per-seller totals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest

from quote_service.errors import ValidationFailed
from quote_service.pricing.promotions import FreeDelivery, PercentOff
from quote_service.pricing.quote import CatalogProduct, EngineDefaults, Quote
from quote_service.pricing.shipping import ShippingOption, ShippingProfile
from tests.unit.pricing.test_engine_support import (
    EUR_DEFAULTS,
    NOW,
    D,
    address,
    coupon,
    item,
    product,
    promotion,
    quote,
    rate,
    request,
)

STANDARD = ShippingOption(
    code="standard",
    name="Standard",
    base_fee=D("4.90"),
    per_kg=D("0.50"),
    max_fee=D("12.00"),
    eta_days_min=2,
    eta_days_max=4,
    free_above=D("100.00"),
)
EXPRESS = ShippingOption(
    code="express", name="Express", base_fee=D("9.90"), eta_days_min=1, eta_days_max=1, express=True
)


def profile(
    seller_id: str | None = "s1", *options: ShippingOption, n: int = 1, currency: str = "EUR", **fields: Any
) -> ShippingProfile:
    values: dict[str, Any] = {
        "id": UUID(int=n),
        "seller_id": seller_id,
        "countries": None,
        "regions": None,
        "currency": currency,
        "options": options or (STANDARD, EXPRESS),
        "created_at": NOW - timedelta(days=n),
    }
    values.update(fields)
    return ShippingProfile(**values)


def heavy(price: str, seller: str, weight: str | None = None, **fields: Any) -> CatalogProduct:
    return msgspec.structs.replace(
        product(price, seller=seller, **fields), weight=None if weight is None else D(weight)
    )


def shown(q: Quote) -> Any:
    return msgspec.to_builtins(q)


def test_no_profile_anywhere_adds_no_key_to_the_quote() -> None:
    a, b = product("40.00", seller="s1"), product("30.00", seller="s2")
    q = quote(request(item(a), item(b)), products=[a, b])

    assert "shipments" not in shown(q)
    assert "sellers" not in shown(q)


def test_each_seller_gets_a_shipment_and_the_fee_is_their_sum() -> None:
    a, b = heavy("40.00", "s1", weight="1.5"), product("30.00", seller="s2")
    q = quote(request(item(b), item(a, 2)), products=[a, b], shipping_profiles=[profile()])

    assert [s.seller_id for s in q.shipments] == ["s2", "s1"]  # first appearance
    rules, mine = q.shipments
    assert (rules.options, rules.selected, rules.delivery_fee, rules.free_delivery_remaining) == (
        [],
        None,
        D("10.00"),
        None,
    )
    assert mine.product_ids == [str(a.id)]
    assert mine.goods == D("80.00")
    assert [(o.code, o.fee, o.free) for o in mine.options] == [
        ("standard", D("6.40"), False),
        ("express", D("9.90"), False),
    ]
    assert (mine.selected, mine.delivery_fee, mine.free_delivery_remaining) == ("standard", D("6.40"), D("20.00"))
    assert q.delivery_fee == D("16.40")
    assert q.total_amount == q.subtotal - q.discount_amount + q.tax_amount + q.delivery_fee + q.small_basket_fee
    assert q.total_amount == D("146.20")


def test_the_sellers_totals_sum_to_the_quote_and_pay_the_fee_to_its_seller() -> None:
    a, b = heavy("40.00", "s1", weight="1.5"), product("30.00", seller="s2")
    q = quote(request(item(b), item(a, 2)), products=[a, b], shipping_profiles=[profile()])

    s2, s1 = q.sellers
    assert (s1.goods, s1.tax, s1.delivery_fee, s1.commission, s1.payout) == (
        D("80.00"),
        D("14.40"),
        D("6.40"),
        D("12.00"),
        D("88.80"),
    )
    assert (s2.goods, s2.tax, s2.delivery_fee, s2.commission, s2.payout) == (
        D("30.00"),
        D("5.40"),
        D("10.00"),
        D("4.50"),
        D("40.90"),
    )
    assert s1.goods + s2.goods == q.subtotal
    assert s1.commission + s2.commission == q.commission_breakdown.total_commission


@pytest.mark.parametrize(
    ("goods", "weight", "fee", "free"),
    [
        ("20.00", "2", "5.90", False),  # 4.90 + 0.50 x 2
        ("20.00", "40", "12.00", False),  # capped
        ("100.00", "40", "0.00", True),  # free above 100 of goods
        ("99.99", None, "4.90", False),
    ],
)
def test_an_option_fee(goods: str, weight: str | None, fee: str, free: bool) -> None:
    a = heavy(goods, "s1", weight=weight)
    q = quote(request(item(a)), products=[a], shipping_profiles=[profile()])

    assert (q.shipments[0].options[0].fee, q.shipments[0].options[0].free) == (D(fee), free)


def test_the_items_weight_counts_when_the_catalog_has_none_and_per_km_follows_the_distance() -> None:
    by_km = ShippingOption(
        code="courier", name="Courier", base_fee=D("2"), per_km=D("0.1"), eta_days_min=0, eta_days_max=1
    )
    req = request(
        item("x", 3, unit_price="10.00", seller_id="s1", weight=D("0.5")),
        pickup_address=address(latitude=41.0, longitude=29.0),
        delivery_address=address(latitude=41.0, longitude=29.1),
    )
    q = quote(req, shipping_profiles=[profile("s1", STANDARD, by_km)])

    standard, courier = q.shipments[0].options
    assert standard.fee == D("5.65")  # 4.90 + 0.50 x 1.5 kg
    assert courier.fee == D("2.84")  # 2 + 0.1 x 8.392 km


def test_the_default_option_is_the_cheapest_of_the_requested_speed_then_the_faster_then_the_code() -> None:
    slow = ShippingOption(code="b_slow", name="Slow", base_fee=D("3"), eta_days_min=3, eta_days_max=6)
    fast = ShippingOption(code="c_fast", name="Fast", base_fee=D("3"), eta_days_min=1, eta_days_max=2)
    same = ShippingOption(code="a_same", name="Same", base_fee=D("3"), eta_days_min=1, eta_days_max=2)
    a = product("20.00", seller="s1")
    config: dict[str, Any] = {"products": [a], "shipping_profiles": [profile("s1", EXPRESS, slow, fast, same)]}

    assert quote(request(item(a)), **config).shipments[0].selected == "a_same"
    assert quote(request(item(a), is_express_delivery=True), **config).shipments[0].selected == "express"
    only_standard = profile("s1", slow)
    assert (
        quote(request(item(a), is_express_delivery=True), products=[a], shipping_profiles=[only_standard])
        .shipments[0]
        .selected
        == "b_slow"
    )


def test_the_request_chooses_an_option_per_seller() -> None:
    a = product("20.00", seller="s1")
    q = quote(request(item(a), shipping={"s1": "express"}), products=[a], shipping_profiles=[profile()])

    assert (q.shipments[0].selected, q.delivery_fee) == ("express", D("9.90"))


@pytest.mark.parametrize(
    ("choice", "profiles", "named"),
    [
        ({"s1": "next_day"}, [profile()], ["shipping.s1"]),  # an unknown code
        ({"s1": "standard", "s9": "standard"}, [profile()], ["shipping.s9"]),  # a seller not in the basket
        ({"s1": "standard"}, [profile("s2")], ["shipping.s1"]),  # the seller's shipment has no profile
        ({"s1": "standard"}, [], ["shipping.s1"]),  # no profile anywhere
    ],
)
def test_a_choice_no_shipment_offers_is_422_naming_it(
    choice: dict[str, str], profiles: list[ShippingProfile], named: list[str]
) -> None:
    a, b = product("20.00", seller="s1"), product("20.00", seller="s2")
    with pytest.raises(ValidationFailed) as refused:
        quote(request(item(a), item(b), shipping=choice), products=[a, b], shipping_profiles=profiles)

    assert [d.field for d in refused.value.details] == named


def test_a_weight_that_cannot_be_one_is_422_naming_the_item() -> None:
    with pytest.raises(ValidationFailed) as refused:
        quote(request(item("x", 1, unit_price="5", seller_id="s1", weight=D("-1"))), shipping_profiles=[profile()])

    assert [d.field for d in refused.value.details] == ["items[0].weight"]


def test_a_free_delivery_promotion_waives_only_the_shipments_meeting_its_conditions() -> None:
    toys, books = product("60.00", seller="s1", category="toys"), product("60.00", seller="s2", category="books")
    free_toys = promotion(FreeDelivery(), conditions={"category_ids": ["toys"]})
    q = quote(
        request(item(toys), item(books)),
        products=[toys, books],
        shipping_profiles=[profile(None)],
        promotions=[free_toys],
    )

    assert [s.delivery_fee for s in q.shipments] == [D("0.00"), D("4.90")]
    assert q.applied_promotions[0].amount == D("4.90")
    assert q.delivery_fee == D("4.90")


def test_a_free_delivery_coupon_waives_every_shipment() -> None:
    a, b = product("60.00", seller="s1"), product("60.00", seller="s2")
    q = quote(
        request(item(a), item(b), coupon_codes=["SHIP"]),
        products=[a, b],
        shipping_profiles=[profile("s1")],
        coupons=[coupon("SHIP", "FREE_DELIVERY", "0")],
    )

    assert [s.delivery_fee for s in q.shipments] == [D("0.00"), D("0.00")]
    assert q.applied_coupons[0].amount == D("14.90")  # 4.90 + the rules' 10.00
    assert q.delivery_fee == D("0.00")


def test_logistics_commission_is_charged_per_shipment_on_its_fee() -> None:
    a, b = product("20.00", seller="s1"), product("20.00", seller="s2")
    logistics = rate(logistics_provider="cargo", rate=D("10"), component="logistics")
    q = quote(
        request(item(a), item(b), logistics_provider="cargo"),
        products=[a, b],
        shipping_profiles=[profile(None)],
        rates=[logistics],
    )

    assert [s.logistics_commission for s in q.shipments] == [D("0.49"), D("0.49")]
    assert q.commission_breakdown.logistics_commission == D("0.98")
    assert [d.base for d in q.commission_breakdown.details if d.dimension == "logistics"] == [D("4.90"), D("4.90")]
    assert sum((s.commission for s in q.sellers), D(0)) == q.commission_breakdown.total_commission


def test_discounts_and_commission_tax_are_split_by_seller() -> None:
    a, b = product("30.00", seller="s1"), product("70.00", seller="s2")
    q = quote(
        request(item(a), item(b)),
        products=[a, b],
        shipping_profiles=[profile(None)],
        promotions=[promotion(PercentOff(percent=D("10")))],
        defaults=EngineDefaults(currency="EUR", commission_tax_rate=D("20")),
    )

    s1, s2 = q.sellers
    assert (s1.discount, s2.discount) == (D("3.00"), D("7.00"))
    assert (s1.commission, s1.commission_tax) == (D("4.05"), D("0.81"))  # 15 % of 27.00; 20 % of that
    assert s1.payout == D("27.00") + D("4.86") - D("4.05") - D("0.81") + D("4.90")
    assert s1.discount + s2.discount == q.discount_amount
    assert s1.tax + s2.tax == q.tax_amount


def test_a_profile_in_another_currency_or_place_leaves_the_quote_as_without_profiles() -> None:
    a = product("20.00", seller="s1")
    plain = quote(request(item(a)), products=[a])
    elsewhere = [profile(currency="TRY"), profile(n=2, countries=frozenset({"DE"}))]
    other = quote(request(item(a)), products=[a], shipping_profiles=elsewhere)

    assert msgspec.json.encode(other) == msgspec.json.encode(plain)
    assert EUR_DEFAULTS.commission_tax_rate == 0


def test_a_free_delivery_promotions_minimum_is_on_the_shipments_goods_before_discounts() -> None:
    a, b = product("50.00", seller="s1"), product("40.00", seller="s2")
    free_from_50 = promotion(FreeDelivery(), conditions={"min_subtotal": "50.00", "currency": "EUR"})
    q = quote(
        request(item(a), item(b)),
        products=[a, b],
        shipping_profiles=[profile(None)],
        promotions=[free_from_50, promotion(PercentOff(percent=D("10")))],
    )

    assert [s.goods for s in q.shipments] == [D("45.00"), D("36.00")]  # after the 10 %
    assert [s.delivery_fee for s in q.shipments] == [D("0.00"), D("4.90")]
