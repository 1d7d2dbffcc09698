"""Shipments priced as the documentation says (differential test, docs/shipping.md).

The worlds and baskets of `test_engine_differential` (rates, rules, promotions, coupons, flags, flash
offers, price lists, tax-inclusive lines, three currencies) get shipping profiles from a stream of their
own: sellers' and the platform's, for everywhere, countries and cities, in the world's currency or
another, with options fixed, per kg, per km, capped, free above a threshold, express or not; the catalog
products a weight, some items a weight, some requests a choice of option (valid or not). The engine
and the reference engine (tests/unit/pricing/reference_engine/shipments.py, written from the docs)
must answer byte for byte the same JSON, or the same refusal.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
import pytest

from quote_service.pricing.engine import price_quote
from quote_service.pricing.money import minor_units
from quote_service.pricing.quote import QuoteRequest
from quote_service.pricing.shipping import ShippingBook, ShippingOption, ShippingProfile
from tests.unit.pricing.reference_engine.engine import price_quote as reference_price_quote
from tests.unit.pricing.test_engine_differential import BASE, SEEDS, SELLERS, baskets, priced

D = Decimal
CITIES = ("istanbul", "ankara", "berlin")


def amount(rng: random.Random, currency: str, low: int, high: int) -> Decimal:
    digits = minor_units(currency)
    return D(rng.randint(low * 10**digits, high * 10**digits)).scaleb(-digits)


def make_option(rng: random.Random, currency: str, code: str) -> ShippingOption:
    low = rng.randint(0, 5)
    return ShippingOption(
        code=code,
        name=code.title(),
        base_fee=amount(rng, currency, 0, 30),
        per_kg=rng.choice([None, D("0.5"), D("1.25"), D("0.0375")]),
        per_km=rng.choice([None, None, D("0.2"), D("1.5")]),
        max_fee=rng.choice([None, amount(rng, currency, 5, 40)]),
        eta_days_min=low,
        eta_days_max=low + rng.randint(0, 4),
        free_above=rng.choice([None, None, amount(rng, currency, 20, 800)]),
        express=rng.random() < 0.35,
    )


def make_profiles(rng: random.Random, currency: str) -> list[ShippingProfile]:
    profiles = []
    for n in range(rng.choice([0, 1, 2, 3, 4, 6])):
        codes = rng.sample(["standard", "express", "eco", "pickup_point"], rng.randint(1, 3))
        profiles.append(
            ShippingProfile(
                id=UUID(int=rng.getrandbits(128)),
                seller_id=rng.choice([None, *SELLERS]),
                countries=rng.choice([None, None, frozenset({"TR"}), frozenset({"DE", "TR"}), frozenset({"DE"})]),
                regions=rng.choice([None, None, None, frozenset(rng.sample(CITIES, rng.randint(1, 2)))]),
                currency=currency if rng.random() < 0.9 else "USD",
                options=tuple(make_option(rng, currency, code) for code in codes),
                is_active=rng.random() < 0.9,
                created_at=BASE - timedelta(days=rng.choice([1, 2, 3, n + 1])),
            )
        )
    return profiles


def with_shipping(
    rng: random.Random, request: QuoteRequest, profiles: list[ShippingProfile], products: dict[str, Any]
) -> QuoteRequest:
    """The request with some items weighed and, sometimes, an option chosen for one of its sellers
    (mostly one its profiles offer; sometimes an unknown code, or a seller not in the basket)."""
    items = [
        msgspec.structs.replace(item, weight=rng.choice([D("0.25"), D("3"), D("12.5")])) if rng.random() < 0.3 else item
        for item in request.items
    ]
    shipping = None
    if profiles and rng.random() < 0.4:
        sellers = [
            products[item.product_id].seller_id if item.product_id in products else item.seller_id or request.seller_id
            for item in items
        ]
        seller = rng.choice([s for s in sellers if s is not None] or list(SELLERS))
        if rng.random() < 0.1:
            seller = "s-elsewhere"
        offered = [p for p in profiles if p.seller_id in (seller, None)] or profiles
        code = rng.choice(rng.choice(offered).options).code if rng.random() < 0.9 else "next_day"
        shipping = {seller: code}
    return msgspec.structs.replace(request, items=items, shipping=shipping)


def shipped_worlds(seed: int) -> Any:
    side = random.Random(seed * 7919 + 64)
    seen: dict[int, tuple[dict[str, Any], dict[str, Any], Any]] = {}
    for world, request, inputs in baskets(seed):
        key = id(world)
        if key not in seen:
            profiles = make_profiles(side, world["currency"])
            products = {
                pid: msgspec.structs.replace(p, weight=side.choice([None, D("0.5"), D("2.25"), D("7")]))
                for pid, p in world["products_by_id"].items()
            }
            shipped = {
                **world,
                "products_by_id": products,
                "snapshot": dataclasses.replace(world["snapshot"], shipping=ShippingBook.of(profiles)),
                "config": dataclasses.replace(world["config"], shipping_profiles=profiles),
            }
            seen = {key: (world, shipped, profiles)}  # one world at a time: baskets() walks them in turn
        _, shipped, profiles = seen[key]
        yield shipped, with_shipping(side, request, profiles, shipped["products_by_id"]), inputs


@pytest.mark.parametrize("seed", [seed if seed == 0 else pytest.param(seed, marks=pytest.mark.slow) for seed in SEEDS])
def test_the_engine_prices_shipments_as_the_reference_does(seed: int) -> None:
    compared = with_shipments = refused = 0
    for world, request, inputs in shipped_worlds(seed):
        new = priced(price_quote, request, world, snapshot=world["snapshot"], **inputs)
        old = priced(reference_price_quote, request, world, config=world["config"], **inputs)
        assert new == old, (request, inputs)
        compared += 1
        with_shipments += b'"shipments":' in new
        refused += new.startswith(b"[")
    assert with_shipments > compared // 5  # the profiles apply to many baskets, not a handful
    assert refused < compared * 2 // 5  # a fifth of the baskets are refused without shipping too
