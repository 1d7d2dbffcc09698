"""The best landed offer (docs/offers.md#best-landed): an item naming only its product is sold from an offer
whose landed price (the line's goods plus the fee its seller's shipment would charge for it alone) is a
minimum over the eligible offers (those with stock for the quantity, the product's own included), ties to
more stock, then seller_id.

The property is checked against the engine itself: each eligible offer is priced as a one-item quote that
names it, and the quote's line subtotal plus delivery fee is that offer's landed price."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from uuid import UUID

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.errors import ValidationFailed
from quote_service.pricing.engine import price_quote, region_for
from quote_service.pricing.offers import Choice, OfferBook, SnapOffer, choose_offers, line_alone, with_offers
from quote_service.pricing.quote import CatalogProduct, CustomerContext
from quote_service.pricing.shipping import ShippingOption
from tests.unit.pricing.test_engine_shipments import profile
from tests.unit.pricing.test_engine_support import EUR_DEFAULTS, NOW, QUOTE_ID, D, item, product, request, snapshot

SELLERS = ("s1", "s2", "s3", "s4")
money = st.integers(min_value=100, max_value=20_000).map(lambda cents: Decimal(cents) / 100)


@st.composite
def options(draw: st.DrawFn) -> ShippingOption:
    return ShippingOption(
        code=draw(st.sampled_from(["standard", "economy", "courier"])),
        name="Option",
        base_fee=draw(money),
        per_kg=draw(st.none() | money),
        max_fee=draw(st.none() | money),
        free_above=draw(st.none() | money),
        eta_days_min=1,
        eta_days_max=draw(st.integers(1, 9)),
        express=draw(st.booleans()),
    )


@st.composite
def markets(draw: st.DrawFn) -> tuple[CatalogProduct, list[SnapOffer], dict[str, int], list, int, bool]:
    own = draw(st.sampled_from(SELLERS))
    base = product(str(draw(money)), seller=own)
    base = msgspec.structs.replace(base, weight=draw(st.none() | st.sampled_from([D("0.5"), D("2"), D("7.25")])))
    others = draw(st.lists(st.sampled_from([s for s in SELLERS if s != own]), unique=True, max_size=3))
    offers = [
        SnapOffer(
            id=UUID(int=n + 1),
            product_id=base.id,
            seller_id=seller,
            current_price=draw(money),
            min_price=D(0),
            stock=draw(st.integers(0, 6)),
        )
        for n, seller in enumerate(others)
    ]
    profiled = draw(st.lists(st.sampled_from(SELLERS), unique=True, max_size=4))
    profiles = []
    for n, seller in enumerate(profiled):
        chosen = draw(st.lists(options(), min_size=1, max_size=3, unique_by=lambda o: o.code))
        profiles.append(profile(seller, *chosen, n=n + 1))
    return base, offers, {str(base.id): draw(st.integers(0, 6))}, profiles, draw(st.integers(1, 5)), draw(st.booleans())


def landed_by_the_engine(config, base: CatalogProduct, choice: Choice, quantity: int, express: bool) -> Decimal:
    """The offer's landed price as a quote that names it charges: its line plus its delivery fee."""
    req = request(item(base, quantity), is_express_delivery=express)
    q = price_quote(
        req, snapshot=config, products={str(base.id): base}, flash={}, customer=CustomerContext(customer_id="c-1"),
        defaults=EUR_DEFAULTS, now=NOW, quote_id=QUOTE_ID, offers=[choice],
    )  # fmt: skip
    return q.items[0].line_subtotal + q.delivery_fee


@settings(max_examples=300)
@given(markets())
def test_the_chosen_offer_is_a_minimum_of_landed_price_over_the_eligible_offers(market) -> None:  # type: ignore[no-untyped-def]
    base, offers, default_stock, profiles, quantity, express = market
    config = snapshot(shipping_profiles=profiles)
    book = OfferBook.of(offers, default_stock)
    config = replace(config, offers=book)
    req = request(item(base, quantity), is_express_delivery=express)
    region = region_for(req, snapshot=config, defaults=EUR_DEFAULTS, now=NOW)
    if book is None:
        assert choose_offers(req, {str(base.id): base}, book, region, config.shipping) is None
        return
    choices = choose_offers(req, {str(base.id): base}, book, region, config.shipping)
    assert choices is not None
    chosen = choices[0]
    assert chosen is not None
    assert chosen.selection == "best_landed"
    eligible = [Choice(None, base.seller_id, "best_landed")] if default_stock[str(base.id)] >= quantity else []
    eligible += [Choice(o, o.seller_id, "best_landed") for o in offers if o.stock >= quantity]
    if not eligible:
        assert chosen.offer is None  # none with enough stock: the default offer
        return
    landed = {c.seller_id: landed_by_the_engine(config, base, c, quantity, express) for c in eligible}
    assert landed[chosen.seller_id] == min(landed.values())
    stock = {c.seller_id: (default_stock[str(base.id)] if c.offer is None else c.offer.stock) for c in eligible}
    best = min(landed, key=lambda s: (landed[s], -stock[s], s))
    assert chosen.seller_id == best


