"""Pricing a quote leaves no reference cycles behind: everything it made is freed as it returns.

A cycle is freed only by the garbage collector, and under load that is costly twice over: each
young-generation collection traverses every object still waiting for it (with ~60 quotes in
flight, thousands), and a quote's objects freed late are freed cold. One closure in the former
compiled (mypyc) engine left ~11 such objects per quote that met a BUY_X_GET_Y promotion: ~7 µs
of collections per quote in a server (docs/hot-path.md#garbage). These baskets are the
differential test's (every rule, rate, coupon, promotion and price-list kind).
"""

from __future__ import annotations

import random
from typing import Any
from uuid import UUID

import pytest

from quote_service.errors import ServiceError
from quote_service.pricing.engine import price_quote
from tests.garbage import cyclic_garbage, kinds
from tests.unit.pricing.test_engine_differential import DEFAULTS, instants, make_basket, make_world


def baskets(seed: int, worlds: int = 12, per_world: int = 25) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(world, inputs of one basket), made before anything is measured."""
    rng = random.Random(seed)
    made = []
    for _ in range(worlds):
        world = make_world(rng)
        world["products_by_id"] = {str(product.id): product for product in world["products"]}
        # One instant per world, as in a server (the plan keeps a Resolution per interval between
        # window edges, and one dropped for another is garbage once, not per quote).
        now = rng.choice(instants(rng, world["config"]))
        for _ in range(per_world):
            request, customer = make_basket(rng, world)
            inputs = {
                "request": request,
                "customer": customer,
                "defaults": rng.choice(DEFAULTS),
                "now": now,
                "quote_id": UUID(int=rng.getrandbits(128)),
            }
            made.append((world, inputs))
    return made


@pytest.mark.parametrize("seed", range(2))
def test_pricing_leaves_nothing_for_the_garbage_collector(seed: int) -> None:
    work = baskets(seed)
    priced = refused = 0
    with cyclic_garbage() as cyclic:
        for world, inputs in work:
            try:
                price_quote(
                    inputs["request"], snapshot=world["snapshot"], products=world["products_by_id"],
                    flash=world["flash"], customer=inputs["customer"], defaults=inputs["defaults"],
                    now=inputs["now"], quote_id=inputs["quote_id"],
                )  # fmt: skip
                priced += 1
            except ServiceError:
                refused += 1
    assert priced > 3 * refused  # most baskets were priced, through every step
    assert not cyclic, kinds(cyclic)
