"""Properties of marketplace quotes (hypothesis, docs/shipping.md), checked without the engine's own code.

Whatever the sellers, profiles, promotions and coupons: the shipments partition the lines (each line in
its seller's shipment, once), each shipment's goods are its lines after discounts, the delivery fee is
the exact sum of the shipments' fees, every per-seller field sums to the quote's own figure, and
splitting a basket across sellers never changes the goods' prices (only the fees and who is paid).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.pricing.promotions import AmountOff, FreeDelivery, PercentOff, Promotion
from quote_service.pricing.quote import EngineDefaults, Quote, QuoteItemIn
from quote_service.pricing.shipping import ShippingOption, ShippingProfile
from tests.unit.pricing.test_engine_support import NOW, D, coupon, promotion, quote, request

pytestmark = pytest.mark.slow  # a minute or two: in `make test`, not the unit loop (docs/development.md)

SELLERS = (None, "s1", "s2", "s3", "s4")
CATEGORIES = ("books", "toys")
CENTS = st.integers(1, 40_000).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def options(draw: st.DrawFn) -> tuple[ShippingOption, ...]:
    found = []
    for code in draw(st.lists(st.sampled_from(["standard", "express", "eco"]), min_size=1, max_size=3, unique=True)):
        low = draw(st.integers(0, 3))
        found.append(
            ShippingOption(
                code=code,
                name=code,
                base_fee=draw(st.integers(0, 3000).map(lambda n: Decimal(n).scaleb(-2))),
                per_kg=draw(st.none() | st.sampled_from([D("0.5"), D("1.75")])),
                max_fee=draw(st.none() | st.sampled_from([D("9.99"), D("25")])),
                eta_days_min=low,
                eta_days_max=low + draw(st.integers(0, 3)),
                free_above=draw(st.none() | CENTS),
                express=code == "express",
            )
        )
    return tuple(found)


@st.composite
def profiles(draw: st.DrawFn) -> list[ShippingProfile]:
    return [
        ShippingProfile(
            id=UUID(int=n + 1),
            seller_id=draw(st.sampled_from(SELLERS)),
            countries=draw(st.sampled_from([None, frozenset({"TR"}), frozenset({"DE"})])),
            regions=None,
            currency="EUR",
            options=draw(options()),
            created_at=NOW - timedelta(days=n),
        )
        for n in range(draw(st.integers(1, 4)))
    ]


@st.composite
def items(draw: st.DrawFn) -> list[QuoteItemIn]:
    return [
        QuoteItemIn(
            product_id=f"p{n}",
            quantity=draw(st.integers(1, 5)),
            unit_price=draw(CENTS),
            category_id=draw(st.sampled_from(CATEGORIES)),
            seller_id=draw(st.sampled_from(SELLERS)),
            weight=draw(st.none() | st.sampled_from([D("0.2"), D("4")])),
        )
        for n in range(draw(st.integers(1, 8)))
    ]


@st.composite
def deals(draw: st.DrawFn) -> list[Promotion]:
    kinds = draw(st.lists(st.sampled_from(["percent", "amount", "free", "free_books"]), max_size=3))
    made = {
        "percent": PercentOff(percent=D(draw(st.integers(1, 30)))),
        "amount": AmountOff(amount=D("7.50"), currency="EUR"),
        "free": FreeDelivery(),
        "free_books": FreeDelivery(),
    }
    return [
        promotion(made[kind], conditions={"category_ids": ["books"]} if kind == "free_books" else {}) for kind in kinds
    ]


def priced(basket: list[QuoteItemIn], found: list[ShippingProfile], offers: list[Promotion], codes: list[str]) -> Quote:
    return quote(
        request(*basket, coupon_codes=codes, is_express_delivery=len(basket) % 2 == 0),
        shipping_profiles=found,
        promotions=offers,
        coupons=[coupon("P10"), coupon("SHIP", "FREE_DELIVERY", "0")],
        defaults=EngineDefaults(currency="EUR", commission_tax_rate=D("20")),
    )


COUPONS = st.lists(st.sampled_from(["P10", "SHIP"]), max_size=2, unique=True)


@settings(max_examples=300, deadline=None)
@given(items(), profiles(), deals(), COUPONS)
def test_shipments_partition_the_lines_and_every_sum_is_exact(
    basket: list[QuoteItemIn], found: list[ShippingProfile], offers: list[Promotion], codes: list[str]
) -> None:
    q = priced(basket, found, offers, codes)
    if not q.shipments:
        return  # no profile fits this basket: it reads as without profiles (tested elsewhere)
    sellers = {item.product_id: item.seller_id for item in basket}
    placed = Counter(pid for s in q.shipments for pid in s.product_ids)
    assert placed == Counter(list(sellers))  # every line in one shipment, once
    for shipment in q.shipments:
        assert {sellers[pid] for pid in shipment.product_ids} == {shipment.seller_id}
        mine = [line for line in q.items if line.product_id in shipment.product_ids]
        assert shipment.goods == sum((line.line_subtotal - line.discount for line in mine), D(0))
        assert shipment.delivery_fee >= 0
    assert len({s.seller_id for s in q.shipments}) == len(q.shipments)
    assert q.delivery_fee == sum((s.delivery_fee for s in q.shipments), D(0))
    assert q.total_amount == q.subtotal - q.discount_amount + q.tax_amount + q.delivery_fee + q.small_basket_fee
    figures = {
        "goods": q.subtotal,
        "discount": q.discount_amount,
        "tax": q.tax_amount,
        "delivery_fee": q.delivery_fee,
        "commission": q.commission_breakdown.total_commission,
    }
    for name, figure in figures.items():
        assert sum((getattr(s, name) for s in q.sellers), D(0)) == figure, name
    assert q.commission_breakdown.logistics_commission == sum((s.logistics_commission for s in q.shipments), D(0))


@settings(max_examples=200, deadline=None)
@given(items(), profiles(), deals(), COUPONS, st.sampled_from(SELLERS))
def test_splitting_a_basket_across_sellers_never_changes_the_goods_prices(
    basket: list[QuoteItemIn], found: list[ShippingProfile], offers: list[Promotion], codes: list[str], one: str | None
) -> None:
    split = priced(basket, found, offers, codes)
    together = priced([msgspec.structs.replace(item, seller_id=one) for item in basket], found, offers, codes)

    def goods(q: Quote) -> list[tuple[Decimal, ...]]:
        return [(line.unit_price, line.line_subtotal, line.discount, line.tax) for line in q.items]

    assert goods(split) == goods(together)
    assert (split.subtotal, split.discount_amount, split.tax_amount) == (
        together.subtotal,
        together.discount_amount,
        together.tax_amount,
    )
