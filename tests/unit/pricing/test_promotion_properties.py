"""Properties of quotes under random promotions (hypothesis), checked without the engine's own code.

Whatever the promotions (bundles, spend tiers, either selection and distribution, groups
included) and the basket: the total is the sum of its parts, the discount never
exceeds the cap, no catalog line goes below its min_price floor, the applied amounts add up to
the discount, BUY_X_GET_Y discounts exactly the cheapest qualifying units (found here by brute
force over every unit), and the result does not depend on the order the promotions come in.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from random import Random
from uuid import UUID

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.pricing.promotions import (
    AmountOff,
    BuyTarget,
    BuyXGetY,
    FixedPriceBundle,
    FreeDelivery,
    GetTarget,
    PercentOff,
    Promotion,
    PromotionConfig,
    SpendTiers,
    Tier,
)
from quote_service.pricing.quote import CatalogProduct, Quote
from tests.unit.pricing.test_engine_support import D, coupon, item, product, promotion, quote, request, snapshot

CATEGORIES = ("books", "toys", "food")
CENT = Decimal("0.01")


@st.composite
def configs(draw: st.DrawFn) -> PromotionConfig:
    config = draw(kinds())
    if not isinstance(config, FreeDelivery) and draw(st.booleans()):
        config = msgspec.structs.replace(config, distribution="even")
    return config


@st.composite
def kinds(draw: st.DrawFn) -> PromotionConfig:
    kind = draw(st.sampled_from(["percent", "amount", "bxgy", "free", "bundle", "tiers"]))
    if kind == "bundle":
        return FixedPriceBundle(
            quantity=draw(st.integers(1, 4)),
            price=Decimal(draw(st.integers(0, 20000))).scaleb(-2),
            currency="EUR",
            category_ids=frozenset(draw(st.sets(st.sampled_from(CATEGORIES), min_size=1))),
        )
    if kind == "tiers":
        low, high = sorted(draw(st.lists(st.integers(0, 50000), min_size=2, max_size=2, unique=True)))
        return SpendTiers(
            tiers=(
                Tier(min_subtotal=Decimal(low).scaleb(-2), amount=Decimal(draw(st.integers(1, 9000))).scaleb(-2)),
                Tier(min_subtotal=Decimal(high).scaleb(-2), percent=Decimal(draw(st.integers(1, 100)))),
            ),
            currency="EUR",
        )
    if kind == "percent":
        limit = draw(st.none() | st.integers(1, 80).map(Decimal))
        return PercentOff(percent=Decimal(draw(st.integers(1, 100))), max_discount=limit)
    if kind == "amount":
        return AmountOff(amount=Decimal(draw(st.integers(1, 9000))).scaleb(-2), currency="EUR")
    if kind == "bxgy":
        buy_categories = frozenset(draw(st.sets(st.sampled_from(CATEGORIES), min_size=1)))
        get_categories = frozenset(draw(st.sets(st.sampled_from(CATEGORIES), min_size=1)))
        return BuyXGetY(
            buy=BuyTarget(quantity=draw(st.integers(1, 3)), category_ids=buy_categories),
            get=GetTarget(
                quantity=draw(st.integers(1, 2)),
                category_ids=get_categories,
                percent_off=Decimal(draw(st.integers(1, 100))),
            ),
            max_applications=draw(st.none() | st.integers(1, 3)),
            selection=draw(st.sampled_from(["cheapest", "most_expensive"])),
        )
    return FreeDelivery()


@st.composite
def promotions(draw: st.DrawFn) -> list[Promotion]:
    found = []
    for n in range(draw(st.integers(1, 6))):
        conditions = {}
        if draw(st.booleans()):
            conditions["category_ids"] = sorted(draw(st.sets(st.sampled_from(CATEGORIES), min_size=1)))
        found.append(
            promotion(
                draw(configs()),
                name=f"p{n}",
                id=UUID(int=draw(st.integers(1, 2**64)) * 8 + n),  # random order, never twice
                priority=draw(st.integers(0, 3)),
                combinable=draw(st.booleans()),
                combines_with_coupons=draw(st.booleans()),
                conditions=conditions,
                group=draw(st.sampled_from([None, "g"])),
            )
        )
    return found


@st.composite
def baskets(draw: st.DrawFn) -> list[tuple[CatalogProduct, int]]:
    lines = []
    for _ in range(draw(st.integers(1, 5))):
        price = Decimal(draw(st.integers(100, 20000))).scaleb(-2)
        floor = (price * Decimal(draw(st.integers(0, 100))) / 100).quantize(CENT, ROUND_FLOOR)
        category = draw(st.sampled_from(CATEGORIES))
        lines.append((product(str(price), min_price=str(floor), category=category), draw(st.integers(1, 6))))
    return lines


def priced(basket: list[tuple[CatalogProduct, int]], promos: list[Promotion], codes: list[str]) -> Quote:
    return quote(
        request(*(item(p, n) for p, n in basket), coupon_codes=codes),
        config=snapshot(promotions=promos, coupons=[coupon("SAVE10"), coupon("FIVE", "FIXED", "5.00")]),
        products=[p for p, _ in basket],
    )


@settings(max_examples=300, deadline=None)
@given(baskets(), promotions(), st.lists(st.sampled_from(["SAVE10", "FIVE"]), max_size=2, unique=True))
def test_totals_caps_and_floors_hold_under_any_promotions(
    basket: list[tuple[CatalogProduct, int]], promos: list[Promotion], codes: list[str]
) -> None:
    result = priced(basket, promos, codes)

    parts = result.subtotal - result.discount_amount + result.tax_amount + result.delivery_fee
    assert result.total_amount == parts + result.small_basket_fee
    assert result.discount_amount == sum((line.discount for line in result.items), D("0"))
    assert result.discount_amount <= (result.subtotal / 2).quantize(CENT, ROUND_FLOOR)
    for line, (p, n) in zip(result.items, basket, strict=True):
        assert line.line_subtotal - line.discount >= (p.min_price * n).quantize(CENT, ROUND_CEILING)
        assert line.discount >= 0
    goods = sum((p.amount for p in result.applied_promotions if p.kind != "FREE_DELIVERY"), D("0"))
    goods += sum((c.amount for c in result.applied_coupons if c.type != "FREE_DELIVERY"), D("0"))
    assert goods == result.discount_amount
    assert result.pricing_breakdown.calculations[-1].running_total == result.total_amount
    chosen = {a.promotion_id for a in result.applied_promotions}
    groups = [p.group for p in promos if p.id in chosen and p.group is not None]
    assert len(groups) == len(set(groups))  # one of a group at most
    if any(not p.combines_with_coupons for p in promos if p.id in chosen):
        assert result.applied_coupons == []


@settings(max_examples=200, deadline=None)
@given(baskets(), promotions(), st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_the_order_promotions_are_loaded_in(
    basket: list[tuple[CatalogProduct, int]], promos: list[Promotion], shuffler: Random
) -> None:
    shuffled = list(promos)
    shuffler.shuffle(shuffled)

    assert msgspec.json.encode(priced(basket, promos, [])) == msgspec.json.encode(priced(basket, shuffled, []))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(100, 5000), st.integers(1, 5)), min_size=1, max_size=5),
    st.integers(1, 3),
    st.integers(1, 2),
)
def test_buy_x_get_y_always_discounts_the_cheapest_qualifying_units(
    lines: list[tuple[int, int]], buy: int, get: int
) -> None:
    books = [(product(str(Decimal(cents).scaleb(-2))), quantity) for cents, quantity in lines]
    books_only = frozenset({"books"})
    deal = BuyXGetY(
        buy=BuyTarget(quantity=buy, category_ids=books_only), get=GetTarget(quantity=get, category_ids=books_only)
    )

    result = priced(books, [promotion(deal)], [])

    units = sorted(p.current_price for p, n in books for _ in range(n))  # every unit, cheapest first
    groups = len(units) // (buy + get)
    free = sum(units[: groups * get], D("0")).quantize(CENT, ROUND_HALF_UP)
    free = min(free, (sum(units, D("0")) / 2).quantize(CENT, ROUND_FLOOR))
    assert result.discount_amount == free
