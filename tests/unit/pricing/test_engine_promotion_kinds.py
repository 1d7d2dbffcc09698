"""The quote engine on the promotions of docs/promotions.md: bundles, spend tiers, `selection`,
`distribution: even`, groups and budgets (docs/promotions.md#merchandisers-promotions)."""

from __future__ import annotations

from decimal import Decimal

from quote_service.pricing.promotions import AmountOff, FixedPriceBundle, Gift, GiftStock, SpendTiers, Tier
from quote_service.pricing.quote import CustomerContext
from tests.unit.pricing.test_engine_promotions import BOOKS, applied, buy_get, discounts, percent, rejected
from tests.unit.pricing.test_engine_support import D, item, product, promotion, quote, request


def books(*prices: str, min_price: str = "0"):  # type: ignore[no-untyped-def]
    return [product(price, category="books", min_price=min_price) for price in prices]


def priced(catalog: list, *promotions, quantities: list[int] | None = None):  # type: ignore[no-untyped-def]
    counts = quantities or [1] * len(catalog)
    return quote(
        request(*(item(p, n) for p, n in zip(catalog, counts, strict=True))),
        products=catalog,
        promotions=list(promotions),
    )


def bundle(quantity: int, price: str, **fields: object) -> FixedPriceBundle:
    return FixedPriceBundle(quantity=quantity, price=D(price), currency="EUR", category_ids=BOOKS, **fields)  # type: ignore[arg-type]


def test_a_bundle_prices_the_most_expensive_complete_group_at_its_price() -> None:
    result = priced(books("50.00", "40.00", "30.00", "20.00"), promotion(bundle(3, "100.00"), name="any 3 for 100"))

    # 50 + 40 + 30 = 120 for 100: 20.00 off those three by their worth, the 20.00 book pays in full
    assert applied(result) == [("any 3 for 100", D("20.00"))]
    assert discounts(result) == [D("8.33"), D("6.67"), D("5.00"), D("0.00")]


def test_a_bundle_counts_units_and_makes_as_many_groups_as_there_are() -> None:
    result = priced(books("30.00"), promotion(bundle(2, "50.00")), quantities=[5])

    assert applied(result) == [("FIXED_PRICE_BUNDLE", D("20.00"))]  # two groups of 60.00 for 50.00 each


def test_a_bundle_that_would_cost_more_than_its_units_or_lacks_a_group_is_not_offered() -> None:
    dearer = priced(books("20.00", "20.00"), promotion(bundle(2, "45.00")))
    short = priced(books("50.00", "40.00"), promotion(bundle(3, "10.00")))

    for result in (dearer, short):
        assert (applied(result), rejected(result), result.discount_amount) == ([], [], D("0.00"))


def test_spend_tiers_apply_the_highest_tier_reached_and_never_two() -> None:
    tiers = SpendTiers(
        tiers=(Tier(min_subtotal=D("500"), amount=D("50")), Tier(min_subtotal=D("1000"), percent=D("12"))),
        currency="EUR",
    )
    spend = promotion(tiers, name="spend")

    assert applied(priced(books("499.99"), spend)) == []
    assert applied(priced(books("600.00"), spend)) == [("spend", D("50.00"))]
    assert applied(priced(books("1000.00", "250.00"), spend)) == [("spend", D("150.00"))]


def test_a_basket_exactly_at_a_spend_tiers_minimum_reaches_that_tier() -> None:
    # docs/promotions.md: a tier applies from its min_subtotal on (goods >= min_subtotal), the boundary included
    tiers = SpendTiers(
        tiers=(Tier(min_subtotal=D("500"), amount=D("50")), Tier(min_subtotal=D("1000"), percent=D("12"))),
        currency="EUR",
    )
    spend = promotion(tiers, name="spend")

    assert applied(priced(books("500.00"), spend)) == [("spend", D("50.00"))]
    assert applied(priced(books("1000.00"), spend)) == [("spend", D("120.00"))]


def test_buy_x_get_y_may_give_the_most_expensive_units() -> None:
    catalog = books("30.00", "10.00")

    cheapest = priced(catalog, promotion(buy_get(1, 1, off="50")))
    dearest = priced(catalog, promotion(buy_get(1, 1, off="50", selection="most_expensive")))

    assert discounts(cheapest) == [D("0.00"), D("5.00")]
    assert discounts(dearest) == [D("15.00"), D("0.00")]


def test_an_even_distribution_gives_equal_parts_the_first_lines_the_remainder_never_below_min_price() -> None:
    even = promotion(AmountOff(amount=D("5.00"), currency="EUR", distribution="even"), name="five")

    spread = priced(books("30.00", "20.00", "10.00"), even)
    floored = priced([*books("30.00", "20.00"), *books("10.00", min_price="9.00")], even)

    assert discounts(spread) == [D("1.67"), D("1.67"), D("1.66")]
    assert discounts(floored) == [D("1.67"), D("1.67"), D("1.00")]
    assert applied(floored) == [("five", D("4.34"))]


