"""The quote engine, step 5a (API.md §14): automatic promotions, how they combine, and with coupons."""

from __future__ import annotations

from decimal import Decimal

from quote_service.pricing.promotions import AmountOff, BuyTarget, BuyXGetY, FreeDelivery, GetTarget, PercentOff
from quote_service.pricing.quote import CustomerContext, Quote
from tests.unit.test_engine_support import NOW, D, coupon, item, product, promotion, quote, request

BOOKS = frozenset({"books"})


def discounts(result: Quote) -> list[Decimal]:
    return [line.discount for line in result.items]


def applied(result: Quote) -> list[tuple[str, Decimal]]:
    return [(p.name, p.amount) for p in result.applied_promotions]


def percent(value: str, **fields: object) -> PercentOff:
    return PercentOff(percent=D(value), **fields)  # type: ignore[arg-type]


def buy_get(buy: int, get: int, *, off: str = "100", categories: frozenset[str] = BOOKS, **fields: object) -> BuyXGetY:
    return BuyXGetY(
        buy=BuyTarget(quantity=buy, category_ids=categories),
        get=GetTarget(quantity=get, category_ids=categories, percent_off=D(off)),
        **fields,  # type: ignore[arg-type]
    )


def test_a_percent_off_promotion_applies_without_a_code_and_spreads_like_a_coupon() -> None:
    result = quote(
        request(item("a", 1, unit_price="30.00"), item("b", 1, unit_price="10.00")),
        promotions=[promotion(percent("10"), name="Spring")],
    )

    assert discounts(result) == [D("3.00"), D("1.00")]
    assert result.discount_amount == D("4.00")
    assert applied(result) == [("Spring", D("4.00"))]
    assert [line.tax for line in result.items] == [D("4.86"), D("1.62")]  # 18 % of the net lines
    steps = [(c.step, c.amount) for c in result.pricing_breakdown.calculations]
    assert ("promotions", D("-4.00")) in steps
    assert ("discount", D("0.00")) in steps
    assert result.pricing_breakdown.calculations[-1].running_total == result.total_amount


def test_combinable_promotions_stack_by_priority_each_on_what_is_left() -> None:
    lines = request(item("a", 1, unit_price="100.00"))
    ten_off = promotion(AmountOff(amount=D("10.00"), currency="EUR"), name="ten", priority=1)
    twenty_percent = promotion(percent("20"), name="twenty", priority=5)

    result = quote(lines, promotions=[ten_off, twenty_percent])

    assert applied(result) == [("twenty", D("20.00")), ("ten", D("10.00"))]  # 20 % of 100, then 10 of 80
    assert result.discount_amount == D("30.00")


def test_the_best_non_combinable_deal_wins_when_it_beats_the_stack() -> None:
    lines = request(item("a", 1, unit_price="100.00"))
    stack = [promotion(percent("10"), name="a"), promotion(percent("5"), name="b")]
    big = promotion(percent("20"), name="big", combinable=False)
    small = promotion(percent("12"), name="small", combinable=False, priority=9)

    result = quote(lines, promotions=[*stack, big, small])

    assert applied(result) == [("big", D("20.00"))]
    assert sorted(p.reason for p in result.rejected_promotions) == ["BETTER_DEAL"] * 3
    assert result.discount_amount == D("20.00")


def test_the_stack_is_kept_when_the_non_combinable_deal_does_not_beat_it() -> None:
    lines = request(item("a", 1, unit_price="100.00"))
    stack = [
        promotion(percent("10"), name="a", priority=2),
        promotion(AmountOff(amount=D("9.00"), currency="EUR"), name="b"),
    ]
    equal = promotion(percent("19"), name="equal", combinable=False)  # 19.00 = 10.00 + 9.00: not better

    result = quote(lines, promotions=[*stack, equal])

    assert sorted(applied(result)) == [("a", D("10.00")), ("b", D("9.00"))]
    assert [(p.promotion_id, p.reason) for p in result.rejected_promotions] == [(equal.id, "BETTER_DEAL")]


def test_a_promotion_that_does_not_combine_with_coupons_rejects_them() -> None:
    result = quote(
        request(item("a", 1, unit_price="100.00"), coupon_codes=["SAVE10", "NOPE"]),
        coupons=[coupon("SAVE10")],
        promotions=[promotion(percent("15"), combines_with_coupons=False)],
    )

    assert [(c.code, c.reason) for c in result.rejected_coupons] == [
        ("SAVE10", "NOT_COMBINABLE"),
        ("NOPE", "NOT_FOUND"),
    ]
    assert result.discount_amount == D("15.00")


def test_coupons_apply_after_combinable_promotions_on_what_is_left() -> None:
    result = quote(
        request(item("a", 1, unit_price="100.00"), coupon_codes=["SAVE10"]),
        coupons=[coupon("SAVE10")],
        promotions=[promotion(percent("20"))],
    )

    assert [(c.code, c.amount) for c in result.applied_coupons] == [("SAVE10", D("8.00"))]
    assert result.discount_amount == D("28.00")
    steps = {c.step: c.amount for c in result.pricing_breakdown.calculations}
    assert (steps["promotions"], steps["discount"]) == (D("-20.00"), D("-8.00"))


