"""The next cheapest step (docs/promotions.md#hints): each kind worked by hand, the order
and the limit, no key without the flag, and the property that a hint's promised saving is what the
quote with the added goods gives."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.pricing.promotions import (
    BuyTarget,
    BuyXGetY,
    FixedPriceBundle,
    FreeDelivery,
    GetTarget,
    Gift,
    GiftStock,
    PercentOff,
    SpendTiers,
    Tier,
)
from quote_service.pricing.quote import Quote
from quote_service.pricing.rules import FreeDeliveryConfig
from tests.unit.pricing.test_engine_promotions import BOOKS
from tests.unit.pricing.test_engine_shipments import STANDARD, profile
from tests.unit.pricing.test_engine_support import D, item, product, promotion, quote, request, rule


def hints(result: Quote) -> list[tuple[str, str, str, str]]:
    assert not isinstance(result.hints, msgspec.UnsetType)
    return [(h.kind, str(h.add_amount), str(h.saves), h.message) for h in result.hints]


def tiers(*steps: tuple[str, str], percent: bool = False) -> SpendTiers:
    made = tuple(
        Tier(min_subtotal=D(minimum), percent=D(value)) if percent else Tier(min_subtotal=D(minimum), amount=D(value))
        for minimum, value in steps
    )
    return SpendTiers(tiers=made, currency="EUR")


def test_no_hints_key_without_the_flag_and_an_empty_list_with_nothing_to_reach() -> None:
    book = product("150.00")
    spend = promotion(tiers(("100", "10"), ("200", "25")))

    plain = quote(request(item(book)), products=[book], promotions=[spend])
    nothing = quote(request(item(book), hints=True), products=[book])

    assert "hints" not in msgspec.to_builtins(plain)
    assert nothing.hints == []


def test_the_next_spend_tier_saves_its_amount_less_the_tier_reached() -> None:
    book = product("150.00")
    amounts = promotion(tiers(("100", "10"), ("200", "25"), ("500", "80")), name="spend")
    percents = promotion(tiers(("100", "5"), ("200", "10"), ("500", "20"), percent=True), name="spend")

    by_amount = quote(request(item(book), hints=True), products=[book], promotions=[amounts])
    by_percent = quote(request(item(book), hints=True), products=[book], promotions=[percents])

    assert hints(by_amount) == [("spend_tier", "50.00", "15.00", "add 50.00 for 25.00 off")]
    # on the 200.00 basket: 10 % is 20.00, the 5 % reached 10.00
    assert hints(by_percent) == [("spend_tier", "50.00", "10.00", "add 50.00 for 10 % off")]
    assert by_amount.total_amount == quote(request(item(book)), products=[book], promotions=[amounts]).total_amount


def test_a_shipments_free_above_and_a_free_delivery_threshold() -> None:
    a, b = product("80.00", seller="s1"), product("30.00", seller="s2")
    over_60 = promotion(FreeDelivery(), name="free over 60", conditions={"min_subtotal": "60", "currency": "EUR"})

    result = quote(
        request(item(a), item(b), hints=True),
        products=[a, b],
        promotions=[over_60],
        shipping_profiles=[profile("s1", STANDARD), profile("s2", STANDARD, n=2)],
    )

    # s1's 80.00 is over 60: waived; s2's Standard fee 4.90 goes at 60.00 (the promotion) or 100.00 (free_above)
    assert hints(result) == [
        ("free_delivery", "30.00", "4.90", "add 30.00 from seller s2 for free delivery"),
        ("free_delivery", "70.00", "4.90", "add 70.00 from seller s2 for free delivery"),
    ]
    assert not isinstance(result.hints, msgspec.UnsetType)
    assert [(h.seller_id, h.promotion_id) for h in result.hints] == [("s2", over_60.id), ("s2", None)]


def test_a_free_delivery_rules_minimum_on_the_goods_after_discounts() -> None:
    book = product("40.00")
    free_from_100 = rule(FreeDeliveryConfig(min_subtotal=D("100.00")))
    ten_off = promotion(PercentOff(percent=D("10")), name="10 %")

    def priced(*extra: str, hinted: bool = False) -> Quote:
        items = [item(book), *(item("wrap", 1, unit_price=price) for price in extra)]
        return quote(request(*items, hints=hinted), products=[book], rules=[free_from_100], promotions=[ten_off])

    # the goods after the 10 % are 36.00: 64.00 more of goods after discounts reach 100.00 (71.11 before the 10 %)
    assert hints(priced(hinted=True)) == [("free_delivery", "64.00", "10.00", "add 64.00 for free delivery")]
    assert (priced("71.10").delivery_fee, priced("71.11").delivery_fee) == (D("10.00"), D("0.00"))


def test_a_bundles_missing_unit_and_a_buy_x_get_ys_missing_units() -> None:
    fifty, forty = product("50.00"), product("40.00")
    bundle = promotion(
        FixedPriceBundle(quantity=3, price=D("100"), currency="EUR", category_ids=BOOKS), name="3 for 100"
    )
    free_third = promotion(
        BuyXGetY(buy=BuyTarget(quantity=2, category_ids=BOOKS), get=GetTarget(quantity=1, category_ids=BOOKS)),
        name="buy 2 get 1",
    )

    bundled = quote(request(item(fifty), item(forty), hints=True), products=[fifty, forty], promotions=[bundle])
    one = quote(request(item(forty), hints=True), products=[forty], promotions=[free_third])

    assert hints(bundled) == [("bundle", "40.00", "30.00", "add 40.00 (1 more) for 3 for 100: 30.00 off")]
    assert hints(one) == [("buy_x_get_y", "80.00", "40.00", "add 80.00 (2 more) for buy 2 get 1: 40.00 off")]


def test_a_gift_within_reach_and_at_most_three_cheapest_first() -> None:
    book = product("150.00")
    mug = GiftStock(
        id="mug", category_id="kitchen", seller_id="s1", is_active=True, stock=5, unit_price=D("12.50"), currency="EUR"
    )
    steps = [
        promotion(Gift(product_id="mug", min_subtotal=D("200"), currency="EUR"), name="mug"),
        promotion(PercentOff(percent=D("10")), name="10 %", conditions={"min_subtotal": "160", "currency": "EUR"}),
        promotion(tiers(("300", "40"))),
        promotion(tiers(("170", "5"))),
    ]

    result = quote(request(item(book), hints=True), products=[book], promotions=steps, gifts={"mug": mug})

    assert hints(result) == [
        ("spend_tier", "10.00", "16.00", "add 10.00 for 10 % off"),
        ("spend_tier", "20.00", "5.00", "add 20.00 for 5.00 off"),
        ("gift", "50.00", "12.50", "add 50.00 for a free gift (mug)"),
    ]


# --- the property ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.integers(100, 20_000), min_size=1, max_size=4),
    minimums=st.lists(st.integers(1, 40_000), min_size=1, max_size=4, unique=True),
    values=st.lists(st.integers(1, 30), min_size=4, max_size=4),
    percent=st.booleans(),
)
def test_a_spend_tiers_promised_saving_is_what_the_quote_with_the_goods_added_gives(
    prices: list[int], minimums: list[int], values: list[int], percent: bool
) -> None:
    catalog = [product(str(Decimal(p) / 100)) for p in prices]
    steps = sorted(minimums)
    config = tiers(*((str(Decimal(m) / 100), str(values[i])) for i, m in enumerate(steps)), percent=percent)
    spend = promotion(config, name="spend")
    items = [item(p) for p in catalog]

    found = quote(request(*items, hints=True), products=catalog, promotions=[spend]).hints
    assert not isinstance(found, msgspec.UnsetType)
    goods = sum((p.current_price for p in catalog), D(0))
    for hint in found:
        added = item("added", 1, unit_price=str(hint.add_amount), category_id="books")
        below = tuple(t for t in config.tiers if t.min_subtotal < goods + hint.add_amount)  # the tiers before the step
        with_step = quote(request(*items, added), products=catalog, promotions=[spend])
        without = [promotion(SpendTiers(tiers=below, currency="EUR"), name="spend")] if below else []
        before = quote(request(*items, added), products=catalog, promotions=without)
        assert with_step.discount_amount - before.discount_amount == hint.saves, hint


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.integers(100, 9_000), min_size=1, max_size=3),
    quantities=st.lists(st.integers(1, 3), min_size=3, max_size=3),
    bundle=st.booleans(),
    group=st.integers(2, 4),
    price=st.integers(50, 15_000),
    off=st.sampled_from(["50", "100"]),
)
def test_a_bundles_or_buy_x_get_ys_promised_saving_is_what_the_added_units_give(
    prices: list[int], quantities: list[int], bundle: bool, group: int, price: int, off: str
) -> None:
    catalog = [product(str(Decimal(p) / 100)) for p in prices]
    if bundle:
        config: FixedPriceBundle | BuyXGetY = FixedPriceBundle(
            quantity=group, price=Decimal(price) / 100, currency="EUR", category_ids=BOOKS
        )
    else:
        config = BuyXGetY(
            buy=BuyTarget(quantity=group - 1, category_ids=BOOKS),
            get=GetTarget(quantity=1, category_ids=BOOKS, percent_off=D(off)),
        )
    deal = promotion(config, name="deal")
    counts = quantities[: len(catalog)]

    result = quote(
        request(*(item(p, n) for p, n in zip(catalog, counts, strict=True)), hints=True),
        products=catalog,
        promotions=[deal],
    )
    assert not isinstance(result.hints, msgspec.UnsetType)
    for hint in result.hints:
        # the cheapest item whose units make up the amount added: those units more of it
        units, chosen = min(
            (k, i) for i, p in enumerate(catalog) for k in range(1, 8) if p.current_price * k == hint.add_amount
        )
        more = [n + units if i == chosen else n for i, n in enumerate(counts)]
        after = quote(
            request(*(item(p, n) for p, n in zip(catalog, more, strict=True))), products=catalog, promotions=[deal]
        )
        assert after.discount_amount - result.discount_amount == hint.saves, hint


@settings(max_examples=40, deadline=None)
@given(goods=st.lists(st.integers(100, 15_000), min_size=1, max_size=3))
def test_a_shipments_free_above_saves_the_fee_the_goods_added_waive(goods: list[int]) -> None:
    sellers = [f"s{n}" for n in range(len(goods))]
    catalog = [product(str(Decimal(g) / 100), seller=s) for g, s in zip(goods, sellers, strict=True)]
    profiles = [profile(s, STANDARD, n=n + 1) for n, s in enumerate(sellers)]
    items = [item(p) for p in catalog]

    result = quote(request(*items, hints=True), products=catalog, shipping_profiles=profiles)
    assert not isinstance(result.hints, msgspec.UnsetType)
    assert result.shipments is not None
    for hint in result.hints:
        added = item("added", 1, unit_price=str(hint.add_amount), seller_id=hint.seller_id)
        after = quote(request(*items, added), products=catalog, shipping_profiles=profiles)
        assert after.shipments is not None
        fee_before = next(s.delivery_fee for s in result.shipments if s.seller_id == hint.seller_id)
        fee_after = next(s.delivery_fee for s in after.shipments if s.seller_id == hint.seller_id)
        assert (fee_before - fee_after, fee_after) == (hint.saves, D("0.00")), hint