def test_only_the_best_of_a_group_applies_the_others_are_best_in_group() -> None:
    small = promotion(percent("10"), name="small", group="spring", priority=9)
    big = promotion(percent("20"), name="big", group="spring")
    other = promotion(AmountOff(amount=D("1.00"), currency="EUR"), name="other", group="autumn", priority=-1)

    result = priced(books("100.00"), small, big, other)

    assert sorted(applied(result)) == [("big", D("20.00")), ("other", D("1.00"))]
    assert rejected(result) == [("small", "BEST_IN_GROUP", "big of its group 'spring' takes 10.00 more off")]


def test_a_promotion_whose_budget_cannot_cover_its_discount_is_budget_exhausted() -> None:
    catalog = books("100.00")
    ten = AmountOff(amount=D("10.00"), currency="EUR")

    covered = priced(catalog, promotion(ten, name="ten", budget_remaining=D("10"), budget_currency="EUR"))
    short = priced(catalog, promotion(ten, name="ten", budget_remaining=D("9.99"), budget_currency="EUR"))
    spent = priced(catalog, promotion(ten, name="ten", budget_remaining=Decimal(0), budget_currency="EUR"))

    assert applied(covered) == [("ten", D("10.00"))]
    assert rejected(short) == [
        ("ten", "BUDGET_EXHAUSTED", "its budget has 9.99 left, less than the 10.00 it would give")
    ]
    assert rejected(spent) == [("ten", "BUDGET_EXHAUSTED", "its budget is used up")]
    assert short.discount_amount == spent.discount_amount == D("0.00")


def test_without_the_promotion_over_its_budget_the_others_are_chosen_again() -> None:
    over = promotion(percent("30"), name="over", combinable=False, budget_remaining=D("5"), budget_currency="EUR")
    stack = promotion(percent("10"), name="stack")

    result = priced(books("100.00"), over, stack)

    assert applied(result) == [("stack", D("10.00"))]
    assert [reason for _, reason, _ in rejected(result)] == ["BUDGET_EXHAUSTED"]


def mug(stock: int, *, active: bool = True) -> dict[str, GiftStock]:
    return {"mug": GiftStock(id="mug", category_id="home", seller_id="s-1", is_active=active, stock=stock)}


def test_a_gift_adds_a_free_line_beside_the_deal_and_changes_no_amount() -> None:
    catalog = books("100.00")
    gift = promotion(Gift(product_id="mug", quantity=2), name="mugs")
    ten = promotion(percent("10"), name="ten")
    plain = quote(request(item(catalog[0])), products=catalog, promotions=[ten])

    result = quote(request(item(catalog[0])), products=catalog, promotions=[ten, gift], gifts=mug(5))

    assert applied(result) == [("ten", D("10.00")), ("mugs", D("0.00"))]
    line = result.items[-1]
    assert (line.product_id, line.quantity, line.line_subtotal, line.tax, line.is_gift) == (
        "mug",
        2,
        D("0"),
        D("0"),
        True,
    )
    assert (line.price_source, line.promotion_id) == ("gift", gift.id)
    assert result.total_amount == plain.total_amount
    assert result.commission_breakdown == plain.commission_breakdown


def test_a_gift_out_of_stock_inactive_or_under_its_minimum_is_left_out() -> None:
    gift = promotion(Gift(product_id="mug", quantity=2, min_subtotal=D("50"), currency="EUR"), name="mugs")

    def shown(stock: dict[str, GiftStock] | None, price: str = "100.00") -> list[tuple[str, str, str]]:
        basket = books(price)
        result = quote(request(item(basket[0])), products=basket, promotions=[gift], gifts=stock)
        assert len(result.items) == 1
        return rejected(result)

    assert shown(mug(1)) == [("mugs", "GIFT_UNAVAILABLE", "its gift is out of stock (1 left)")]
    assert shown(mug(9, active=False)) == [("mugs", "GIFT_UNAVAILABLE", "its gift is not an active product")]
    assert shown(None) == [("mugs", "GIFT_UNAVAILABLE", "its gift is not an active product")]
    assert shown(mug(9), "49.99") == []


def test_a_customer_at_a_promotions_per_customer_limit_is_refused_it_in_the_quote() -> None:
    catalog = books("100.00")
    once = promotion(AmountOff(amount=D("10.00"), currency="EUR"), name="once", per_customer_limit=1)

    fresh = quote(request(item(catalog[0])), products=catalog, promotions=[once])
    used = quote(
        request(item(catalog[0])),
        products=catalog,
        promotions=[once],
        customer=CustomerContext(customer_id="c-1", promotion_uses={once.id: 1}),
    )

    assert applied(fresh) == [("once", D("10.00"))]
    assert rejected(used) == [
        ("once", "USAGE_LIMIT", "used up for this customer: its limit of 1 orders a customer is reached")
    ]