def test_promotions_and_coupons_share_the_fifty_percent_cap() -> None:
    result = quote(
        request(item("a", 1, unit_price="100.00"), coupon_codes=["SAVE10"]),
        coupons=[coupon("SAVE10")],
        promotions=[promotion(percent("45"))],
    )

    assert result.discount_amount == D("50.00")
    assert [(c.code, c.amount) for c in result.applied_coupons] == [("SAVE10", D("5.00"))]


def test_a_promotion_never_takes_a_line_below_its_min_price() -> None:
    cheap_floor = product("100.00", min_price="95.00")

    result = quote(request(item(cheap_floor, 2)), products=[cheap_floor], promotions=[promotion(percent("30"))])

    assert result.items[0].discount == D("10.00")  # 200.00 down to 2 x 95.00


def test_buy_two_get_one_discounts_the_cheapest_qualifying_units() -> None:
    result = quote(
        request(
            item("pricey", 1, unit_price="30.00", category_id="books"),
            item("cheap", 1, unit_price="10.00", category_id="books"),
            item("middle", 1, unit_price="20.00", category_id="books"),
            item("toy", 1, unit_price="5.00", category_id="toys"),
        ),
        promotions=[promotion(buy_get(2, 1), name="3 for 2")],
    )

    assert discounts(result) == [D("0.00"), D("10.00"), D("0.00"), D("0.00")]
    assert applied(result) == [("3 for 2", D("10.00"))]


def test_buy_x_get_y_applies_once_per_complete_group_up_to_max_applications() -> None:
    books = item("book", 7, unit_price="12.00", category_id="books")

    twice = quote(request(books), promotions=[promotion(buy_get(2, 1))])
    once = quote(request(books), promotions=[promotion(buy_get(2, 1, max_applications=1))])
    half = quote(request(books), promotions=[promotion(buy_get(2, 1, off="50"))])

    assert twice.discount_amount == D("24.00")  # 7 units: two groups of 2 + 1
    assert once.discount_amount == D("12.00")
    assert half.discount_amount == D("12.00")


def test_buy_x_get_y_with_no_complete_group_is_not_eligible() -> None:
    result = quote(
        request(item("book", 2, unit_price="12.00", category_id="books")), promotions=[promotion(buy_get(2, 1))]
    )

    assert result.applied_promotions == []
    assert result.rejected_promotions == []
    assert [c.step for c in result.pricing_breakdown.calculations if c.step == "promotions"] == []


def test_free_delivery_waives_the_fee_and_is_not_part_of_the_discount() -> None:
    result = quote(request(item("a", 1, unit_price="80.00")), promotions=[promotion(FreeDelivery(), name="ship")])

    assert result.delivery_fee == D("0.00")
    assert result.discount_amount == D("0.00")
    assert applied(result) == [("ship", D("10.00"))]
    assert result.total_amount == D("80.00") + D("14.40")


def test_conditions_decide_eligibility() -> None:
    lines = request(item("a", 1, unit_price="60.00", category_id="books"))
    promotions = [
        promotion(percent("10"), name="big basket", conditions={"min_subtotal": "100.00", "currency": "EUR"}),
        promotion(percent("10"), name="try only", conditions={"currency": "TRY"}),
        promotion(percent("10"), name="toys", conditions={"category_ids": ["toys"]}),
        promotion(percent("10"), name="gold group", conditions={"customer_groups": ["gold"]}),
        promotion(percent("10"), name="app only", conditions={"channels": ["app"]}),
        promotion(percent("10"), name="vip", conditions={"customer_segments": ["VIP"]}),
        promotion(percent("10"), name="over", ends_at=NOW),
        promotion(percent("10"), name="off", is_active=False),
    ]

    result = quote(lines, promotions=promotions, customer=CustomerContext(customer_id="c-1", segment="vip"))

    assert applied(result) == [("vip", D("6.00"))]


def test_a_basket_exactly_at_a_promotions_minimum_subtotal_gets_it() -> None:
    from_100 = [
        promotion(percent("10"), name="from 100", conditions={"min_subtotal": "100.00", "currency": "EUR"}, priority=1),
        promotion(percent("5"), name="from 50", conditions={"min_subtotal": "50.00", "currency": "EUR"}),
    ]

    at = quote(request(item("a", 1, unit_price="100.00")), promotions=from_100)
    below = quote(request(item("a", 1, unit_price="99.99")), promotions=from_100)

    assert applied(at) == [("from 100", D("10.00")), ("from 50", D("4.50"))]  # the minimum is inclusive
    assert applied(below) == [("from 50", D("5.00"))]


def test_a_used_up_promotion_is_rejected_with_usage_limit() -> None:
    used_up = promotion(percent("10"), usage_limit=3, times_used=3)

    result = quote(request(item("a", 1, unit_price="60.00")), promotions=[used_up])

    assert [(p.promotion_id, p.reason) for p in result.rejected_promotions] == [(used_up.id, "USAGE_LIMIT")]
    assert result.discount_amount == D("0.00")


def test_a_category_promotion_discounts_only_its_lines() -> None:
    result = quote(
        request(item("b", 1, unit_price="50.00", category_id="books"), item("t", 1, unit_price="50.00")),
        promotions=[promotion(percent("10"), conditions={"category_ids": ["books"]})],
    )

    assert discounts(result) == [D("5.00"), D("0.00")]
