"""The quote engine, step 5a (docs/promotions.md): automatic promotions, how they combine, and with coupons."""

from __future__ import annotations

from decimal import Decimal

from quote_service.pricing.promotions import AmountOff, BuyTarget, BuyXGetY, FreeDelivery, GetTarget, PercentOff
from quote_service.pricing.quote import CustomerContext, Quote
from quote_service.pricing.rules import FreeDeliveryConfig, TaxRateConfig
from tests.unit.pricing.test_engine_support import NOW, D, coupon, item, product, promotion, quote, request, rule

BOOKS = frozenset({"books"})


def discounts(result: Quote) -> list[Decimal]:
    return [line.discount for line in result.items]


def applied(result: Quote) -> list[tuple[str, Decimal]]:
    return [(p.name, p.amount) for p in result.applied_promotions]


def rejected(result: Quote) -> list[tuple[str, str, str]]:
    return [(p.name, p.reason, p.detail) for p in result.rejected_promotions]


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
    # big: 80.00 + 14.40 + 10.00 = 104.40; the stack: 85.50 + 15.39 + 10.00 = 110.89; small: 88.00 + 15.84 + 10.00
    assert sorted(rejected(result)) == [
        ("a", "BETTER_DEAL", "beaten by big: 6.49 less to pay"),
        ("b", "BETTER_DEAL", "beaten by big: 6.49 less to pay"),
        ("small", "BETTER_DEAL", "beaten by big: 9.44 less to pay"),
    ]
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
    assert result.rejected_promotions[0].detail == "as good as a + b, which goes first"  # same total: the stack


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


# --- The best deal is what the customer pays in the end (docs/promotions.md#the-best-deal) ------------


def test_the_best_deal_counts_the_coupons_a_promotion_would_refuse() -> None:
    """docs/promotions.md's worked example: 20 % beats 3-for-2 on the promotions alone (18.00 to
    15.00), but it refuses the coupon; 3-for-2 with the coupon costs the customer 5.31 less."""
    books = [
        item(name, 1, unit_price=price, category_id="books")
        for name, price in [("a", "45.00"), ("b", "30.00"), ("c", "15.00")]
    ]
    alone = promotion(percent("20"), name="20 % alone", combinable=False, combines_with_coupons=False)
    three_for_two = promotion(buy_get(2, 1), name="3 for 2")

    result = quote(
        request(*books, coupon_codes=["SAVE10"]), coupons=[coupon("SAVE10")], promotions=[alone, three_for_two]
    )

    # 3 for 2: the 15.00 book free; SAVE10 takes 10 % of the 75.00 left (4.50 + 3.00); goods 67.50,
    # tax 18 % of 40.50 and 27.00 (7.29 + 4.86), delivery 10.00: 89.65. 20 % alone: 72.00 + 12.96 + 10.00 = 94.96.
    assert applied(result) == [("3 for 2", D("15.00"))]
    assert [(c.code, c.amount) for c in result.applied_coupons] == [("SAVE10", D("7.50"))]
    assert discounts(result) == [D("4.50"), D("3.00"), D("15.00")]
    assert (result.discount_amount, result.tax_amount, result.total_amount) == (D("22.50"), D("12.15"), D("89.65"))
    assert rejected(result) == [
        (
            "20 % alone",
            "BETTER_DEAL",
            "your coupons do not apply with it; beaten by 3 for 2 with your coupons: 5.31 less to pay",
        )
    ]


def test_without_the_coupon_the_bigger_discount_still_wins() -> None:
    books = [
        item(name, 1, unit_price=price, category_id="books")
        for name, price in [("a", "45.00"), ("b", "30.00"), ("c", "15.00")]
    ]
    alone = promotion(percent("20"), name="20 % alone", combinable=False, combines_with_coupons=False)
    three_for_two = promotion(buy_get(2, 1), name="3 for 2")

    result = quote(request(*books), promotions=[alone, three_for_two])

    # 72.00 + 12.96 + 10.00 = 94.96 against 75.00 + 13.50 + 10.00 = 98.50
    assert applied(result) == [("20 % alone", D("18.00"))]
    assert result.total_amount == D("94.96")
    assert rejected(result) == [("3 for 2", "BETTER_DEAL", "beaten by 20 % alone: 3.54 less to pay")]


def test_the_best_deal_counts_each_lines_tax_not_the_goods_alone() -> None:
    """10.50 off a book (8 % tax) is the larger discount; 10.00 off a charger (18 %) saves more in the end."""
    lines = request(
        item("charger", 1, unit_price="100.00", category_id="electronics"),
        item("book", 1, unit_price="100.00", category_id="books"),
    )
    charger = promotion(
        AmountOff(amount=D("10.00"), currency="EUR"),
        name="charger",
        combinable=False,
        conditions={"category_ids": ["electronics"]},
    )
    book = promotion(
        AmountOff(amount=D("10.50"), currency="EUR"),
        name="book",
        combinable=False,
        conditions={"category_ids": ["books"]},
    )

    result = quote(lines, promotions=[charger, book], rules=[rule(TaxRateConfig(rate=D("8")), category_id="books")])

    # charger: 190.00 + 16.20 + 8.00 + 10.00 = 224.20; book: 189.50 + 18.00 + 7.16 + 10.00 = 224.66
    assert applied(result) == [("charger", D("10.00"))]
    assert result.total_amount == D("224.20")
    assert rejected(result) == [("book", "BETTER_DEAL", "beaten by charger: 0.46 less to pay")]