def test_an_item_naming_an_offer_or_a_seller_gets_it_and_the_lines_say_so() -> None:
    base = product("40.00", seller="s1")
    cheap = SnapOffer(
        id=UUID(int=7), product_id=base.id, seller_id="s2", current_price=D("30.00"), min_price=D(0), stock=1
    )
    book = OfferBook.of([cheap], {str(base.id): 5})
    config = replace(snapshot(shipping_profiles=[profile("s2")]), offers=book)
    found = {str(base.id): base}
    req = request(item(base, 1, offer_id=str(cheap.id)), item(base, 2, seller_id="s1"))
    region = region_for(req, snapshot=config, defaults=EUR_DEFAULTS, now=NOW)
    choices = choose_offers(req, found, book, region, config.shipping)
    assert choices == [Choice(cheap, "s2", "named"), Choice(None, "s1", "named")]
    q = price_quote(
        req, snapshot=config, products=found, flash={}, customer=CustomerContext(customer_id="c-1"),
        defaults=EUR_DEFAULTS, now=NOW, quote_id=QUOTE_ID, offers=choices,
    )  # fmt: skip
    lines = with_offers(q.items, req, choices)
    assert [(x.seller_id, x.unit_price, x.offer_id, x.offer_selection) for x in lines] == [
        ("s2", D("30.00"), cheap.id, "named"),
        ("s1", D("40.00"), None, "named"),
    ]
    # The offer's seller owns its line downstream: its shipment, its per-seller totals.
    assert [(s.seller_id, s.product_ids) for s in q.shipments] == [("s2", [str(base.id)]), ("s1", [str(base.id)])]
    assert [(s.seller_id, s.goods) for s in q.sellers] == [("s2", D("30.00")), ("s1", D("80.00"))]


def test_an_unknown_offer_or_a_seller_without_one_is_refused_naming_the_item() -> None:
    base = product("40.00", seller="s1")
    other = product("10.00", seller="s1")
    theirs = SnapOffer(
        id=UUID(int=9), product_id=other.id, seller_id="s2", current_price=D("9"), min_price=D(0), stock=5
    )
    mine = SnapOffer(id=UUID(int=8), product_id=base.id, seller_id="s3", current_price=D("9"), min_price=D(0), stock=5)
    book = OfferBook.of([theirs, mine])
    config = replace(snapshot(), offers=book)
    found = {str(base.id): base, str(other.id): other}
    req = request(item(base, 1, offer_id=str(theirs.id)), item(base, 1, seller_id="s9"), item(base, 1, offer_id="x"))
    region = region_for(req, snapshot=config, defaults=EUR_DEFAULTS, now=NOW)
    with pytest.raises(ValidationFailed) as refused:
        choose_offers(req, found, book, region, config.shipping)
    assert [d.field for d in refused.value.details] == ["items[0].offer_id", "items[1].seller_id", "items[2].offer_id"]
    # No offers anywhere: an item naming one is refused all the same, one without is priced as ever.
    assert choose_offers(request(item(base)), found, None, region, None) is None
    with pytest.raises(ValidationFailed):
        choose_offers(request(item(base, offer_id=str(mine.id))), found, None, region, None)


@pytest.mark.parametrize(("goods", "fee"), [(D("100.00"), D("0.00")), (D("99.99"), D("4.90"))])
def test_an_offers_landed_fee_is_free_from_free_above_on_as_its_shipment_is(goods: Decimal, fee: Decimal) -> None:
    """Goods exactly at an option's free_above land free, as the engine's shipment charges them (a quote of the
    offer's line alone): the landing and the shipment share one rule, `>=`."""
    flat = ShippingOption(
        code="standard", name="Standard", base_fee=D("4.90"), eta_days_min=2, eta_days_max=4, free_above=D("100.00")
    )
    base = product(str(goods), seller="s2")
    config = snapshot(shipping_profiles=[profile("s2", flat)])
    req = request(item(base, 1))
    region = region_for(req, snapshot=config, defaults=EUR_DEFAULTS, now=NOW)
    assert line_alone(req, region, config.shipping, "s2", goods, None).fee == fee
    assert landed_by_the_engine(config, base, Choice(None, "s2", "named"), 1, False) == goods + fee
