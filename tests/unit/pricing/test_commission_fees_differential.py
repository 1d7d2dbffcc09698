"""Commission as marketplaces charge it, priced as docs/commission.md says (differential test).

The worlds and baskets of `test_engine_differential` and `test_shipments_differential` (rates, rules,
promotions, coupons, flags, flash offers, price lists, tax-inclusive and exempt lines, compound taxes,
shipping profiles, three currencies) get more commission rates from a stream of their own: named components
(`payment_fee`, `platform_fee`, `pick_fee`), bases (net, gross, gross with delivery), FLAT per unit, line,
shipment and order, with and without bounds, in every dimension. The engine and the reference engine
(tests/unit/pricing/reference_engine/commission.py, written from the docs) must answer byte for byte the
same JSON, or the same refusal. The existing rates alone price as before: test_engine_differential's
byte-for-byte digest of the baskets priced before tax-inclusive prices still holds.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from quote_service.pricing.commission import CommissionRate, Tier
from quote_service.pricing.engine import price_quote
from quote_service.pricing.quote import QuoteRequest
from quote_service.pricing.snapshot import ConfigSnapshot
from tests.unit.pricing.reference_engine.engine import price_quote as reference_price_quote
from tests.unit.pricing.test_engine_differential import BASE, CATEGORIES, REGIONS, SEEDS, SELLERS, baskets, priced
from tests.unit.pricing.test_shipments_differential import shipped_worlds

D = Decimal
NAMES = ("payment_fee", "platform_fee", "pick_fee")


def fee_rate(rng: random.Random, currency: str) -> CommissionRate:
    """A rate of docs/commission.md: a named component, or a category or seller part charged its new ways."""
    kind = rng.choice(["PERCENTAGE", "PERCENTAGE", "FLAT", "FLAT", "TIERED"])
    fields: dict[str, Any] = {
        "id": UUID(int=rng.getrandbits(128)),
        "commission_type": kind,
        "component": rng.choice([*NAMES, *NAMES, "category", "seller"]),
        "currency": currency if rng.random() < 0.95 else None,
        "category_id": rng.choice([None, None, *CATEGORIES]),
        "seller_id": rng.choice([None, None, *SELLERS]),
        "region": rng.choice(REGIONS),
        "min_amount": rng.choice([None, None, D("0.5")]),
        "max_amount": rng.choice([None, None, D("7")]),
        "priority": rng.choice([0, 0, 1]),
        "is_active": rng.random() < 0.95,
        "created_at": BASE - timedelta(days=rng.randint(1, 90)),
        "effective_from": BASE - timedelta(days=rng.randint(100, 400)),
    }
    if kind == "FLAT":
        fields.update(
            rate=rng.choice([D("0.35"), D("1"), D("2.5")]),
            per=rng.choice(["unit", "line", "shipment", "shipment", "order"]),
        )
    elif kind == "TIERED":
        fields.update(rate=None, base=rng.choice(["net", "gross", "gross_with_delivery"]),
                      tiers=(Tier(up_to=D("50"), rate=D("6")), Tier(up_to=None, rate=D("2.5"))))  # fmt: skip
    else:
        fields.update(
            rate=rng.choice([D("2.9"), D("4"), D("12.5")]), base=rng.choice(["net", "gross", "gross_with_delivery"])
        )
    if fields["currency"] is None and (kind != "PERCENTAGE" or fields["min_amount"] or fields["max_amount"]):
        fields["currency"] = currency  # an amount needs its currency (docs/markets.md)
    return CommissionRate(**fields)


def with_fees(worlds: Iterator[tuple[dict[str, Any], QuoteRequest, dict[str, Any]]], seed: int) -> Iterator[Any]:
    """Each world once more, with 1-6 rates of docs/commission.md added (its own random stream)."""
    side = random.Random(seed * 104729 + 29)
    seen: dict[int, dict[str, Any]] = {}
    for world, request, inputs in worlds:
        key = id(world)
        if key not in seen:
            added = [fee_rate(side, world["currency"]) for _ in range(side.randint(1, 6))]
            config = dataclasses.replace(world["config"], rates=[*world["config"].rates, *added])
            snapshot = ConfigSnapshot.build(
                version=config.version,
                rates=config.rates,
                rules=config.rules,
                flags=config.flags,
                coupons=config.coupons,
                price_lists=config.price_lists,
                promotions=list(reversed(config.promotions)),
                shipping_profiles=config.shipping_profiles,
            )
            seen = {key: {**world, "config": config, "snapshot": snapshot}}
        yield seen[key], request, inputs


@pytest.mark.parametrize("seed", [seed if seed == 0 else pytest.param(seed, marks=pytest.mark.slow) for seed in SEEDS])
@pytest.mark.parametrize("shipped", [False, True])
def test_the_engine_charges_fees_and_bases_as_the_reference_does(seed: int, shipped: bool) -> None:
    worlds = with_fees(shipped_worlds(seed) if shipped else baskets(seed), seed)
    compared = with_fees_shown = 0
    for world, request, inputs in worlds:
        new = priced(price_quote, request, world, snapshot=world["snapshot"], **inputs)
        old = priced(reference_price_quote, request, world, config=world["config"], **inputs)
        assert new == old, (request, inputs)
        compared += 1
        with_fees_shown += b'"fees":[' in new
    assert with_fees_shown > compared // 4  # the named fees apply to many baskets, not a handful