def test_the_best_deal_counts_the_delivery_fee_a_discount_brings_back() -> None:
    """12 % takes the goods under free delivery's 90.00: the customer pays less with 5 %."""
    five = promotion(percent("5"), name="5 %")
    twelve = promotion(percent("12"), name="12 %", combinable=False)

    result = quote(
        request(item("a", 1, unit_price="100.00")),
        promotions=[five, twelve],
        rules=[rule(FreeDeliveryConfig(min_subtotal=D("90.00")))],
    )

    # 5 %: 95.00 + 17.10, delivery free = 112.10; 12 %: 88.00 + 15.84 + 10.00 = 113.84
    assert applied(result) == [("5 %", D("5.00"))]
    assert (result.delivery_fee, result.total_amount) == (D("0.00"), D("112.10"))
    assert rejected(result) == [("12 %", "BETTER_DEAL", "beaten by 5 %: 1.74 less to pay")]


def test_a_promotion_that_refuses_coupons_loses_to_coupons_that_save_more() -> None:
    alone = promotion(percent("5"), name="5 % alone", combinable=False, combines_with_coupons=False)

    result = quote(
        request(item("a", 1, unit_price="100.00"), coupon_codes=["SAVE10"]),
        coupons=[coupon("SAVE10")],
        promotions=[alone],
    )

    # the coupon: 90.00 + 16.20 + 10.00 = 116.20; the promotion: 95.00 + 17.10 + 10.00 = 122.10
    assert applied(result) == []
    assert [(c.code, c.amount) for c in result.applied_coupons] == [("SAVE10", D("10.00"))]
    assert rejected(result) == [
        ("5 % alone", "BETTER_DEAL", "your coupons do not apply with it; beaten by your coupons: 5.90 less to pay")
    ]


def test_a_tie_keeps_the_stack_then_the_higher_priority() -> None:
    lines = request(item("a", 1, unit_price="100.00"))
    stack = promotion(percent("10"), name="stack")
    first = promotion(percent("10"), name="first", combinable=False, priority=2)
    second = promotion(percent("10"), name="second", combinable=False, priority=1)

    with_stack = quote(lines, promotions=[second, stack, first])
    alone_only = quote(lines, promotions=[second, first])

    assert applied(with_stack) == [("stack", D("10.00"))]
    assert applied(alone_only) == [("first", D("10.00"))]
    assert rejected(alone_only) == [("second", "BETTER_DEAL", "as good as first, which goes first")]


def test_every_promotion_left_out_says_why() -> None:
    floored = product("50.00", min_price="50.00", category="toys")
    promotions = [
        promotion(percent("10"), name="books", priority=9, conditions={"category_ids": ["books"]}),
        promotion(percent("10"), name="toys", priority=8, conditions={"category_ids": ["toys"]}),
        promotion(FreeDelivery(), name="ship", priority=6),
        promotion(FreeDelivery(), name="ship again", priority=5),
        promotion(percent("10"), name="spent", usage_limit=3, times_used=3),
    ]
    lines = request(item("a", 1, unit_price="100.00", category_id="books"), item(floored, 1))

    result = quote(lines, products=[floored], promotions=promotions)

    assert applied(result) == [("books", D("10.00")), ("ship", D("10.00"))]
    assert rejected(result) == [
        ("toys", "NOTHING_LEFT", "its lines are at their min_price"),
        ("ship again", "NOTHING_LEFT", "the delivery fee is already waived by ship"),
        ("spent", "USAGE_LIMIT", "used up: its limit of 3 orders is reached"),
    ]


def test_a_promotion_after_the_cap_or_worth_less_than_a_cent_says_so() -> None:
    capped = quote(
        request(item("a", 1, unit_price="100.00")),
        promotions=[promotion(percent("50"), name="half", priority=1), promotion(percent("10"), name="after")],
    )
    tiny = quote(request(item("a", 1, unit_price="0.40")), promotions=[promotion(percent("1"), name="1 %")])

    assert rejected(capped) == [
        ("after", "NOTHING_LEFT", "the discounts before it reached the maximum discount (50.00)")
    ]
    assert rejected(tiny) == [("1 %", "NOTHING_LEFT", "it takes nothing off what is left of its lines")]


def test_a_line_held_at_its_min_price_says_so() -> None:
    floored = product("95.50", min_price="57.30")
    others = [product("120.00"), product("110.00")]
    basket = [floored, *others]

    result = quote(request(*(item(p) for p in basket)), products=basket, promotions=[promotion(buy_get(2, 1))])

    # The "free" book gives only what is above its min_price: 95.50 - 57.30 = 38.20.
    assert discounts(result) == [D("38.20"), D("0.00"), D("0.00")]
    assert [line.at_min_price for line in result.items] == [True, False, False]


def test_on_a_large_basket_a_sellers_own_promotion_still_discounts_only_its_lines() -> None:
    """Past a few lines the quote indexes its lines (`Targets`): a seller's own promotion keeps to its
    seller's lines there too, a BUY_X_GET_Y's groups count the units of its own lines only."""
    mine = [product("10.00", seller="seller-1") for _ in range(12)]
    theirs = [product("10.00", seller="seller-2") for _ in range(12)]
    owned = [
        promotion(percent("10"), name="own percent", seller_id="seller-1", priority=2),
        promotion(buy_get(2, 1, off="100"), name="own buy 2 get 1", seller_id="seller-1", priority=1),
    ]
    others = [promotion(FreeDelivery(), name="free delivery")]  # a third met: 24 lines x 3 met are indexed
    result = quote(request(*(item(p) for p in mine + theirs)), products=mine + theirs, promotions=owned + others)
    shown = discounts(result)
    assert all(amount > 0 for amount in shown[:12])
    assert shown[12:] == [D("0.00")] * 12
    own = {name: amount for name, amount in applied(result) if name.startswith("own")}
    assert own == {"own percent": D("12.00"), "own buy 2 get 1": D("36.00")}  # 10 % of 120.00, then 4 of 12 units free
