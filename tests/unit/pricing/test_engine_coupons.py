"""The quote engine, step 5 (docs/pricing.md Coupons): spread, remainder, caps, floors, rejections."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from quote_service.pricing.quote import CustomerContext, EngineDefaults, Quote
from quote_service.pricing.rules import FreeDeliveryConfig
from tests.unit.pricing.test_engine_support import NOW, D, coupon, item, offer, product, quote, request, rule


def discounts(result: Quote) -> list[Decimal]:
    return [line.discount for line in result.items]


def test_a_percentage_coupon_is_spread_over_the_lines_by_value() -> None:
    result = quote(
        request(item("a", 1, unit_price="30.00"), item("b", 1, unit_price="10.00"), coupon_codes=["SAVE10"]),
        coupons=[coupon("SAVE10")],
    )

    assert discounts(result) == [D("3.00"), D("1.00")]
    assert result.discount_amount == D("4.00")
    assert [(c.code, c.type, c.amount) for c in result.applied_coupons] == [("SAVE10", "PERCENTAGE", D("4.00"))]
    assert result.total_amount == D("40.00") - D("4.00") + D("6.48") + D("10.00") + D("5.00")


def test_the_rounding_remainder_goes_to_the_last_line() -> None:
    lines = [item(name, 1, unit_price="10.00") for name in "abc"]

    result = quote(request(*lines, coupon_codes=["TEN"]), coupons=[coupon("TEN", "FIXED", "10.00")])

    assert discounts(result) == [D("3.33"), D("3.33"), D("3.34")]


def test_tax_is_charged_on_the_line_after_its_discount() -> None:
    result = quote(request(item("a", 1, unit_price="100.00"), coupon_codes=["SAVE10"]), coupons=[coupon("SAVE10")])

    assert result.items[0].tax == D("16.20")  # 18 % of 90.00


def test_codes_are_case_insensitive() -> None:
    result = quote(request(item("a", 1, unit_price="100.00"), coupon_codes=[" save10 "]), coupons=[coupon("SAVE10")])

    assert [c.code for c in result.applied_coupons] == ["SAVE10"]


def test_a_percentage_coupon_stops_at_its_max_discount() -> None:
    result = quote(
        request(item("a", 1, unit_price="200.00"), coupon_codes=["HALF"]),
        coupons=[coupon("HALF", value="50", max_discount=D("15.00"), currency="EUR")],
    )

    assert result.discount_amount == D("15.00")


def test_a_fixed_coupon_never_exceeds_the_cap() -> None:
    result = quote(
        request(item("a", 1, unit_price="30.00"), coupon_codes=["BIG"]), coupons=[coupon("BIG", "FIXED", "100.00")]
    )

    assert result.discount_amount == D("15.00")  # 50 % of 30.00


def test_coupons_apply_in_order_on_what_is_left() -> None:
    result = quote(
        request(item("a", 1, unit_price="100.00"), coupon_codes=["TENOFF", "PCT10"]),
        coupons=[coupon("TENOFF", "FIXED", "10.00"), coupon("PCT10")],
    )

    assert [c.amount for c in result.applied_coupons] == [D("10.00"), D("9.00")]
    assert result.discount_amount == D("19.00")


def test_the_total_discount_is_capped_at_the_max_discount_percentage() -> None:
    result = quote(
        request(item("a", 1, unit_price="100.00"), coupon_codes=["A", "B"]),
        coupons=[coupon("A", value="40"), coupon("B", value="40")],
    )

    assert [c.amount for c in result.applied_coupons] == [D("40.00"), D("10.00")]
    assert result.discount_amount == D("50.00")


def test_the_cap_follows_the_configured_percentage_and_rounds_down() -> None:
    result = quote(
        request(item("a", 1, unit_price="0.03"), coupon_codes=["ALL"]),
        coupons=[coupon("ALL", value="100")],
        defaults=EngineDefaults(currency="EUR", max_discount_percentage=D("50")),
    )

    assert result.discount_amount == D("0.01")  # 50 % of 0.03 = 0.015, never rounded up to 0.02


def test_a_coupon_with_nothing_left_under_the_cap_is_not_applicable() -> None:
    result = quote(
        request(item("a", 1, unit_price="100.00"), coupon_codes=["A", "B"]),
        coupons=[coupon("A", value="50"), coupon("B", value="10")],
    )

    assert [(c.code, c.reason) for c in result.rejected_coupons] == [("B", "NOT_APPLICABLE")]


def test_no_catalog_line_goes_below_its_min_price() -> None:
    floored = product("100.00", min_price="95.00")
    free = product("100.00")

    result = quote(
        request(item(floored, 2), item(free, 2), coupon_codes=["SAVE20"]),
        products=[floored, free],
        coupons=[coupon("SAVE20", value="20")],
    )

    # 20 % of 400.00 = 80.00, 40.00 per line by value; the floored line can give only 10.00.
    assert discounts(result) == [D("10.00"), D("40.00")]
    assert result.applied_coupons[0].amount == D("50.00")
    assert result.items[0].line_subtotal - result.items[0].discount == D("190.00")


def test_a_coupon_that_would_go_below_every_floor_is_not_applicable() -> None:
    floored = product("100.00", min_price="100.00")

    result = quote(request(item(floored, 1), coupon_codes=["SAVE10"]), products=[floored], coupons=[coupon("SAVE10")])

    assert result.discount_amount == D("0.00")
    assert [(c.code, c.reason) for c in result.rejected_coupons] == [("SAVE10", "NOT_APPLICABLE")]


def test_the_remainder_skips_a_last_line_that_sits_at_its_floor() -> None:
    floored = product("10.00", min_price="10.00")
    lines = [item("a", 1, unit_price="10.00"), item("b", 1, unit_price="10.00"), item(floored, 1)]

    result = quote(
        request(*lines, coupon_codes=["FIVE"]), products=[floored], coupons=[coupon("FIVE", "FIXED", "5.00")]
    )

    assert discounts(result) == [D("1.67"), D("1.66"), D("0.00")]
    assert result.discount_amount == D("3.33")


def test_flash_sale_lines_take_no_coupon() -> None:
    phone = product("100.00")

    result = quote(
        request(item(phone, 2), coupon_codes=["SAVE10"]),
        products=[phone],
        flash={phone: offer(phone, "60.00", limit=1)},
        coupons=[coupon("SAVE10")],
    )

    assert discounts(result) == [D("0.00"), D("10.00")]


def test_a_coupon_for_a_basket_of_flash_units_only_is_not_applicable() -> None:
    phone = product("100.00")

    result = quote(
        request(item(phone, 1), coupon_codes=["SAVE10"]),
        products=[phone],
        flash={phone: offer(phone, "60.00")},
        coupons=[coupon("SAVE10")],
    )

    assert [(c.code, c.reason) for c in result.rejected_coupons] == [("SAVE10", "NOT_APPLICABLE")]


def test_a_category_coupon_discounts_only_its_categories() -> None:
    result = quote(
        request(
            item("a", 1, unit_price="50.00", category_id="books"),
            item("b", 1, unit_price="50.00", category_id="toys"),
            coupon_codes=["BOOKS"],
        ),
        coupons=[coupon("BOOKS", value="20", category_ids=frozenset({"books"}))],
    )

    assert discounts(result) == [D("10.00"), D("0.00")]


@pytest.mark.parametrize(
    ("codes", "config", "reasons"),
    [
        (["NOPE"], {}, [("NOPE", "NOT_FOUND")]),
        (["A", "a"], {"valid_from": NOW - timedelta(days=1)}, [("A", "DUPLICATE")]),
        (["A"], {"is_active": False}, [("A", "INACTIVE")]),
        (["A"], {"valid_from": NOW + timedelta(days=1)}, [("A", "NOT_STARTED")]),
        (["A"], {"valid_to": NOW}, [("A", "EXPIRED")]),
        (["A"], {"usage_limit": 5, "times_used": 5}, [("A", "USAGE_LIMIT")]),
        (["A"], {"per_customer_limit": 2}, [("A", "USAGE_LIMIT")]),
        (["A"], {"min_subtotal": D("100.01"), "currency": "EUR"}, [("A", "MIN_SUBTOTAL")]),
        (["A"], {"category_ids": frozenset({"toys"})}, [("A", "NOT_APPLICABLE")]),
        (["A"], {"currency": "USD"}, [("A", "NOT_APPLICABLE")]),
    ],
)
def test_rejected_coupons_say_why(codes: list[str], config: dict[str, object], reasons: list[tuple[str, str]]) -> None:
    customer = CustomerContext(customer_id="c-1", coupon_uses={"A": 2})

    result = quote(
        request(item("p", 1, unit_price="100.00", category_id="books"), coupon_codes=codes),
        coupons=[coupon("A", **config)],
        customer=customer,
    )

    assert [(c.code, c.reason) for c in result.rejected_coupons] == reasons


def test_the_min_subtotal_is_inclusive() -> None:
    result = quote(
        request(item("p", 1, unit_price="100.00"), coupon_codes=["A"]),
        coupons=[coupon("A", min_subtotal=D("100.00"), currency="EUR")],
    )

    assert result.rejected_coupons == []


def test_a_rejected_coupon_does_not_fail_the_quote_and_others_still_apply() -> None:
    result = quote(request(item("p", 1, unit_price="100.00"), coupon_codes=["NOPE", "A"]), coupons=[coupon("A")])

    assert [c.code for c in result.applied_coupons] == ["A"]
    assert [c.code for c in result.rejected_coupons] == ["NOPE"]


def test_a_free_delivery_coupon_zeroes_the_delivery_fee() -> None:
    result = quote(
        request(item("p", 1, unit_price="100.00"), coupon_codes=["SHIP"], is_express_delivery=True),
        coupons=[coupon("SHIP", "FREE_DELIVERY", "0")],
    )

    assert result.delivery_fee == D("0.00")
    assert result.discount_amount == D("0.00")
    assert [(c.code, c.type, c.amount) for c in result.applied_coupons] == [("SHIP", "FREE_DELIVERY", D("20.00"))]
    assert result.total_amount == D("118.00")


def test_a_free_delivery_coupon_on_an_already_free_delivery_is_not_applicable() -> None:
    free = rule(FreeDeliveryConfig(min_subtotal=D("50.00")))

    result = quote(
        request(item("p", 1, unit_price="100.00"), coupon_codes=["SHIP"]),
        rules=[free],
        coupons=[coupon("SHIP", "FREE_DELIVERY", "0")],
    )

    assert result.delivery_fee == D("0.00")
    assert [(c.code, c.reason) for c in result.rejected_coupons] == [("SHIP", "NOT_APPLICABLE")]


def test_the_free_delivery_rule_counts_the_goods_after_discounts() -> None:
    free = rule(FreeDeliveryConfig(min_subtotal=D("100.00")))

    result = quote(request(item("p", 1, unit_price="100.00"), coupon_codes=["A"]), rules=[free], coupons=[coupon("A")])

    assert result.delivery_fee == D("10.00")  # 90.00 after the coupon is below 100.00


def test_tiny_shares_never_make_a_line_discount_negative() -> None:
    lines = [item(name, 1, unit_price="10.00") for name in "abcd"]

    result = quote(request(*lines, coupon_codes=["TINY"]), coupons=[coupon("TINY", "FIXED", "0.02")])

    # 0.005 each: three shares round up to 0.01, the last line cannot give back -0.01; the one before it does.
    assert discounts(result) == [D("0.01"), D("0.01"), D("0.00"), D("0.00")]


def test_a_remainder_the_last_line_cannot_take_moves_to_the_line_before() -> None:
    nearly_floored = product("10.00", min_price="9.99")
    lines = [item(f"line-{n}", 1, unit_price="10.00") for n in range(9)]

    result = quote(
        request(*lines, item(nearly_floored, 1), coupon_codes=["TINY"]),
        products=[nearly_floored],
        coupons=[coupon("TINY", "FIXED", "0.04")],
    )

    assert discounts(result) == [D("0.00")] * 8 + [D("0.03"), D("0.01")]


def test_a_remainder_moved_off_the_last_line_never_takes_a_line_below_its_min_price() -> None:
    lines = [
        product("3.16", min_price="2.84"),  # x3: 9.48, room 0.96
        product("0.07"),  # no floor: room 0.07
        product("3.86", min_price="3.67"),  # x2: 7.72, room 0.38
        product("2.00", min_price="1.90"),  # x3: 6.00, room 0.30
    ]
    quantities = [3, 1, 2, 3]

    result = quote(
        request(*map(item, lines, quantities), coupon_codes=["FIVE"]),
        products=lines,
        coupons=[coupon("FIVE", value="5")],
    )

    # 5 % of 23.27 = 1.16. Exact shares 0.4726, 0.0035, 0.3848 (clipped at its room, 0.38) and 0.2991:
    # rounded 0.47 + 0.00 + 0.38 + 0.30 = 1.15, so the last unclipped line would take 0.31 > its 0.30 room.
    # The 0.01 it cannot take skips the 3.86 line (already at its floor) and goes to the 0.07 line.
    assert discounts(result) == [D("0.47"), D("0.01"), D("0.38"), D("0.30")]
    assert result.discount_amount == D("1.16")
    floors = [D("8.52"), D("0.00"), D("7.34"), D("5.70")]
    assert all(line.line_subtotal - line.discount >= floor for line, floor in zip(result.items, floors, strict=True))
