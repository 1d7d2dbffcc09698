"""The quote engine, steps 6-10: tax, delivery, small basket, commission, flags in the response."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quote_service.pricing.commission import CommissionRate, Tier
from quote_service.pricing.delivery import EARTH_RADIUS_KM, haversine_km
from quote_service.pricing.flags import Rollout, Variant
from quote_service.pricing.quote import EngineDefaults, QuoteRequest
from quote_service.pricing.rules import (
    DeliveryFeeConfig,
    DistanceBand,
    ExpressFeeConfig,
    FreeDeliveryConfig,
    RegionalFeeConfig,
    SmallBasketConfig,
    TaxRateConfig,
)
from tests.unit.pricing.test_engine_support import (
    D,
    address,
    coupon,
    flag,
    item,
    product,
    quote,
    rate,
    request,
    rule,
)

# Two points on the equator one degree apart: 2 pi R / 360 = 111.195 km.
EQUATOR_A, EQUATOR_B = {"latitude": 0.0, "longitude": 0.0}, {"latitude": 0.0, "longitude": 1.0}


def basket(unit_price: str = "100.00", *, km: bool = False, **fields: object) -> QuoteRequest:
    """One client-priced line; with `km`, pickup and delivery 111.195 km apart."""
    if km:
        fields["pickup_address"] = address(**EQUATOR_A)
        fields["delivery_address"] = address(**EQUATOR_B)
    return request(item("p", 1, unit_price=unit_price, category_id="books"), **fields)


# --- tax --------------------------------------------------------------------------------------


def test_tax_by_category_and_region_else_the_default() -> None:
    generic = rule(TaxRateConfig(rate=D("20")), region="TR")
    books = rule(TaxRateConfig(rate=D("8")), category_id="books")
    elsewhere = rule(TaxRateConfig(rate=D("1")), region="Ankara")

    result = quote(
        request(
            item("a", 1, unit_price="100.00", category_id="books"),
            item("b", 1, unit_price="100.00", category_id="toys"),
        ),
        rules=[generic, books, elsewhere],
    )
    default = quote(request(item("c", 1, unit_price="100.00")), rules=[elsewhere])

    assert [(line.tax, line.tax_rate) for line in result.items] == [(D("8.00"), D("8")), (D("20.00"), D("20"))]
    assert [(r.rule_id, r.type, r.amount) for r in result.applied_rules] == [
        (books.id, "TAX_RATE", D("8.00")),
        (generic.id, "TAX_RATE", D("20.00")),
    ]
    assert default.tax_amount == D("18.00")


def test_tax_is_rounded_per_line_and_summed() -> None:
    result = quote(request(*(item(name, 1, unit_price="0.25") for name in "abc")))

    assert [line.tax for line in result.items] == [D("0.05")] * 3
    assert result.tax_amount == D("0.15")  # not round(3 x 0.045) = 0.14


def test_fees_are_not_taxed() -> None:
    result = quote(basket(is_express_delivery=True))

    assert result.tax_amount == D("18.00")


# --- distance ---------------------------------------------------------------------------------


def test_haversine_uses_the_mean_earth_radius() -> None:
    assert EARTH_RADIUS_KM == 6371.0088
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.19508, abs=1e-5)
    assert haversine_km(41.0082, 28.9784, 41.0082, 28.9784) == 0
    assert haversine_km(0, 0, 0, 180) == pytest.approx(20015.1, abs=0.1)


def test_distance_is_to_the_metre_and_needs_both_coordinates() -> None:
    def delivery_line(**addresses: object) -> str:
        result = quote(request(item("p", 1, unit_price="100.00"), **addresses))
        return next(step.description for step in result.pricing_breakdown.calculations if step.step == "delivery")

    here = address(latitude=0.0, longitude=0.0)

    assert delivery_line(pickup_address=here, delivery_address=address(**EQUATOR_B)).endswith(", 111.195 km")
    assert "km" not in delivery_line(pickup_address=None, delivery_address=here)
    assert "km" not in delivery_line(pickup_address=address(latitude=1.0), delivery_address=here)
    assert "km" not in delivery_line(pickup_address=here, delivery_address=address())


# --- delivery ---------------------------------------------------------------------------------


def test_the_default_delivery_fee() -> None:
    assert quote(basket()).delivery_fee == D("10.00")


def test_a_delivery_rule_charges_base_plus_per_km() -> None:
    delivery = rule(DeliveryFeeConfig(base_fee=D("5.00"), per_km=D("0.10")))

    with_km = quote(basket(km=True), rules=[delivery])
    without = quote(basket(), rules=[delivery])

    assert with_km.delivery_fee == D("16.12")  # 5.00 + 0.10 x 111.195 = 16.1195
    assert without.delivery_fee == D("5.00")
    assert [(r.rule_id, r.amount) for r in with_km.applied_rules if r.type == "DELIVERY_FEE"] == [
        (delivery.id, D("16.12"))
    ]


def test_max_fee_caps_the_delivery_fee() -> None:
    delivery = rule(DeliveryFeeConfig(base_fee=D("5.00"), per_km=D("1.00"), max_fee=D("40.00")))

    assert quote(basket(km=True), rules=[delivery]).delivery_fee == D("40.00")


@pytest.mark.parametrize(
    ("bands", "fee"),
    [
        ((("50", "3.00"), ("111.195", "7.00")), "7.00"),  # the distance equals max_km: inside
        ((("111.194", "7.00"), ("200", "9.00")), "9.00"),
        ((("50", "3.00"),), "30.00"),  # beyond every band: base_fee (+ per_km)
    ],
)
def test_the_first_distance_band_that_reaches_the_distance_applies(
    bands: tuple[tuple[str, str], ...], fee: str
) -> None:
    config = tuple(DistanceBand(max_km=D(max_km), fee=D(band_fee)) for max_km, band_fee in bands)
    delivery = rule(DeliveryFeeConfig(base_fee=D("30.00"), distance_bands=config))

    assert quote(basket(km=True), rules=[delivery]).delivery_fee == D(fee)


def test_without_coordinates_bands_fall_back_to_the_base_fee() -> None:
    delivery = rule(
        DeliveryFeeConfig(base_fee=D("12.00"), distance_bands=(DistanceBand(max_km=D("5"), fee=D("3.00")),))
    )

    assert quote(basket(), rules=[delivery]).delivery_fee == D("12.00")


def test_express_without_a_rule_doubles_the_standard_fee() -> None:
    delivery = rule(DeliveryFeeConfig(base_fee=D("7.50")))

    assert quote(basket(is_express_delivery=True), rules=[delivery]).delivery_fee == D("15.00")


def test_an_express_rule_multiplies_the_standard_fee_and_adds_distance() -> None:
    delivery = rule(DeliveryFeeConfig(base_fee=D("10.00")))
    express = rule(ExpressFeeConfig(multiplier=D("1.5"), distance_factor=D("0.02")))

    result = quote(basket(km=True, is_express_delivery=True), rules=[delivery, express])

    assert result.delivery_fee == D("17.22")  # 10.00 x 1.5 + 0.02 x 111.195 = 17.2239
    assert [(r.type, r.amount) for r in result.applied_rules if r.type.endswith("_FEE")] == [
        ("DELIVERY_FEE", D("10.00")),
        ("EXPRESS_FEE", D("7.22")),
    ]


def test_an_express_rule_with_its_own_base_and_cap() -> None:
    express = rule(ExpressFeeConfig(base_fee=D("20.00"), multiplier=D("3"), max_fee=D("45.00")))

    result = quote(basket(is_express_delivery=True), rules=[express])

    assert result.delivery_fee == D("45.00")
    assert [(r.type, r.amount) for r in result.applied_rules if r.type.endswith("_FEE")] == [
        ("EXPRESS_FEE", D("45.00"))
    ]


def test_the_express_multiplier_flag_overrides_rule_and_default() -> None:
    express = rule(ExpressFeeConfig(multiplier=D("1.5")))
    multiplier = flag("express_delivery_multiplier", D("3"))
    off = flag("express_delivery_multiplier", D("3"), is_enabled=False)

    assert quote(basket(is_express_delivery=True), rules=[express], flags=[multiplier]).delivery_fee == D("30.00")
    assert quote(basket(is_express_delivery=True), flags=[multiplier]).delivery_fee == D("30.00")
    assert quote(basket(is_express_delivery=True), rules=[express], flags=[off]).delivery_fee == D("15.00")
    assert quote(basket(is_express_delivery=False), flags=[multiplier]).delivery_fee == D("10.00")


@pytest.mark.parametrize("value", [D("0"), D("-1"), D("101"), "abc", True, None])
def test_an_unusable_multiplier_flag_is_ignored(value: object) -> None:
    bad = flag("express_delivery_multiplier", value, type="NUMBER", default_value=None)

    assert quote(basket(is_express_delivery=True), flags=[bad]).delivery_fee == D("20.00")


def test_a_regional_fee_is_added_in_its_region_only() -> None:
    istanbul = rule(RegionalFeeConfig(amount=D("4.50")), region="istanbul")

    here = quote(basket(is_express_delivery=True), rules=[istanbul])
    there = quote(basket(delivery_address=address(city="Ankara")), rules=[istanbul])

    assert here.delivery_fee == D("24.50")
    # The defaults the surcharge sits on are listed beside it, so the entries add up to the fee.
    assert [(r.rule_id, r.type, r.amount) for r in here.applied_rules] == [
        (None, "DELIVERY_FEE", D("10.00")),
        (None, "EXPRESS_FEE", D("10.00")),
        (istanbul.id, "REGIONAL_FEE", D("4.50")),
    ]
    assert there.delivery_fee == D("10.00")
    assert there.applied_rules == []  # a fee of defaults alone lists nothing


@pytest.mark.parametrize(("goods", "fee"), [("99.99", "10.00"), ("100.00", "0.00"), ("100.01", "0.00")])
def test_free_delivery_from_the_rules_min_subtotal(goods: str, fee: str) -> None:
    free = rule(FreeDeliveryConfig(min_subtotal=D("100.00")))

    result = quote(basket(goods), rules=[free])

    assert result.delivery_fee == D(fee)
    listed = [r.amount for r in result.applied_rules if r.type == "FREE_DELIVERY"]
    assert listed == ([] if fee == "10.00" else [D("-10.00")])


@pytest.mark.parametrize(
    ("multiplier", "entry"), [(None, "default express multiplier"), (D("3"), "express_delivery_multiplier flag")]
)
def test_the_delivery_entries_add_up_to_the_fee_under_free_delivery_and_express(
    multiplier: Decimal | None, entry: str
) -> None:
    delivery = rule(DeliveryFeeConfig(base_fee=D("41.06")))
    free = rule(FreeDeliveryConfig(min_subtotal=D("50.00")))
    flags = [] if multiplier is None else [flag("express_delivery_multiplier", multiplier)]

    result = quote(basket(is_express_delivery=True), rules=[delivery, free], flags=flags)

    express = D("41.06") * ((multiplier or D("2")) - 1)  # what the multiplier adds to the standard fee
    listed = [(r.rule_id, r.name if r.rule_id is None else r.type, r.amount) for r in result.applied_rules]
    assert listed == [
        (delivery.id, "DELIVERY_FEE", D("41.06")),
        (None, entry, express),
        (free.id, "FREE_DELIVERY", -(D("41.06") + express)),
    ]
    assert result.delivery_fee == D("0.00") == sum((amount for _, _, amount in listed), D("0.00"))


def test_free_delivery_also_waives_express_and_regional_fees() -> None:
    rules = [rule(FreeDeliveryConfig(min_subtotal=D("0"))), rule(RegionalFeeConfig(amount=D("3.00")))]

    assert quote(basket(is_express_delivery=True), rules=rules).delivery_fee == D("0.00")


# --- small basket -----------------------------------------------------------------------------


@pytest.mark.parametrize(("goods", "fee"), [("49.99", "5.00"), ("50.00", "0.00")])
def test_the_default_small_basket_fee(goods: str, fee: str) -> None:
    assert quote(basket(goods)).small_basket_fee == D(fee)


@pytest.mark.parametrize(("goods", "fee"), [("29.99", "2.50"), ("30.00", "0.00")])
def test_a_small_basket_rule(goods: str, fee: str) -> None:
    small = rule(SmallBasketConfig(threshold=D("30.00"), fee=D("2.50")))

    result = quote(basket(goods), rules=[small])

    assert result.small_basket_fee == D(fee)
    assert [r.rule_id for r in result.applied_rules if r.type == "SMALL_BASKET"] == (
        [small.id] if fee != "0.00" else []
    )


def test_the_threshold_flag_overrides_the_threshold() -> None:
    small = rule(SmallBasketConfig(threshold=D("30.00"), fee=D("2.50")))
    threshold = flag("small_basket_threshold", D("80"))

    assert quote(basket("79.99"), rules=[small], flags=[threshold]).small_basket_fee == D("2.50")
    assert quote(basket("79.99"), flags=[threshold]).small_basket_fee == D("5.00")
    assert quote(basket("80.00"), flags=[threshold]).small_basket_fee == D("0.00")


def test_the_small_basket_counts_the_goods_after_discounts() -> None:
    result = quote(basket("55.00", coupon_codes=["A"]), coupons=[coupon("A")])

    assert result.small_basket_fee == D("5.00")  # 49.50 after the coupon


# --- commission -------------------------------------------------------------------------------


def test_commission_components_add_up_per_line() -> None:
    by_seller = product("100.00", category="phones", seller="acme")
    by_category = product("50.00", category="books", seller="other")
    unmatched = product("20.00", category="toys", seller="other")
    seller_rate = rate(seller_id="acme", rate=D("5"))
    category_rate = rate(category_id="books", rate=D("12"))

    result = quote(
        request(item(by_seller, 1), item(by_category, 1), item(unmatched, 1)),
        products=[by_seller, by_category, unmatched],
        rates=[seller_rate, category_rate],
    )

    breakdown = result.commission_breakdown
    # The seller rate adds to the line's category commission (here the 15 % default); it does not replace it.
    assert [(d.rate_id, d.dimension, d.base, d.rate, d.amount) for d in breakdown.details] == [
        (None, "category", D("100.00"), D("15"), D("15.00")),
        (seller_rate.id, "seller", D("100.00"), D("5"), D("5.00")),
        (category_rate.id, "category", D("50.00"), D("12"), D("6.00")),
        (None, "category", D("20.00"), D("15"), D("3.00")),
    ]
    assert (breakdown.seller_commission, breakdown.category_commission, breakdown.logistics_commission) == (
        D("5.00"),
        D("24.00"),
        D("0.00"),
    )
    assert breakdown.total_commission == D("29.00")


def test_the_go_readme_example_answers_its_breakdown() -> None:
    """The Go service's one-item example: 2 x 25.50, express, seller FLAT 3.25 + category 1.5 % +
    logistics 1.9 % of the delivery fee = 6.50 + 0.77 + 0.38 = 7.65."""
    seller = rate(seller_id="go-seller", commission_type="FLAT", rate=D("3.25"), currency="TRY")
    category = rate(category_id="go-category", rate=D("1.5"), currency="TRY")
    logistics = rate(logistics_provider="go-logistics", rate=D("1.9"), currency="TRY")
    req = request(
        item("go-product", 2, unit_price="25.50", category_id="go-category"),
        seller_id="go-seller",
        currency="TRY",
        is_express_delivery=True,
        logistics_provider="go-logistics",
        delivery_address=address("Istanbul", "TR"),
    )

    result = quote(req, rates=[seller, category, logistics], defaults=EngineDefaults(currency="TRY"))

    assert (result.subtotal, result.tax_amount, result.delivery_fee, result.total_amount) == (
        D("51.00"),
        D("9.18"),
        D("20.00"),
        D("80.18"),
    )
    breakdown = result.commission_breakdown
    parts = (breakdown.seller_commission, breakdown.category_commission, breakdown.logistics_commission)
    assert parts == (D("6.50"), D("0.77"), D("0.38"))
    assert breakdown.total_commission == D("7.65")
    assert [(d.dimension, d.rate_id) for d in breakdown.details] == [
        ("category", category.id),
        ("seller", seller.id),
        ("logistics", logistics.id),
    ]


def test_a_sellers_category_rate_overrides_the_category_rate_it_does_not_add() -> None:
    books = product("100.00", category="books", seller="acme")
    category_rate = rate(category_id="books", rate=D("12"))
    negotiated = rate(category_id="books", seller_id="acme", rate=D("8"))  # seller + category: category component
    negotiated_everywhere = rate(seller_id="acme", component="category", rate=D("9"))

    def commission(*rates: CommissionRate) -> tuple[Decimal, Decimal]:
        breakdown = quote(request(item(books, 1)), products=[books], rates=list(rates)).commission_breakdown
        return breakdown.category_commission, breakdown.seller_commission

    assert commission(category_rate) == (D("12.00"), D("0.00"))
    assert commission(category_rate, negotiated) == (D("8.00"), D("0.00"))
    # Seller only, but `component: category`: it beats the category rate by specificity (seller 4 > category 2).
    assert commission(category_rate, negotiated_everywhere) == (D("9.00"), D("0.00"))
    assert commission(category_rate, negotiated, negotiated_everywhere) == (D("8.00"), D("0.00"))


def test_the_default_rate_applies_only_when_no_category_rate_matches() -> None:
    books = product("100.00", category="books", seller="acme")
    seller_fee = rate(seller_id="acme", commission_type="FLAT", rate=D("1.50"))
    category_rate = rate(category_id="books", rate=D("3"))

    with_default = quote(request(item(books, 2)), products=[books], rates=[seller_fee]).commission_breakdown
    without = quote(request(item(books, 2)), products=[books], rates=[seller_fee, category_rate]).commission_breakdown

    assert (with_default.category_commission, with_default.seller_commission) == (D("30.00"), D("3.00"))
    assert (without.category_commission, without.seller_commission) == (D("6.00"), D("3.00"))


def test_a_client_priced_item_is_matched_by_its_seller_else_the_quote_seller() -> None:
    quote_seller = rate(seller_id="shop", rate=D("4"))

    result = quote(basket(seller_id="shop"), rates=[quote_seller])

    assert [(d.dimension, d.rate_id) for d in result.commission_breakdown.details] == [
        ("category", None),
        ("seller", quote_seller.id),
    ]


def test_commission_is_charged_on_the_line_after_its_discount() -> None:
    result = quote(basket(coupon_codes=["A"]), coupons=[coupon("A")])

    assert result.commission_breakdown.details[0].base == D("90.00")
    assert result.commission_breakdown.total_commission == D("13.50")


def test_logistics_commission_on_the_delivery_fee() -> None:
    logistics = rate(logistics_provider="FastShip", rate=D("10"))

    result = quote(basket(is_express_delivery=True, logistics_provider="fastship"), rates=[logistics])

    detail = result.commission_breakdown.details[-1]
    assert (detail.product_id, detail.rate_id, detail.dimension, detail.base, detail.amount) == (
        None,
        logistics.id,
        "logistics",
        D("20.00"),
        D("2.00"),
    )
    assert result.commission_breakdown.logistics_commission == D("2.00")
    assert result.commission_breakdown.total_commission == D("17.00")


def test_flat_logistics_is_charged_once_per_order() -> None:
    flat = rate(logistics_provider="FastShip", commission_type="FLAT", rate=D("1.25"))

    result = quote(
        request(item("a", 3, unit_price="10.00"), item("b", 2, unit_price="10.00"), logistics_provider="FastShip"),
        rates=[flat],
    )

    assert result.commission_breakdown.logistics_commission == D("1.25")


def test_tiered_commission_reports_no_single_rate() -> None:
    tiered = rate(
        commission_type="TIERED", rate=None, tiers=(Tier(up_to=D("50"), rate=D("10")), Tier(up_to=None, rate=D("5")))
    )

    result = quote(basket(), rates=[tiered])

    detail = result.commission_breakdown.details[0]
    assert (detail.commission_type, detail.rate, detail.amount) == ("TIERED", None, D("7.50"))


def test_commission_never_changes_the_customers_total() -> None:
    assert quote(basket(), rates=[rate(rate=D("40"))]).total_amount == quote(basket()).total_amount


# --- flags in the response --------------------------------------------------------------------


def test_the_flags_that_are_on_and_the_experiments_are_listed() -> None:
    flags = [
        flag("dynamic_pricing", True),
        flag("hidden", True, is_enabled=False),
        flag(
            "layout",
            "x",
            type="STRING",
            rollout=Rollout(variants=(Variant(key="only", weight=1, value="v"),)),
        ),
    ]

    result = quote(basket(), flags=flags)

    assert result.feature_flags == {"dynamic_pricing": True, "layout": "v"}
    assert result.experiments == {"layout": "only"}


def test_flag_regions_match_the_delivery_address() -> None:
    local = flag("local", True, rollout=Rollout(regions=("tr",)))

    assert quote(basket(), flags=[local]).feature_flags == {"local": True}
    assert quote(basket(delivery_address=address(city="Izmir")), flags=[local]).feature_flags == {"local": True}
    assert quote(basket(delivery_address=address(city="Paris", country="FR")), flags=[local]).feature_flags == {}


def test_amounts_are_decimals() -> None:
    result = quote(basket())

    assert all(isinstance(value, Decimal) for value in (result.subtotal, result.total_amount, result.tax_amount))
